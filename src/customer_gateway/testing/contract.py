"""The whole contract: subclass it, name your cases, and pytest runs every test for each case.

Example:
    from customer_gateway.testing import ConnectorCase, ConnectorContract

    class TestAcmeConnector(ConnectorContract):
        cases = [ConnectorCase(kind="acme", sandbox=AcmeSandbox, ...)]
"""

from __future__ import annotations

from customer_gateway.testing.changes import ChangeContract
from customer_gateway.testing.failures import FailureContract
from customer_gateway.testing.sign_in import SignInContract

__all__ = ["ConnectorContract"]


class ConnectorContract(SignInContract, ChangeContract, FailureContract):
    """Every test of the contract, run once per case in `cases` (and per declared flow)."""
