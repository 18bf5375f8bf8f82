"""The GraphQL operations the contract sends, written as a frontend would send them."""

from __future__ import annotations

from dataclasses import dataclass

from customer_gateway.connectors.protocol import Capability
from customer_gateway.domain import ChangeKind

__all__ = [
    "CREDENTIALS",
    "CUSTOMER",
    "ME",
    "REFRESH",
    "REFUSALS",
    "SIGN_IN",
    "UPDATE",
    "UPDATE_INPUT",
    "Credential",
]

SIGN_IN = """
mutation SignIn($b: String!, $u: String!, $p: String!) {
  signIn(backend: $b, username: $u, password: $p) {
    token { accessToken refreshToken tokenType expiresAt refreshExpiresAt }
    customer { id nativeId email phoneNumber firstName lastName backend { name } }
    userErrors { field message code }
  }
}"""

ME = """
query Me($b: String!) {
  me(backend: $b) {
    id nativeId email phoneNumber firstName lastName pendingEmailChange pendingPhoneNumberChange
  }
}"""
CUSTOMER = "query Customer($id: ID!) { customer(id: $id) { email nativeId } }"
REFRESH = """
mutation Refresh($b: String!, $t: String) {
  refreshToken(backend: $b, refreshToken: $t) {
    token { accessToken expiresAt } customer { email } userErrors { field code }
  }
}"""
UPDATE = """
mutation Update($id: ID!, $input: UpdateCustomerInput!) {
  updateCustomer(id: $id, input: $input) {
    customer { firstName lastName } userErrors { field message code }
  }
}"""
_CONTACT = "customer { email phoneNumber pendingEmailChange pendingPhoneNumberChange }"


@dataclass(frozen=True)
class Credential:
    """How one credential shows in the API and in the messages that carry its codes."""

    field: str  # on Customer, and the request's argument
    channel: str  # "email" | "sms"
    purpose: str  # of the gateway's message with the code
    invalid: str  # a value that can never be right

    @property
    def pending(self) -> str:
        """Customer's flag while a change waits for its code."""
        return f"pending{self._noun}Change"

    @property
    def request(self) -> str:
        return f"request{self._noun}Change"

    @property
    def confirm(self) -> str:
        return f"confirm{self._noun}Change"

    @property
    def _noun(self) -> str:
        return self.field[0].upper() + self.field[1:]

    @property
    def request_document(self) -> str:
        return (
            f"mutation Request($id: ID!, $value: String!) {{ {self.request}(id: $id, "
            f"{self.field}: $value) {{ pending expiresAt {_CONTACT} userErrors "
            "{ field message code } } }"
        )

    @property
    def confirm_document(self) -> str:
        return (
            f"mutation Confirm($id: ID!, $code: String!) {{ {self.confirm}(id: $id, code: $code) "
            f"{{ {_CONTACT} userErrors {{ field message code }} }} }}"
        )


CREDENTIALS = {
    ChangeKind.EMAIL: Credential("email", "email", "email_change", invalid="not an email"),
    ChangeKind.PHONE_NUMBER: Credential("phoneNumber", "sms", "phone_number_change", "+1 555"),
}

# Each field of UpdateCustomerInput: the connector's name for it, and a value to send.
UPDATE_INPUT: dict[str, tuple[str, object]] = {
    "first_name": ("firstName", "Augusta"),
    "last_name": ("lastName", "King"),
    "locale": ("locale", "fr"),
    "gender": ("gender", "female"),
    "birth_date": ("birthDate", "1815-12-10"),
    "address": ("address", {"city": "London"}),
    "marketing_opt_in": ("marketingOptIn", True),
}

# Capability -> an operation only that capability serves: its document, whether it takes the
# signed-in customer's id ($id) or the backend's name ($b), and who asks ("admin" with the admin
# key, "customer" with the customer's token, or "anyone").
REFUSALS: dict[Capability, tuple[str, str, str]] = {
    Capability.CUSTOMER_BY_ID: (
        "query($id: ID!) { customer(id: $id) { email } }",
        "id",
        "admin",
    ),
    Capability.LIST_CUSTOMERS: (
        "query($b: String!) { customers(backend: $b) { totalCount } }",
        "b",
        "admin",
    ),
    Capability.LEVELS: ("query($b: String!) { levels(backend: $b) { name } }", "b", "anyone"),
    Capability.ACTIVATION: (
        "mutation($id: ID!) { deactivateCustomer(id: $id) { customer { id } } }",
        "id",
        "admin",
    ),
    Capability.ASSIGN_LEVEL: (
        'mutation($id: ID!) { assignLevel(id: $id, levelId: "1") { customer { id } } }',
        "id",
        "admin",
    ),
    Capability.UPDATE_CUSTOMER: (
        'mutation($id: ID!) { updateCustomer(id: $id, input: {firstName: "A"}) '
        "{ customer { id } } }",
        "id",
        "customer",
    ),
    Capability.CHANGE_EMAIL: (
        'mutation($id: ID!) { requestEmailChange(id: $id, email: "a@example.org") { pending } }',
        "id",
        "customer",
    ),
    Capability.CHANGE_PHONE_NUMBER: (
        'mutation($id: ID!) { requestPhoneNumberChange(id: $id, phoneNumber: "+14155550142") '
        "{ pending } }",
        "id",
        "customer",
    ),
}
