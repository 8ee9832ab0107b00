#!/usr/bin/env python3
"""Lambda start-up benchmark: time from process start to the first answered invocation.

For each function it runs the native release binary against a small local Lambda Runtime API
(the endpoints a custom runtime uses: GET /2018-06-01/runtime/invocation/next, POST
.../invocation/<id>/response, POST .../invocation/<id>/error, POST .../init/error), serves one
invocation with the function's event from events/<name>.json, and records:

  ready   process start -> its first GET .../invocation/next   (init done: config, clients, runtime)
  answer  process start -> its POST .../response or .../error  (first answered invocation)
  peak    VmHWM (peak resident memory) of the process right after that answer

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
             timeout_s: float, memory_mb: int) -> Run:
    inv = Invocation(event=event, function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:mdlc-{name}")
    server = RuntimeServer(inv)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    api = f"127.0.0.1:{server.server_address[1]}"
    env = child_env(name, api, endpoint, home, memory_mb)
    with open(log, "wb") as out:
        inv.t0_ns = time.perf_counter_ns()
        proc = subprocess.Popen([str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home)
        try:
            deadline = time.monotonic() + timeout_s
            while not inv.answered.wait(timeout=0.01):
                if proc.poll() is not None or time.monotonic() > deadline:
                    break
            inv.run.peak_kib = peak_kib(proc.pid) if proc.poll() is None else None
        finally:
            if proc.poll() is None:
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


def measure(name: str, binary: Path, event_file: Path, zip_file: Path, runs: int, warmup: int,
            endpoint: str, timeout_s: float, memory_mb: int) -> Result:
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
    measured: list[Run] = []
    try:
        for i in range(warmup + runs):
            run = run_once(name, binary, event, endpoint, home, log, timeout_s, memory_mb)
            if run.answer_ms is None:
                tail = log.read_text(errors="replace")[-2000:]
                return Result(name, measured, zip_bytes,
                              f"no answer within {timeout_s}s (exit code {run.exit_code}); output:\n{tail}")
            if run.answer_kind and run.answer_kind.endswith(": InvalidInput"):
                return Result(name, measured, zip_bytes,
                              f"the event {event_file} was rejected: {run.answer_body.decode(errors='replace')}")
            if run.answer_kind and run.answer_kind.startswith("init error"):
                return Result(name, measured, zip_bytes,
                              f"init failed: {run.answer_body.decode(errors='replace')}")
            if i >= warmup:
                measured.append(run)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return Result(name, measured, zip_bytes)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


def mib(n: float) -> str:
    return f"{n / 1048576:.2f}"


def markdown(results: list[Result], runs: int, host: str) -> str:
    lines = [
        "## Lambda start-up",
        "",
        f"Each function's native release binary ({host}) started {runs} times (after one warm-up start) "
        "against a local Lambda Runtime API serving one invocation with a valid event; "
        "*ready* is process start to its first `GET /runtime/invocation/next` (init done), "
        "*first answer* is process start to its `/response` or `/error` post. "
        "AWS calls go to a loopback port that refuses connections, with `AWS_MAX_ATTEMPTS=1`, so "
        "functions that need AWS answer with an error at once. *Peak RSS* is VmHWM after the answer. "
        f"Zip is the arm64 `bootstrap.zip` from `make build`. Targets: first answer ≤ {START_TARGET_MS:g} ms, "
        f"zip ≤ {mib(ZIP_TARGET_BYTES)} MiB.",
        "",
        "| function | ready median (ms) | first answer median (ms) | p90 (ms) | max (ms) | answer | peak RSS (MiB) | arm64 zip (MiB) | targets |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for r in results:
        zip_cell = mib(r.zip_bytes) if r.zip_bytes is not None else "not built"
        if r.problem or not r.runs:
            lines.append(f"| {r.name} | – | – | – | – | not measured: {r.problem.splitlines()[0] if r.problem else 'no run'} | – | {zip_cell} | ✗ |")
            continue
        ready = [x.ready_ms for x in r.runs if x.ready_ms is not None]
        answers = [x.answer_ms for x in r.runs if x.answer_ms is not None]
        peaks = [x.peak_kib for x in r.runs if x.peak_kib is not None]
        kinds = sorted({x.answer_kind or "?" for x in r.runs})
        med = statistics.median(answers)
        ok_time = med <= START_TARGET_MS
        ok_zip = r.zip_bytes is not None and r.zip_bytes <= ZIP_TARGET_BYTES
        verdict = ("✓" if ok_time else "✗ time") + ("" if ok_zip else (" ✗ zip" if r.zip_bytes is not None else " (zip not built)"))
        lines.append(
            f"| {r.name} | {statistics.median(ready):.1f} | {med:.1f} | {pct(answers, 0.9):.1f} | {max(answers):.1f} "
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
    endpoint = f"http://127.0.0.1:{refused.getsockname()[1]}"
    results = []
    try:
        for name in args.functions:
            print(f"lambda-bench: {name} ...", file=sys.stderr)
            result = measure(name, (args.bin_dir / name).resolve(), args.events_dir / f"{name}.json",
                             args.zip_dir / name / "bootstrap.zip", args.runs, args.warmup,
                             endpoint, args.timeout, args.memory_mb)
            if result.problem:
                print(f"lambda-bench: {name}: {result.problem}", file=sys.stderr)
            if args.dump_answers is not None and result.runs:
                args.dump_answers.mkdir(parents=True, exist_ok=True)
                (args.dump_answers / f"{name}.answer.json").write_bytes(result.runs[-1].answer_body)
            results.append(result)
    finally:
        refused.close()
    host = f"{os.uname().machine}, {os.cpu_count()} cores"
    print(markdown(results, args.runs, host))
    return 1 if any(r.problem for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
