#!/usr/bin/env python3
"""Lambda start-up benchmark: time from process start to the first answered invocation.

For each function it runs the native release binary against a small local Lambda Runtime API
(the endpoints a custom runtime uses: GET /2018-06-01/runtime/invocation/next, POST
.../invocation/<id>/response, POST .../invocation/<id>/error, POST .../init/error), serves one
invocation with the function's event from events/<name>.json, and records:

  ready   process start -> its first GET .../invocation/next   (init done: config, clients, runtime)
  answer  process start -> its POST .../response or .../error  (first answered invocation)
  CPU     on-CPU time of all its threads until that answer (/proc/<pid>/task/*/schedstat)
  peak    VmHWM (peak resident memory) of the process right after that answer

Every function is measured twice: with the environment as it is, and with SSL_CERT_FILE set to the
system's CA bundle, so that the TLS roots are read from one file as on provided.al2023 (a Debian
host also has /etc/ssl/certs/ with one file per certificate, which rustls-native-certs reads too).

AWS calls go to AWS_ENDPOINT_URL, a loopback port that refuses connections, with fake static
credentials and AWS_MAX_ATTEMPTS=1 (no retry back-off), so a function that needs AWS answers with
an error (e.g. DependencyUnavailable) at once: what counts is the time to the first answer. An
answer with errorType InvalidInput means the event file is stale, and fails the benchmark.

Prints a Markdown section on stdout; diagnostics on stderr. Exit 1 when a function could not be
measured (missing binary or event, crash, no answer within the time-out, InvalidInput).
Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

API = "/2018-06-01/runtime"
START_TARGET_MS = 15.0
ZIP_TARGET_BYTES = 4 * 1024 * 1024


@dataclass
class Run:
    """What one process start produced."""

    ready_ms: float | None = None
    answer_ms: float | None = None
    answer_kind: str | None = None  # "response" or "error: <errorType>" or "init error: <type>"
    answer_body: bytes = b""
    peak_kib: int | None = None
    cpu_ms: float | None = None  # on-CPU time of all its threads until the answer (schedstat)
    exit_code: int | None = None


@dataclass
class Invocation:
    """Shared state between the runtime API threads and the benchmark thread."""

    event: bytes
    function_arn: str
    t0_ns: int = 0
    served: bool = False
    run: Run = field(default_factory=Run)
    answered: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class RuntimeApi(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "RuntimeServer"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            # The process was stopped while its next poll was parked: nothing left to tell it.
            self.close_connection = True

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        now = time.perf_counter_ns()
        inv = self.server.invocation
        if self.path != f"{API}/invocation/next":
            self._reply(404, b'{"errorMessage":"unknown path"}')
            return
        with inv.lock:
            first = not inv.served
            inv.served = True
            if first:
                inv.run.ready_ms = (now - inv.t0_ns) / 1e6
        if not first:
            # One invocation per process: park the next poll until the run is over.
            inv.released.wait(timeout=60)
            self.close_connection = True
            self._reply(410, b'{"errorMessage":"benchmark over"}')
            return
        deadline_ms = int(time.time() * 1000) + 30_000
        self._reply(
            200,
            inv.event,
            {
                "Lambda-Runtime-Aws-Request-Id": "00000000-0000-4000-8000-000000000001",
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": inv.function_arn,
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000001;Sampled=0",
            },
        )

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        body = self._body()
        now = time.perf_counter_ns()
        inv = self.server.invocation
        parts = self.path.split("/")
        kind: str | None = None
        if self.path.startswith(f"{API}/invocation/") and parts[-1] == "response":
            kind = "response"
        elif self.path.startswith(f"{API}/invocation/") and parts[-1] == "error":
            kind = f"error: {error_type(body, self.headers.get('Lambda-Runtime-Function-Error-Type'))}"
        elif self.path == f"{API}/init/error":
            kind = f"init error: {error_type(body, self.headers.get('Lambda-Runtime-Function-Error-Type'))}"
        if kind is None:
            self._reply(404, b'{"errorMessage":"unknown path"}')
            return
        with inv.lock:
            if inv.run.answer_ms is None:
                inv.run.answer_ms = (now - inv.t0_ns) / 1e6
                inv.run.answer_kind = kind
                inv.run.answer_body = body
        self._reply(202, b'{"status":"OK"}')
        inv.answered.set()


class RuntimeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, invocation: Invocation) -> None:
        super().__init__(("127.0.0.1", 0), RuntimeApi)
        self.invocation = invocation

    def handle_error(self, request: object, client_address: object) -> None:
        # A stopped process drops its idle keep-alive connection: expected, not worth a trace.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def error_type(body: bytes, header: str | None) -> str:
    try:
        doc = json.loads(body or b"{}")
    except json.JSONDecodeError:
        doc = {}
    if isinstance(doc, dict) and isinstance(doc.get("errorType"), str):
        return doc["errorType"]
    return header or "unknown"


def peak_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_ms(pid: int) -> float | None:
    """On-CPU time of every thread of the process so far (first field of each schedstat, ns)."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total / 1e6


def ca_bundle() -> str | None:
    """The system's single-file CA bundle, if any."""
    for candidate in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"):
        if Path(candidate).is_file():
            return candidate
    return None


def refusing_port() -> socket.socket:
    """A loopback TCP port that is bound but not listening, so connections to it are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def child_env(name: str, api: str, endpoint: str, home: str, memory_mb: int) -> dict[str, str]:
    region = "us-east-1"
    account = "123456789012"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "AWS_LAMBDA_RUNTIME_API": api,
        "AWS_LAMBDA_FUNCTION_NAME": f"mdlc-{name}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/mdlc-{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/22/[$LATEST]bench",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": "bootstrap",
        "LAMBDA_TASK_ROOT": home,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "AKIDBENCHMARKFAKE000",
        "AWS_SECRET_ACCESS_KEY": "benchmark-fake-secret",
        "AWS_SESSION_TOKEN": "benchmark-fake-token",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "MDLC_TABLE_NAME": "mdlc-registry",
        "MDLC_ARTIFACT_BUCKET": "mdlc-artifacts",
        "MDLC_SAGEMAKER_ROLE_ARN": f"arn:aws:iam::{account}:role/mdlc-sagemaker",
        "MDLC_TRAINING_STATE_MACHINE_ARN": f"arn:aws:states:{region}:{account}:stateMachine:mdlc-training",
        "RUST_LOG": "info",
    }


def run_once(name: str, binary: Path, event: bytes, endpoint: str, home: str, log: Path,
             timeout_s: float, memory_mb: int, extra_env: dict[str, str]) -> Run:
    inv = Invocation(event=event, function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:mdlc-{name}")
    server = RuntimeServer(inv)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    api = f"127.0.0.1:{server.server_address[1]}"
    env = child_env(name, api, endpoint, home, memory_mb) | extra_env
    with open(log, "wb") as out:
        inv.t0_ns = time.perf_counter_ns()
        proc = subprocess.Popen([str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home)
        try:
            deadline = time.monotonic() + timeout_s
            while not inv.answered.wait(timeout=0.01):
                if proc.poll() is not None or time.monotonic() > deadline:
                    break
            if proc.poll() is None:
                inv.run.cpu_ms = cpu_ms(proc.pid)
                inv.run.peak_kib = peak_kib(proc.pid)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    proc.kill()
            inv.run.exit_code = proc.wait()
            inv.released.set()
            server.shutdown()
            server.server_close()
    return inv.run


@dataclass
class Result:
    name: str
    runs: list[Run]
    zip_bytes: int | None
    problem: str | None = None
    bundle_runs: list[Run] = field(default_factory=list)


def measure(name: str, binary: Path, event_file: Path, zip_file: Path, runs: int, warmup: int,
            endpoint: str, timeout_s: float, memory_mb: int, bundle: str | None) -> Result:
    zip_bytes = zip_file.stat().st_size if zip_file.is_file() else None
    if not binary.is_file():
        return Result(name, [], zip_bytes, f"no binary at {binary}")
    if not event_file.is_file():
        return Result(name, [], zip_bytes, f"no event file {event_file}")
    event = event_file.read_bytes()
    try:
        json.loads(event)
    except json.JSONDecodeError as e:
        return Result(name, [], zip_bytes, f"{event_file} is not JSON: {e}")
    home = tempfile.mkdtemp(prefix=f"lambda-bench-{name}-")
    log = Path(home) / "output.log"
    result = Result(name, [], zip_bytes)
    # Mode 1: the environment as it is. Mode 2: TLS roots from one CA bundle file, as on Lambda's
    # provided.al2023 (this host may also have a directory of one file per certificate).
    modes: list[tuple[list[Run], dict[str, str]]] = [(result.runs, {})]
    if bundle is not None:
        modes.append((result.bundle_runs, {"SSL_CERT_FILE": bundle}))
    try:
        for measured, extra_env in modes:
            for i in range(warmup + runs):
                run = run_once(name, binary, event, endpoint, home, log, timeout_s, memory_mb, extra_env)
                problem = None
                if run.answer_ms is None:
                    tail = log.read_text(errors="replace")[-2000:]
                    problem = f"no answer within {timeout_s}s (exit code {run.exit_code}); output:\n{tail}"
                elif run.answer_kind and run.answer_kind.endswith(": InvalidInput"):
                    problem = f"the event {event_file} was rejected: {run.answer_body.decode(errors='replace')}"
                elif run.answer_kind and run.answer_kind.startswith("init error"):
                    problem = f"init failed: {run.answer_body.decode(errors='replace')}"
                if problem is not None:
                    result.problem = problem
                    return result
                if i >= warmup:
                    measured.append(run)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


def mib(n: float) -> str:
    return f"{n / 1048576:.2f}"


def markdown(results: list[Result], runs: int, host: str, bundle: str | None) -> str:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "## Lambda start-up",
        "",
        f"Each function's native release binary ({host}; load average {load} when measured) was started "
        f"{runs} times, after one warm-up start, against a local Lambda Runtime API serving one invocation "
        "with a valid event (`scripts/bench-lambda/events/`). "
        "*ready* is process start to its first `GET /runtime/invocation/next` (init done); "
        "*first answer* is process start to its `/response` or `/error` post, in wall-clock time, "
        "and *CPU* is the on-CPU time of all its threads until then (robust to a busy machine). "
        "AWS calls go to a loopback port that refuses connections (fake credentials, "
        "`AWS_MAX_ATTEMPTS=1`), so a function that needs AWS answers with an error at once. "
        + (f"*one CA bundle* repeats the runs with `SSL_CERT_FILE={bundle}`: the TLS roots come from one file, "
           "as on `provided.al2023`, instead of that file plus this host's directory of one file per certificate. "
           if bundle else "")
        +         "*Peak RSS* is VmHWM after the answer. "
        + f"*Zip* is the arm64 `bootstrap.zip` from `make build`. Targets: first answer ≤ {START_TARGET_MS:g} ms "
        f"(median), zip ≤ {mib(ZIP_TARGET_BYTES)} MiB.",
        "",
        "| function | ready (ms) | first answer (ms) | p90 (ms) | CPU (ms) | one CA bundle: first answer (ms) | answer | peak RSS (MiB) | arm64 zip (MiB) | targets |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for r in results:
        zip_cell = mib(r.zip_bytes) if r.zip_bytes is not None else "not built"
        if r.problem or not r.runs:
            why = r.problem.splitlines()[0] if r.problem else "no run"
            lines.append(f"| {r.name} | – | – | – | – | – | not measured: {why} | – | {zip_cell} | ✗ |")
            continue
        ready = [x.ready_ms for x in r.runs if x.ready_ms is not None]
        answers = [x.answer_ms for x in r.runs if x.answer_ms is not None]
        cpus = [x.cpu_ms for x in r.runs if x.cpu_ms is not None]
        peaks = [x.peak_kib for x in r.runs + r.bundle_runs if x.peak_kib is not None]
        bundle_answers = [x.answer_ms for x in r.bundle_runs if x.answer_ms is not None]
        kinds = sorted({x.answer_kind or "?" for x in r.runs})
        med = statistics.median(answers)
        time_ok = med <= START_TARGET_MS
        zip_ok = r.zip_bytes is not None and r.zip_bytes <= ZIP_TARGET_BYTES
        verdict = "✓ time" if time_ok else "✗ time"
        verdict += ", ✓ zip" if zip_ok else (", ✗ zip" if r.zip_bytes is not None else ", zip not built")
        lines.append(
            f"| {r.name} | {statistics.median(ready):.1f} | {med:.1f} | {pct(answers, 0.9):.1f} "
            f"| {statistics.median(cpus) if cpus else float('nan'):.1f} "
            f"| {statistics.median(bundle_answers) if bundle_answers else float('nan'):.1f} "
            f"| {', '.join(kinds)} | {max(peaks) / 1024 if peaks else float('nan'):.1f} | {zip_cell} | {verdict} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("functions", nargs="+", help="function (package and binary) names")
    parser.add_argument("--bin-dir", type=Path, required=True, help="directory of the native release binaries")
    parser.add_argument("--events-dir", type=Path, required=True, help="directory of <function>.json events")
    parser.add_argument("--zip-dir", type=Path, required=True, help="directory holding <function>/bootstrap.zip")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for one answer")
    parser.add_argument("--memory-mb", type=int, default=256, help="AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    parser.add_argument("--dump-answers", type=Path, default=None,
                        help="also write each function's last answer body to DIR/<function>.answer.json")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    refused = refusing_port()
    bundle = ca_bundle()
    endpoint = f"http://127.0.0.1:{refused.getsockname()[1]}"
    results = []
    try:
        for name in args.functions:
            print(f"lambda-bench: {name} ...", file=sys.stderr)
            result = measure(name, (args.bin_dir / name).resolve(), args.events_dir / f"{name}.json",
                             args.zip_dir / name / "bootstrap.zip", args.runs, args.warmup,
                             endpoint, args.timeout, args.memory_mb, bundle)
            if result.problem:
                print(f"lambda-bench: {name}: {result.problem}", file=sys.stderr)
            if args.dump_answers is not None and result.runs:
                args.dump_answers.mkdir(parents=True, exist_ok=True)
                (args.dump_answers / f"{name}.answer.json").write_bytes(result.runs[-1].answer_body)
            results.append(result)
    finally:
        refused.close()
    host = f"{os.uname().machine}, {os.cpu_count()} cores"
    print(markdown(results, args.runs, host, bundle))
    return 1 if any(r.problem for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
