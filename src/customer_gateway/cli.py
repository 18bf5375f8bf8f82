"""The `customer-gateway` command: serve, demo, sandbox, export-schema, check-config."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence
from typing import Any

from customer_gateway import __version__
from customer_gateway.settings import ConfigError, LoadedSettings, load_settings

__all__ = ["main"]

_LOOPBACK_NAMES = ("localhost",)


def _load(path: str, flags: dict[str, Any] | None = None) -> LoadedSettings:
    try:
        return load_settings(path, flags=flags)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(2) from None


def _refuse_exposure(command: str, host: str, allowed: bool) -> None:
    """The sandboxes answer anyone who reaches them: their journals show the passwords and
    tokens they received (the Open Loyalty admin token too) and their fault endpoints take
    orders without authentication. Fine on loopback; elsewhere only when asked for by name."""
    if allowed or _is_loopback(host):
        return
    print(
        f"{command}: refusing --host {host}: the sandboxes' journals show clear-text passwords"
        " and tokens, and their fault endpoints are unauthenticated, so any machine that"
        " reaches this one could read and break them. Listen on 127.0.0.1, or pass"
        " --allow-remote if every machine that can reach it may.",
        file=sys.stderr,
    )
    raise SystemExit(2)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() in _LOOPBACK_NAMES


def _reachable_host(host: str) -> str:
    """Where a client on this machine reaches a server bound to `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104


def cmd_serve(args: argparse.Namespace) -> int:
    from customer_gateway.banner import describe_serving, render_banner
    from customer_gateway.serving import bind, run_gateway

    flags = {"host": args.host, "port": args.port, "workers": args.workers}
    loaded = _load(args.config, flags)
    gateway = loaded.settings.gateway
    sock = bind(gateway.host, gateway.port)
    print(render_banner(describe_serving(loaded, sock), json_format=gateway.log_json), flush=True)
    run_gateway(loaded, sock)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from customer_gateway.demo import build_demo
    from customer_gateway.observability.logging import configure_logging
    from customer_gateway.serving import bind, run_app

    _refuse_exposure("demo", args.host, args.allow_remote)
    configure_logging("INFO", json_format=False)
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    demo = build_demo(
        f"http://{_reachable_host(args.host)}:{port}", graphiql_assets=args.graphiql_assets
    )
    print(demo.banner(), flush=True)
    run_app(demo.app, sock, "info")
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from customer_gateway.demo import sandbox_config
    from customer_gateway.sandbox.app import build_sandbox_app
    from customer_gateway.serving import bind, run_app

    if args.print_config:
        url = args.url or f"http://{_reachable_host(args.host)}:{args.port}"
        sys.stdout.write(sandbox_config(url))
        return 0
    _refuse_exposure("sandbox", args.host, args.allow_remote)
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    url = f"http://{_reachable_host(args.host)}:{port}"
    app, description = build_sandbox_app(url)
    print(description, flush=True)
    print(f"  gateway.toml for these: customer-gateway sandbox --print-config --url {url}")
    sys.stdout.flush()
    run_app(app, sock, "info")
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
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="what to run; `customer-gateway COMMAND --help` shows its options",
    )

    serve = commands.add_parser("serve", help="run the gateway with a TOML config")
    serve.add_argument("--config", required=True, help="path to gateway.toml")
    serve.add_argument("--host", default=None, help="override [gateway] host")
    serve.add_argument("--port", type=int, default=None, help="override [gateway] port")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="override [gateway] workers: processes sharing the port (more than 1 needs a"
        " redis:// store)",
    )
    serve.set_defaults(run=cmd_serve)

    demo = commands.add_parser("demo", help="sandbox backends + gateway + demo data, one port")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    demo.add_argument("--port", type=int, default=8000, help="port to listen on; 0: any free one")
    demo.add_argument(
        "--graphiql-assets", default=None, help="serve GraphiQL from this node_modules folder"
    )
    _allow_remote(demo)
    demo.set_defaults(run=cmd_demo)

    sandbox = commands.add_parser("sandbox", help="only the vendor emulators, for frontend work")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    sandbox.add_argument("--port", type=int, default=9000, help="port to listen on")
    sandbox.add_argument(
        "--print-config",
        action="store_true",
        help="print a gateway.toml for `serve` against this sandbox (at --host/--port) and exit",
    )
    sandbox.add_argument(
        "--url",
        default=None,
        help="with --print-config: where the gateway reaches the sandbox, e.g."
        " http://sandbox:9000 (default: from --host and --port)",
    )
    _allow_remote(sandbox)
    sandbox.set_defaults(run=cmd_sandbox)

    export = commands.add_parser("export-schema", help="print the GraphQL SDL")
    export.set_defaults(run=cmd_export_schema)

    check = commands.add_parser(
        "check-config",
        help="validate a config file",
        description="Validate a gateway.toml as `serve` would, with ${NAME} and"
        " CUSTOMER_GATEWAY_* from this environment: one line per problem, exit status 2.",
    )
    check.add_argument("file", metavar="FILE", help="path to the gateway.toml to check")
    check.set_defaults(run=cmd_check_config)
    return parser


def _allow_remote(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--allow-remote",
        action="store_true",
        help="listen on a non-loopback --host although the sandboxes' journals (passwords,"
        " tokens) and fault endpoints are open to anyone who reaches it",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
