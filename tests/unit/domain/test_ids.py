from __future__ import annotations

import pytest

from customer_gateway.domain import InvalidInputError, decode_customer_id, encode_customer_id


@pytest.mark.parametrize(
    ("backend", "native"),
    [("menu", "0ff757dd-9b8a-4750-89ad-03ff531ae923"), ("kibo", "1074"), ("x", "a:b:c")],
)
def test_global_ids_round_trip(backend: str, native: str) -> None:
    global_id = encode_customer_id(backend, native)
    assert "=" not in global_id and ":" not in global_id
    ref = decode_customer_id(global_id)
    assert (ref.backend, ref.native_id) == (backend, native)


@pytest.mark.parametrize("bad", ["", "!!!", "bm90LWEtY3VzdG9tZXI", encode_customer_id("menu", "")])
def test_foreign_ids_are_bad_user_input(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        decode_customer_id(bad)
