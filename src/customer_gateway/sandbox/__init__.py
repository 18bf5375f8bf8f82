"""Faithful emulators of the vendor APIs, for the demo, frontend work and tests.

Nothing here imports the gateway: the emulators follow the vendors' wire behaviour, not our code.
"""
