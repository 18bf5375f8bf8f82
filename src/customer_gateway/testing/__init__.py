"""A contract suite every connector kind passes: the built-in kinds, and a plugin's.

It needs pytest (a test dependency of the suite that runs it, not of the gateway): importing
`customer_gateway` never imports this package. A case names the kind, a way to start its
vendor's sandbox (an `Emulator`), the backend settings for a sandbox at a URL, and two demo
customers; the suite runs the gateway in front of that sandbox on a real 127.0.0.1 port.

Example:
    from customer_gateway.testing import ConnectorCase, ConnectorContract

    class TestAcmeConnector(ConnectorContract):
        cases = [ConnectorCase(kind="acme", sandbox=AcmeSandbox, ...)]
"""

import pytest

# The suite's asserts explain their failures as a test module's do (pytest rewrites only test
# modules and plugins on its own); registered before the modules are imported.
pytest.register_assert_rewrite(
    *(
        f"customer_gateway.testing.{module}"
        for module in ("case", "changes", "failures", "gateway", "harness", "sign_in")
    )
)

from customer_gateway.testing.case import ConnectorCase  # noqa: E402
from customer_gateway.testing.contract import ConnectorContract  # noqa: E402

__all__ = ["ConnectorCase", "ConnectorContract"]
