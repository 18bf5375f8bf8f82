"""Documents are parsed at most once per request and once per query text while cached, under
the same limits and rules; the cache is bounded in entries and bytes."""

from __future__ import annotations

import gc

import pytest
from graphql import Token

from customer_gateway.api.limits import OperationLimits
from customer_gateway.api.schema import GatewaySchema, SchemaOptions, build_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
def schema() -> GatewaySchema:
    built = build_schema(
        SchemaOptions(limits=OperationLimits(max_depth=2), max_tokens=50, max_document_bytes=1000)
    )
    assert isinstance(built, GatewaySchema)
    return built


async def test_a_repeated_query_is_parsed_and_validated_once(schema: GatewaySchema) -> None:
    for _ in range(3):
        result = await schema.execute("{ __typename }")
        assert result.errors is None and result.data == {"__typename": "Query"}
    assert schema.operations.documents.parses == 1 and len(schema.operations.documents) == 1


async def test_a_document_that_does_not_parse_is_parsed_once_per_request(
    schema: GatewaySchema,
) -> None:
    for attempt in range(1, 3):
        result = await schema.execute("{ backends { name ")
        assert result.errors and result.errors[0].extensions == {"code": "GRAPHQL_PARSE_FAILED"}
        assert (
            schema.operations.documents.parses == attempt
        )  # not three times (look-ups and Strawberry's)
    assert len(schema.operations.documents) == 0


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
    assert len(schema.operations.documents) == 0


async def test_documents_over_the_byte_limit_are_refused_before_parsing(
    schema: GatewaySchema,
) -> None:
    padded = "{ __typename }" + " " * 1000  # whitespace: few tokens, many bytes
    result = await schema.execute(padded)
    assert result.errors and result.errors[0].message == "The document is larger than 1000 bytes."
    assert schema.operations.documents.parses == 0
    multibyte = "{ __typename } #" + "é" * 495  # 508 characters, 1006 bytes
    assert (await schema.execute(multibyte)).errors
    assert (await schema.execute("{ __typename } #" + "é" * 490)).errors is None


async def test_the_cache_is_bounded_in_entries_and_bytes() -> None:
    schema = build_schema(SchemaOptions())
    assert isinstance(schema, GatewaySchema)
    documents = schema.operations.documents
    documents.max_entries, documents.max_bytes = 50, 200_000
    for i in range(400):
        await schema.execute(f"query Q{i} {{ a{i}: __typename backends {{ name kind }} }}")
    assert len(documents) <= 50 and 0 < documents.size <= 200_000
    documents.max_entries = 10_000
    for i in range(400):
        await schema.execute(f"query R{i} {{ r{i}: __typename backends {{ name kind }} }}")
    assert documents.size <= 200_000 and len(documents) < 400


async def test_a_document_larger_than_the_whole_budget_evicts_nothing() -> None:
    """Kept, it would push every other document out before going itself: one request per
    second would then keep the cache empty for every client."""
    schema = build_schema(SchemaOptions())
    assert isinstance(schema, GatewaySchema)
    documents = schema.operations.documents
    documents.max_bytes = 20_000
    hot = ["{ __typename }", "query Two { two: __typename }"]
    for query in hot:
        await schema.execute(query)
    huge = "{ __typename } # " + "x" * 30_000  # within the document limit, over the budget
    assert (await schema.execute(huge)).errors is None
    assert len(documents) == 2
    for query in hot:
        await schema.execute(query)
    assert documents.parses == 3  # the two hot ones once each, the large one once


async def test_evicted_documents_are_freed_without_the_cyclic_collector() -> None:
    """Nothing of a cached document is a reference cycle (graphql-core's lexer links its tokens
    both ways), so all of it is freed the moment it is dropped, whatever the collector's
    settings: the gateway runs full passes rarely, on a frozen heap."""
    schema = build_schema(SchemaOptions())
    assert isinstance(schema, GatewaySchema)
    schema.operations.documents.max_entries = 1
    await schema.execute("query EvictedFirst { evictedAlias: __typename }")
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await schema.execute("{ __typename }")  # drops the first document
        gc.collect()
        left = {getattr(o, "value", None) for o in gc.garbage if isinstance(o, Token)}
        assert not left & {"EvictedFirst", "evictedAlias"}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
