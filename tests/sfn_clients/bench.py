#!/usr/bin/env python3
"""Step Functions server benchmark: `mdlc serve` and moto's server side by side, through boto3.

    bench.py [--mdlc BIN] [--moto MOTO_SERVER] [--levels 1,10,50] [--seconds 3] [--rounds 3]
             [--processes N] [--break-every K] [--timeout S] [--json FILE]

Starts the servers it is given (`BIN serve --port 0 --state-dir <temp dir> --quiet`; moto's
`moto_server` on a free loopback port with `stepfunctions.execute_state_machine` turned on, as
moto.sh does), creates one STANDARD state machine on each (DEFINITION: Pass -> Choice -> Pass, no
Wait, no Task, which moto runs too), then for each level of concurrent clients and each round lets
the servers take turns: during SECONDS, every client repeatedly calls StartExecution (a unique
name, input {"n": 0..99}) and DescribeExecution until the status is not RUNNING (at once, then
after 1, 2, 4 ... ms, at most 20 ms apart). An execution counts when it SUCCEEDED with exactly the
expected output; anything else (another status, another output, a client error, RUNNING after
--timeout) is an error, counted and reported with its reason. Executions started before the end of
the window are finished and counted.

Concurrency: each client is a thread with its own boto3 client (botocore's clients are
thread-safe, but a client per thread keeps their connection pools apart, one keep-alive
connection each); the threads are spread over --processes forked worker processes (default: the
number of cores), because boto3 spends about a millisecond of CPU per call (measured on a 2-core
machine) and one interpreter (one GIL) would cap the load at one core, while a process per client (50 interpreters) would only
add memory and context switches on a machine with few cores. Workers are forked and their clients
connected before the window opens.

Measured per server and level: executions per second (correct executions / the window from the
first StartExecution to the last final DescribeExecution; the median over rounds), the latency
from the StartExecution call to the end of the DescribeExecution call that showed the final status
(median, p90, p99 over every execution of every round), the server process's CPU time per
execution (/proc/PID/stat, over the rounds), the load generator's CPU use in cores (its processes'
CPU time / the window), and the errors. Prints Markdown tables on stdout (the per-level ratio
mdlc/moto last), progress and the first error messages on stderr. Exit 1 when a server cannot be
started or a state machine not created; errors of executions are reported, not fatal.

--break-every K (a check of the checker): every K-th execution of each client gets an input
without `n`, so it fails with States.Runtime (at the Choice on mdlc, as on AWS; moto takes the
Default branch and fails at the Pass after it) and must be reported as an error.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import json_equal  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/mdlc-bench-sfn"
STATE_MACHINE = "mdlc-bench-sfn"

# Pass -> Choice -> Pass: a Result merged by ResultPath, a numeric Choice rule, Parameters with
# paths. Nothing moto's interpreter lacks, nothing that waits or calls out.
DEFINITION = {
    "Comment": "make bench: Step Functions server benchmark",
    "StartAt": "Tag",
    "States": {
        "Tag": {"Type": "Pass", "Result": {"seen": True}, "ResultPath": "$.tag", "Next": "Route"},
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 50, "Next": "High"}],
            "Default": "Low",
        },
        "High": {
            "Type": "Pass",
            "Parameters": {"n.$": "$.n", "band": "high", "tag.$": "$.tag"},
            "End": True,
        },
        "Low": {
            "Type": "Pass",
            "Parameters": {"n.$": "$.n", "band": "low", "tag.$": "$.tag"},
            "End": True,
        },
    },
}


def expected_output(n: int) -> dict:
    return {"n": n, "band": "high" if n >= 50 else "low", "tag": {"seen": True}}


def new_client(endpoint: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    config = Config(
        retries={"max_attempts": 1, "mode": "standard"},  # a refused call is an error, not retried
        read_timeout=60,
        connect_timeout=10,
        inject_host_prefix=False,
        max_pool_connections=1,
    )
    return session.client("stepfunctions", endpoint_url=endpoint, config=config)


ARN = re.compile(r"arn:aws:states:[^\s'\"]+")


# -- servers ----------------------------------------------------------------------------------


class Server:
    def __init__(self, label: str) -> None:
        self.label = label
        self.proc: subprocess.Popen | None = None
        self.endpoint = ""
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-sfn-{label}-", suffix=".log")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # after the command: state(0) ... utime(11) stime(12), in clock ticks
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class MdlcServer(Server):
    def __init__(self, binary: str) -> None:
        super().__init__("mdlc")
        self.state_dir = tempfile.mkdtemp(prefix="bench-sfn-state-")
        self.proc = subprocess.Popen(
            [binary, "serve", "--port", "0", "--state-dir", self.state_dir, "--quiet"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"{binary} serve did not print its endpoint: {line!r}\n{self.log_tail()}")
        self.endpoint = line

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)


class MotoServer(Server):
    def __init__(self, binary: str) -> None:
        super().__init__("moto")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(port)], stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto did not start on {self.endpoint}:\n{self.log_tail()}")
                time.sleep(0.1)
        # without this setting moto's executions never leave RUNNING (moto.sh does the same)
        body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
        urllib.request.urlopen(
            urllib.request.Request(self.endpoint + "/moto-api/config", data=body, method="POST")
        )


# -- clients ----------------------------------------------------------------------------------


class WrongAnswer(Exception):
    """An execution that ended otherwise than expected: `kind` (counted), `detail` (an example)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


class ClientResult:
    def __init__(self) -> None:
        self.ok = 0
        self.latencies: list[float] = []
        self.starts: list[float] = []  # the StartExecution calls alone
        self.describes = 0  # DescribeExecution calls of the correct executions
        self.errors: collections.Counter[str] = collections.Counter()  # kind -> count
        self.examples: dict[str, str] = {}  # kind -> the first message of that kind
        self.first = float("inf")  # monotonic time of the first StartExecution
        self.last = 0.0  # end of the last final DescribeExecution

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        self.examples.setdefault(kind, ARN.sub("<arn>", detail)[:300])
        self.last = max(self.last, time.monotonic())


def check(described: dict, payload: dict) -> None:
    """Raises WrongAnswer unless the execution SUCCEEDED with the output DEFINITION gives for
    `payload` (an input without `n` has no correct output: its execution must fail)."""
    if described["status"] != "SUCCEEDED":
        raise WrongAnswer(
            f"{described['status']} {described.get('error')}", f"cause: {described.get('cause')}"
        )
    try:
        output = json.loads(described.get("output") or "")
    except ValueError:
        raise WrongAnswer("output not JSON", repr(described.get("output"))) from None
    n = payload.get("n")
    if not isinstance(n, int) or not json_equal(output, expected_output(n)):
        raise WrongAnswer("wrong output", f"{json.dumps(output)} for input {json.dumps(payload)}")


def run_client(
    sfn: Any,
    sm_arn: str,
    name: str,
    offset: int,
    deadline: float,
    args: argparse.Namespace,
    out: ClientResult,
) -> None:
    i = 0
    while True:
        t0 = time.monotonic()
        if t0 >= deadline:
            break
        i += 1
        n = (offset + 37 * i) % 100  # both Choice branches
        broken = args.break_every and i % args.break_every == 0
        payload = {"m": n} if broken else {"n": n}
        out.first = min(out.first, t0)
        try:
            arn = sfn.start_execution(
                stateMachineArn=sm_arn, name=f"{name}-{i}", input=json.dumps(payload)
            )["executionArn"]
            started = time.monotonic() - t0
            pause, give_up, describes = 0.001, t0 + args.timeout, 0
            while True:
                d = sfn.describe_execution(executionArn=arn)
                describes += 1
                if d["status"] != "RUNNING":
                    break
                if time.monotonic() > give_up:
                    raise WrongAnswer(f"RUNNING after {args.timeout} s", arn)
                time.sleep(pause)
                pause = min(pause * 2, 0.02)
            t1 = time.monotonic()
            out.last = max(out.last, t1)
            check(d, payload)
            out.ok += 1
            out.latencies.append(t1 - t0)
            out.starts.append(started)
            out.describes += describes
        except ClientError as e:
            err = e.response.get("Error", {})
            out.error(f"{e.operation_name}: {err.get('Code')}", str(err.get("Message")))
        except WrongAnswer as e:
            out.error(e.kind, e.detail)
        except Exception as e:  # connection errors, timeouts: counted too
            out.error(type(e).__name__, str(e))


def worker(
    endpoint: str,
    sm_arn: str,
    tag: str,
    threads: int,
    args: argparse.Namespace,
    barrier: Any,
    results: Any,
) -> None:
    """A forked worker process: `threads` clients, each a thread with its own boto3 client."""
    try:
        clients = [new_client(endpoint) for _ in range(threads)]
        for sfn in clients:  # open each client's connection before the window
            sfn.describe_state_machine(stateMachineArn=sm_arn)
    except Exception as e:
        barrier.abort()  # the parent's wait fails at once instead of timing out
        results.put({"setup_error": f"{type(e).__name__}: {e}"})
        return
    outs = [ClientResult() for _ in clients]
    barrier.wait()
    deadline = time.monotonic() + args.seconds
    cpu0 = time.process_time()
    pool = [
        threading.Thread(
            target=run_client, args=(sfn, sm_arn, f"{tag}-{k}", k, deadline, args, out)
        )
        for k, (sfn, out) in enumerate(zip(clients, outs))
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    errors: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}
    for out in outs:
        errors.update(out.errors)
        examples = {**out.examples, **examples}
    results.put(
        {
            "ok": sum(o.ok for o in outs),
            "latencies": [x for o in outs for x in o.latencies],
            "starts": [x for o in outs for x in o.starts],
            "describes": sum(o.describes for o in outs),
            "errors": dict(errors),
            "examples": examples,
            "first": min(o.first for o in outs),
            "last": max(o.last for o in outs),
            "cpu": time.process_time() - cpu0,
        }
    )


def measure(server: Server, sm_arn: str, clients: int, tag: str, args: argparse.Namespace) -> dict:
    """One window of `clients` concurrent clients against one server."""
    ctx = mp.get_context("fork")
    procs = min(clients, args.processes)
    shares = [clients // procs + (1 if k < clients % procs else 0) for k in range(procs)]
    barrier = ctx.Barrier(procs + 1)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=worker,
            args=(server.endpoint, sm_arn, f"{tag}-p{k}", share, args, barrier, results),
            daemon=True,
        )
        for k, share in enumerate(shares)
    ]
    for w in workers:
        w.start()
    try:
        barrier.wait(timeout=120)
    except threading.BrokenBarrierError:
        reasons = []
        while not results.empty():
            reasons.append(results.get().get("setup_error", "?"))
        for w in workers:
            w.kill()
        raise RuntimeError(f"{server.label}: a client could not connect: {'; '.join(reasons)}")
    cpu0 = server.cpu_seconds()
    try:
        parts = [results.get(timeout=args.seconds + args.timeout + 120) for _ in workers]
    except queue.Empty:
        for w in workers:
            w.kill()
        raise RuntimeError(f"{server.label}: a client process gave no result (see its traceback)")
    cpu1 = server.cpu_seconds()
    for w in workers:
        w.join()
    errors: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}
    for p in parts:
        errors.update(p["errors"])
        examples = {**p["examples"], **examples}
    ok = sum(p["ok"] for p in parts)
    window = max(p["last"] for p in parts) - min(p["first"] for p in parts)
    return {
        "ok": ok,
        "latencies": [x for p in parts for x in p["latencies"]],
        "starts": [x for p in parts for x in p["starts"]],
        "describes": sum(p["describes"] for p in parts),
        "errors": errors,
        "examples": examples,
        "window": window,
        "per_second": ok / window if window > 0 else 0.0,
        "server_cpu": cpu1 - cpu0,
        "client_cores": sum(p["cpu"] for p in parts) / window if window > 0 else 0.0,
    }


# -- report -----------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


def median(values: list[float]) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def ms(seconds: float) -> str:
    return "–" if seconds != seconds else f"{seconds * 1000:.1f} ms"


def ratio(a: float, b: float) -> str:
    """a / b, or a dash when either side had no correct execution (0 per second, NaN latency)."""
    if b > 0 and a == a:
        return f"{a / b:.1f}×"
    return "–"


def summary(servers: list[Server], levels: list[int], runs: dict) -> dict:
    """Counts per server and level, for --json (the test of this driver reads them)."""
    out: dict[str, dict] = {}
    for server in servers:
        for level in levels:
            rounds = runs[(server.label, level)]
            errors: collections.Counter[str] = collections.Counter()
            for r in rounds:
                errors.update(r["errors"])
            out.setdefault(server.label, {})[str(level)] = {
                "correct": sum(r["ok"] for r in rounds),
                "errors": dict(errors),
                "executions_per_second": median([r["per_second"] for r in rounds]),
            }
    return out


def report(servers: list[Server], levels: list[int], runs: dict) -> str:
    lines = [
        "| clients | server | executions/s | latency median | p90 | p99 | StartExecution median "
        "| DescribeExecution per execution | server CPU per execution | load generator CPU | executions "
        "| errors |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    summary: dict[tuple[str, int], dict] = {}
    error_lines = []
    for level in levels:
        for server in servers:
            rounds = runs[(server.label, level)]
            lat = sorted(x for r in rounds for x in r["latencies"])
            ok = sum(r["ok"] for r in rounds)
            errors: collections.Counter[str] = collections.Counter()
            examples: dict[str, str] = {}
            for r in rounds:
                errors.update(r["errors"])
                examples = {**r["examples"], **examples}
            done = ok + sum(errors.values())
            cpu = sum(r["server_cpu"] for r in rounds)
            s = {
                "per_second": median([r["per_second"] for r in rounds]),
                "median": percentile(lat, 50),
            }
            summary[(server.label, level)] = s
            lines.append(
                f"| {level} | {server.label} | {s['per_second']:.1f} | {ms(s['median'])} "
                f"| {ms(percentile(lat, 90))} | {ms(percentile(lat, 99))} "
                f"| {ms(median([x for r in rounds for x in r['starts']]))} "
                f"| {sum(r['describes'] for r in rounds) / ok if ok else float('nan'):.2f} "
                f"| {ms(cpu / done) if done else '–'} "
                f"| {median([r['client_cores'] for r in rounds]):.2f} cores "
                f"| {done} | {sum(errors.values())} |"
            )
            for kind, count in errors.most_common():
                error_lines.append(
                    f"- {server.label}, {level} clients: {count} × {kind} (e.g. {examples[kind]})"
                )
    out = "\n".join(lines)
    labels = [s.label for s in servers]
    if "mdlc" in labels and "moto" in labels:
        out += "\n\n| clients | executions/s mdlc / moto | median latency moto / mdlc |\n|---:|---:|---:|\n"
        out += "\n".join(
            f"| {level} | {ratio(summary[('mdlc', level)]['per_second'], summary[('moto', level)]['per_second'])} "
            f"| {ratio(summary[('moto', level)]['median'], summary[('mdlc', level)]['median'])} |"
            for level in levels
        )
    if error_lines:
        out += "\n\nErrors, by kind, with the first message of each:\n\n" + "\n".join(error_lines)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mdlc", help="the mdlc binary (measures `mdlc serve`)")
    p.add_argument("--moto", help="moto's moto_server script (measures moto's server)")
    p.add_argument("--levels", default="1,10,50", help="concurrent clients per level")
    p.add_argument("--seconds", type=float, default=3.0, help="window per level, round and server")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    p.add_argument("--timeout", type=float, default=60.0, help="an execution RUNNING longer fails")
    p.add_argument("--json", help="also write the counts per server and level to this file")
    p.add_argument(
        "--break-every",
        type=int,
        default=0,
        metavar="K",
        help="every K-th execution of each client gets an input without n (it must fail)",
    )
    args = p.parse_args()
    levels = [int(x) for x in args.levels.replace(",", " ").split()]
    if not (args.mdlc or args.moto):
        p.error("give --mdlc, --moto or both")
    if args.processes < 1 or args.rounds < 1 or not levels or min(levels) < 1:
        p.error("--processes, --rounds and every level must be at least 1")

    servers: list[Server] = []
    try:
        if args.mdlc:
            servers.append(MdlcServer(args.mdlc))
        if args.moto:
            servers.append(MotoServer(args.moto))
        arns = {}
        for server in servers:
            sfn = new_client(server.endpoint)
            arns[server.label] = sfn.create_state_machine(
                name=STATE_MACHINE, definition=json.dumps(DEFINITION), roleArn=ROLE
            )["stateMachineArn"]
            print(f"bench-sfn: {server.label} at {server.endpoint}", file=sys.stderr)
        runs: dict[tuple[str, int], list[dict]] = collections.defaultdict(list)
        for level in levels:
            for rnd in range(args.rounds):
                for server in servers:  # taking turns
                    r = measure(server, arns[server.label], level, f"c{level}-r{rnd}", args)
                    runs[(server.label, level)].append(r)
                    print(
                        f"bench-sfn: {server.label}, {level} clients, round {rnd + 1}: "
                        f"{r['per_second']:.1f} executions/s, {r['ok']} correct, "
                        f"{sum(r['errors'].values())} errors",
                        file=sys.stderr,
                    )
                    for kind, count in r["errors"].most_common():
                        print(
                            f"bench-sfn:   {count} × {kind} (e.g. {r['examples'][kind]})",
                            file=sys.stderr,
                        )
        print(report(servers, levels, runs))
        if args.json:
            Path(args.json).write_text(json.dumps(summary(servers, levels, runs)) + "\n")
        return 0
    except (RuntimeError, ClientError) as e:
        print(f"bench-sfn: {e}", file=sys.stderr)
        return 1
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
