"""What distinct documents cost in memory: a client (or an attacker) sending N documents the
gateway has never seen, as plain queries and as automatic persisted queries.

Runs the gateway app in this process under the same collector settings `serve` uses (and, for
comparison, Python's defaults), sends N distinct ~1.6 KB documents through its ASGI interface,
and prints the growth of resident memory. No network, no backends: the documents ask only for
`backends` and `__typename`, so the cost measured is the GraphQL layer's own.

    .venv/bin/python bench/documents.py              # 60,000 documents, both settings
    .venv/bin/python bench/documents.py --count 5000 # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import subprocess
import sys
from pathlib import Path

FRAGMENTS = (
    "fragment B{i} on Backend {{ name kind capabilities healthy }} "
    "fragment H{i} on Backend {{ healthy ... on Backend {{ name capabilities }} }}"
)


def document(i: int) -> str:
    """A distinct, realistic-sized document (about 1.6 KB): nine aliased root fields over two
    fragments and inline fragments, and the kind of comment a build tool leaves."""
    fields = " ".join(
        f"backends{i}x{n}: backends {{ ...B{i} ...H{i} ... on Backend {{ name kind healthy }} ... on Backend {{ capabilities name kind }} }}"
        for n in range(9)
    )
    return (
        f"# generated for release {i:08x}: operation {i} of the storefront client, kept in the"
        f" persisted-query manifest of that release, do not edit by hand (build {i:012d})\n"
        f"query StorefrontOperation{i} {{ {fields} __typename }} " + FRAGMENTS.format(i=i)
    )


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run(count: int, apq: bool, serve_collector: bool) -> dict[str, object]:
    import httpx

    from customer_gateway.app import build_app
    from customer_gateway.serving import tune_collector
    from customer_gateway.settings import parse_settings

    unlimited = "[limits]\nrequests_per_address = 100000000\nrequests_per_token = 100000000\n"
    app = build_app(parse_settings(unlimited, env={}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

        async def send(i: int) -> None:
            query = document(i)
            body: dict[str, object] = {"query": query}
            if apq:
                digest = hashlib.sha256(query.encode()).hexdigest()
                body["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
            answer = await client.post("/graphql", json=body)
            data = answer.json()
            if "errors" in data:
                raise SystemExit(f"document {i} failed: {json.dumps(data)[:300]}")

        for i in range(200):  # warm-up: imports, first allocations
            await send(count + i)
        if serve_collector:  # what `serve` does before it accepts connections
            tune_collector()
        before = rss_kb()
        for i in range(count):
            await send(i)
        after = rss_kb()
    return {
        "documents": count,
        "apq": apq,
        "collector": "serve" if serve_collector else "default",
        "rss_growth_mb": round((after - before) / 1024, 1),
        "document_bytes": len(document(count // 2)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60_000)
    parser.add_argument("--one", nargs=2, metavar=("APQ", "COLLECTOR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # one measurement, in a fresh process
        apq, collector = args.one[0] == "apq", args.one[1] == "serve"
        print(json.dumps(asyncio.run(run(args.count, apq, collector))))
        return
    results = []
    for apq in ("plain", "apq"):
        for collector in ("serve", "default"):
            out = subprocess.run(
                [sys.executable, __file__, "--count", str(args.count), "--one", apq, collector],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            results.append(result)
            print(
                f"{result['documents']:>7} distinct {apq:>5} documents "
                f"({result['document_bytes']} bytes each), collector {collector:>7}: "
                f"RSS +{result['rss_growth_mb']} MB",
                flush=True,
            )
    worst = max(float(str(r["rss_growth_mb"])) for r in results)
    print(f"bench: documents={args.count} worst_rss_growth_mb={worst}")


if __name__ == "__main__":
    main()
