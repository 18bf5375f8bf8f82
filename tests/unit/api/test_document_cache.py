"""Documents are parsed and validated once per query text, under the same limits and rules."""

from __future__ import annotations

import pytest

from customer_gateway.api.schema import GatewaySchema, SchemaOptions, build_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
def schema() -> GatewaySchema:
    built = build_schema(SchemaOptions(max_tokens=50, max_depth=2))
    assert isinstance(built, GatewaySchema)
    return built


async def test_a_repeated_query_is_parsed_and_validated_once(schema: GatewaySchema) -> None:
    for _ in range(3):
        result = await schema.execute("{ __typename }")
        assert result.errors is None and result.data == {"__typename": "Query"}
    info = schema.documents.prepare.cache_info()
    assert info.misses == 1 and info.hits >= 2 and info.currsize == 1


async def test_cached_validation_errors_are_reported_every_time(schema: GatewaySchema) -> None:
    for _ in range(2):
        result = await schema.execute("{ nope }")
        assert result.errors and "Cannot query field 'nope'" in result.errors[0].message


async def test_the_limits_hold_for_cached_documents(schema: GatewaySchema) -> None:
    deep = '{ backends { name } me(backend: "x") { loyalty { level { name } } } }'
    for _ in range(2):
        result = await schema.execute(deep)
        assert result.errors and "exceeds maximum operation depth" in result.errors[0].message


async def test_documents_over_the_token_cap_fail_to_parse_and_are_not_cached(
    schema: GatewaySchema,
) -> None:
    long = "{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }"
    for _ in range(2):
        result = await schema.execute(long)
        assert result.errors and "token" in result.errors[0].message.lower()
    assert schema.documents.prepare.cache_info().currsize == 0
