"""The `customer-gateway` command: serve, demo, sandbox, export-schema, check-config."""

from __future__ import annotations

import argparse
import gc
import socket
import sys
from collections.abc import Sequence

import uvicorn

from customer_gateway import __version__
from customer_gateway.settings import ConfigError, LoadedSettings, load_settings

__all__ = ["main"]

GRACEFUL_SHUTDOWN_S = 20


def _bind(host: str, port: int) -> socket.socket:
    """Bind first, so that port 0 (any free port) is known before the app is built."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _run(app: object, sock: socket.socket, log_level: str) -> None:
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        log_level=log_level.lower(),
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
        access_log=False,  # the gateway logs each request itself, with its request id
        proxy_headers=False,  # forwarded headers count only from `trusted_proxies` (rate_limit)
    )
    # The cyclic collector has nothing to find in a request (a test pins that requests leave
    # no cycles), yet its passes walk every live object: under load, with many requests in
    # flight, full passes cost a third of the CPU. So: the start-up heap (schema, types,
    # modules) is moved out of its reach, and passes are rarer, the full ones much rarer.
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 100)
    uvicorn.Server(config).run(sockets=[sock])


def _load(path: str) -> LoadedSettings:
    try:
        return load_settings(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(2) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from customer_gateway.app import build_app
    from customer_gateway.observability.logging import configure_logging

    loaded = _load(args.config)
    gateway = loaded.settings.gateway
    configure_logging(gateway.log_level, json_format=gateway.log_json)
    sock = _bind(args.host or gateway.host, gateway.port if args.port is None else args.port)
    _run(build_app(loaded), sock, gateway.log_level)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from customer_gateway.demo import build_demo
    from customer_gateway.observability.logging import configure_logging

    configure_logging("INFO", json_format=False)
    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
    demo = build_demo(f"http://{host}:{port}", graphiql_assets=args.graphiql_assets)
    print(demo.banner(), flush=True)
    _run(demo.app, sock, "info")
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from customer_gateway.sandbox.app import build_sandbox_app

    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    app, description = build_sandbox_app(f"http://{args.host}:{port}")
    print(description, flush=True)
    _run(app, sock, "info")
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from customer_gateway.api.schema import export_sdl

    sys.stdout.write(export_sdl())
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    loaded = _load(args.file)
    names = ", ".join(
        f"{name} ({getattr(backend, 'kind', '?')})" for name, backend in loaded.backends.items()
    )
    print(f"{args.file}: ok; backends: {names or 'none'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="customer-gateway",
        description="One GraphQL API in front of Menu, Kibo Commerce and Open Loyalty.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway with a TOML config")
    serve.add_argument("--config", required=True, help="path to gateway.toml")
    serve.add_argument("--host", default=None, help="override [gateway] host")
    serve.add_argument("--port", type=int, default=None, help="override [gateway] port")
    serve.set_defaults(run=cmd_serve)

    demo = commands.add_parser("demo", help="sandbox backends + gateway + demo data, one port")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    demo.add_argument(
        "--graphiql-assets", default=None, help="serve GraphiQL from this node_modules folder"
    )
    demo.set_defaults(run=cmd_demo)

    sandbox = commands.add_parser("sandbox", help="only the vendor emulators, for frontend work")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=9000)
    sandbox.set_defaults(run=cmd_sandbox)

    export = commands.add_parser("export-schema", help="print the GraphQL SDL")
    export.set_defaults(run=cmd_export_schema)

    check = commands.add_parser("check-config", help="validate a config file")
    check.add_argument("file")
    check.set_defaults(run=cmd_check_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
