"""The GraphQL operations the contract sends, written as a frontend would send them."""

from __future__ import annotations

from customer_gateway.connectors.protocol import Capability

__all__ = [
    "CONFIRM",
    "CUSTOMER",
    "ME",
    "REFRESH",
    "REFUSALS",
    "REQUEST",
    "UPDATE",
    "UPDATE_INPUT",
]

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
# Per change kind: the request and the confirmation, their field names and argument names.
REQUEST = {
    "email": """
mutation Request($id: ID!, $value: String!) {
  requestEmailChange(id: $id, email: $value) {
    pending expiresAt customer { email phoneNumber pendingEmailChange pendingPhoneNumberChange }
    userErrors { field message code }
  }
}""",
    "phone_number": """
mutation Request($id: ID!, $value: String!) {
  requestPhoneNumberChange(id: $id, phoneNumber: $value) {
    pending expiresAt customer { email phoneNumber pendingEmailChange pendingPhoneNumberChange }
    userErrors { field message code }
  }
}""",
}
CONFIRM = {
    "email": """
mutation Confirm($id: ID!, $code: String!) {
  confirmEmailChange(id: $id, code: $code) {
    customer { email phoneNumber pendingEmailChange pendingPhoneNumberChange }
    userErrors { field message code }
  }
}""",
    "phone_number": """
mutation Confirm($id: ID!, $code: String!) {
  confirmPhoneNumberChange(id: $id, code: $code) {
    customer { email phoneNumber pendingEmailChange pendingPhoneNumberChange }
    userErrors { field message code }
  }
}""",
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
