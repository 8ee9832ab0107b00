#!/usr/bin/env python3
"""Runs the AWS-recorded ASL corpus through boto3 against a Step Functions endpoint.

    corpus.py ENDPOINT [CORPUS_DIR] [--min-share 0.99] [--jobs 4] [--timeout S] [--only TEXT]

CORPUS_DIR defaults to $MDLC_REPO_ROOT/../shared/conformance/asl-aws-recorded/cases (read in
place, never copied). Each case (`definition`, `input`, `expect`; see that folder's README) runs as
crates/asl/tests/common.rs runs it, but over the API: CreateStateMachine (STANDARD), StartExecution
with the case's input, DescribeExecution until the status is not RUNNING, then

- status must equal `expect.status`;
- SUCCEEDED: the output deep-equals `expect.output` (numbers by value, key order ignored);
- FAILED: the error equals `expect.error` (null: no error) and the cause contains
  `expect.cause_contains` when given (the Rust runner requires it too);
- `expect.status` INVALID: CreateStateMachine fails with InvalidDefinition whose message contains
  the case's `pointer` (and its `message`, when given);
- `options.execution_name` / `options.state_machine_name` name the execution / state machine;
- a case with a `mock_config` needs a MockConfigFile test case, which is a server-level setting
  (`--mock-config`), so it is counted as not runnable, with that reason, and as not matched.

Every raw response is also checked against botocore's shapes (shapes.py). Prints each mismatch,
`matched/total`, then one JSON summary line; exits 1 when fewer than --min-share of the cases
match, when no case was found, or when a response breaks its shape.

With `--histories DIR` (default: `asl-aws-histories/cases` beside CASES_DIR, when it exists) the
history of each executed case that AWS's history was recorded for is also compared, event by
event, on `(type, previousEventId)` (the recordings' Parallel rewrite applied to ours, as
crates/asl/tests/aws_histories.rs applies it); the summary reports `history_matched` / `history_total` and
each difference (the first differing event). That comparison is reported, not enforced, unless
`--min-history-share` is given.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/mdlc-sfn-clients"


def default_corpus() -> Path:
    root = os.environ.get("MDLC_REPO_ROOT") or str(Path(__file__).resolve().parents[2])
    return Path(root) / "../shared/conformance/asl-aws-recorded/cases"


def json_equal(a: Any, b: Any) -> bool:
    """JSON deep equality; numbers by value (1 == 1.0) but never booleans as numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    return type(a) is type(b) and a == b


class NotRunnable(Exception):
    """The case needs something this runner cannot give it over the API."""


class Runner:
    def __init__(self, endpoint: str, timeout: float, histories: Path | None = None) -> None:
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        config = Config(
            retries={"max_attempts": 1, "mode": "standard"},
            read_timeout=60,
            inject_host_prefix=False,
            max_pool_connections=32,
        )
        self.sfn = session.client("stepfunctions", endpoint_url=endpoint, config=config)
        self.recorder = shapes.Recorder.attach(self.sfn)
        self.timeout = timeout
        self.run = uuid.uuid4().hex[:8]
        self.histories = histories
        # case file name -> None (same history) or the first difference
        self.history_results: dict[str, str | None] = {}
        # case file name -> whether the event types alone (ignoring previousEventId) are AWS's
        self.history_types: dict[str, bool] = {}

    def run_case(self, index: int, case: dict, file_name: str = "") -> str | None:
        """None when the case matches, else the mismatch; raises NotRunnable."""
        if "mock_config" in case:
            raise NotRunnable("needs a MockConfigFile test case (a server-level --mock-config)")
        expect = case.get("expect")
        if not isinstance(expect, dict) or "definition" not in case:
            return "case has no 'definition' or 'expect'"
        options = case.get("options") or {}
        sm_name = options.get("state_machine_name") or f"corpus-{index}-{self.run}"
        text = json.dumps(case["definition"])
        if expect.get("status") == "INVALID":
            return self.invalid(sm_name, text, expect)
        try:
            sm = self.sfn.create_state_machine(name=sm_name, definition=text, roleArn=ROLE)
        except ClientError as e:
            return f"CreateStateMachine: {e.response['Error'].get('Code')}: {e.response['Error'].get('Message')}"
        try:
            return self.execute(sm["stateMachineArn"], case, options, expect, file_name)
        finally:
            self.sfn.delete_state_machine(stateMachineArn=sm["stateMachineArn"])

    def invalid(self, sm_name: str, text: str, expect: dict) -> str | None:
        try:
            sm = self.sfn.create_state_machine(name=sm_name, definition=text, roleArn=ROLE)
        except ClientError as e:
            code, message = e.response["Error"].get("Code"), e.response["Error"].get("Message") or ""
            if code != "InvalidDefinition":
                return f"CreateStateMachine failed with {code}, expected InvalidDefinition"
            for part in (expect.get("pointer"), expect.get("message")):
                if part and part not in message:
                    return f"InvalidDefinition does not say {part!r}: {message!r}"
            return None
        self.sfn.delete_state_machine(stateMachineArn=sm["stateMachineArn"])
        return "definition accepted, but the case expects it to be invalid"

    def execute(
        self, sm_arn: str, case: dict, options: dict, expect: dict, file_name: str = ""
    ) -> str | None:
        start: dict[str, Any] = {"stateMachineArn": sm_arn, "input": json.dumps(case.get("input"))}
        if options.get("execution_name"):
            start["name"] = options["execution_name"]
        try:
            arn = self.sfn.start_execution(**start)["executionArn"]
        except ClientError as e:
            return f"StartExecution: {e.response['Error'].get('Code')}: {e.response['Error'].get('Message')}"
        d = self.wait_closed(arn)
        if d is None:
            return f"still RUNNING after {self.timeout} s"
        self.compare_history(arn, file_name)
        status, want_status = d["status"], expect.get("status")
        if status != want_status:
            return (
                f"status {status} (error {d.get('error')!r}, cause {d.get('cause')!r}, "
                f"output {d.get('output')}), expected {want_status}"
            )
        if status == "SUCCEEDED":
            got = json.loads(d["output"]) if d.get("output") is not None else None
            want = expect.get("output")
            return None if json_equal(got, want) else f"output {json.dumps(got)}\n  expected {json.dumps(want)}"
        got_error, want_error = d.get("error"), expect.get("error")
        if got_error != want_error:
            return f"error {got_error!r} (cause {d.get('cause')!r}), expected {want_error!r}"
        want_cause = expect.get("cause_contains")
        if want_cause and want_cause not in (d.get("cause") or ""):
            return f"error {got_error!r} as expected, but its cause {d.get('cause')!r} does not contain {want_cause!r}"
        return None

    def compare_history(self, arn: str, file_name: str) -> None:
        """Records whether the execution's (type, previousEventId) events equal AWS's history.

        As crates/asl/tests/aws_histories.rs does: a recording whose Parallel events were
        rewritten (ids `[0]`, sorted, closing events dropped; see the recordings' README) is
        compared with the same rewrite applied to ours, the run of branch events as a multiset
        of types; and in the three DISTRIBUTED Map recordings that the Rust test argues as
        noise, a MapStateExited pointing to MapRunStarted stands for one pointing to
        MapRunSucceeded."""
        recorded = self.histories / file_name if self.histories and file_name else None
        if recorded is None or not recorded.is_file():
            return
        events = load(recorded)["events"]
        got_events, token = [], None
        while True:
            page = self.sfn.get_execution_history(
                executionArn=arn, includeExecutionData=False, **({"nextToken": token} if token else {})
            )
            got_events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        rewritten = any(isinstance(e.get("id"), list) for e in events)
        want = units(events, rewritten, recorded=True, noise=file_name in MAP_RUN_EXITED_NOISE)
        got = units(got_events, rewritten, recorded=False, noise=False)
        self.history_types[file_name] = [u[0] for u in got] == [u[0] for u in want]
        if got == want:
            self.history_results[file_name] = None
            return
        i = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
        self.history_results[file_name] = (
            f"unit {i + 1} of {len(got)}: {got[i] if i < len(got) else 'none'}, "
            f"AWS recorded {want[i] if i < len(want) else 'none'} (of {len(want)})"
        )

    def wait_closed(self, arn: str) -> dict | None:
        deadline = time.monotonic() + self.timeout
        while True:
            d = self.sfn.describe_execution(executionArn=arn)
            if d["status"] != "RUNNING":
                return d
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)


# The DISTRIBUTED Map recordings whose MapStateExited points to MapRunStarted (argued as
# recording noise in crates/asl/tests/aws_histories.rs).
MAP_RUN_EXITED_NOISE = {
    "map__map_state_config_distributed_item_selector_parameters.json",
    "map__map_state_config_distributed_items_path_from_previous.json",
    "map__map_state_nested_config_distributed.json",
}


def units(events: list, rewritten: bool, recorded: bool, noise: bool) -> list:
    """(type, previousEventId) per event; with `rewritten`, the events after a
    ParallelStateStarted up to its ParallelStateExited become one ("parallel", sorted types)
    unit, without the closing events the recordings' rewrite drops."""
    by_id = {e.get("id"): e.get("type") for e in events if not isinstance(e.get("id"), list)}
    out, i = [], 0
    while i < len(events):
        e = events[i]
        prev = e.get("previousEventId", 0)
        if noise and e["type"] == "MapStateExited" and by_id.get(prev) == "MapRunStarted":
            prev = next((k for k, t in by_id.items() if t == "MapRunSucceeded"), prev)
        out.append((e["type"], prev))
        i += 1
        if rewritten and e["type"] == "ParallelStateStarted":
            depth, bag = 1, []
            while i < len(events):
                t = events[i]["type"]
                if recorded and t == "ParallelStateExited":
                    break
                if not recorded:
                    depth += t == "ParallelStateStarted"
                    if t == "ParallelStateExited":
                        depth -= 1
                        if depth == 0:
                            break
                        i += 1
                        continue
                    if t == "ParallelStateSucceeded":
                        i += 1
                        continue
                bag.append(t)
                i += 1
            out.append(("parallel", tuple(sorted(bag))))
    return out


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("endpoint")
    p.add_argument("corpus", nargs="?", type=Path, default=None)
    p.add_argument("--min-share", type=float, default=0.99)
    p.add_argument("--jobs", type=int, default=4)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one execution")
    p.add_argument("--only", default=None, help="run only the cases whose file name contains this")
    p.add_argument("--histories", type=Path, default=None, help="AWS's recorded histories")
    p.add_argument("--min-history-share", type=float, default=None)
    args = p.parse_args()
    corpus = args.corpus or default_corpus()
    histories = args.histories or corpus / "../../asl-aws-histories/cases"
    files = sorted(corpus.glob("*.json")) if corpus.is_dir() else []
    if args.only:
        files = [f for f in files if args.only in f.name]
    runner = Runner(args.endpoint, args.timeout, histories if histories.is_dir() else None)

    def one(item: tuple[int, Path]) -> tuple[str, str, str | None]:
        index, path = item
        try:
            return path.name, "ran", runner.run_case(index, load(path), path.name)
        except NotRunnable as e:
            return path.name, "not runnable", str(e)
        except Exception as e:  # one broken case must not stop the others
            return path.name, "ran", f"{type(e).__name__}: {e}"

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(one, enumerate(files)))
    mismatches = {name: why for name, kind, why in results if kind == "ran" and why is not None}
    not_runnable = {name: why for name, kind, why in results if kind == "not runnable"}
    matched = len(results) - len(mismatches) - len(not_runnable)
    total = len(results)
    for name, why in sorted(mismatches.items()):
        print(f"FAIL {name}: {why}")
    for name, why in sorted(not_runnable.items()):
        print(f"NOT RUNNABLE {name}: {why}")
    share = matched / total if total else 0.0
    print(f"{matched}/{total} matched ({share:.1%}) from {corpus}")
    violations = collections.Counter(runner.recorder.violations())
    history_diffs = {k: v for k, v in sorted(runner.history_results.items()) if v is not None}
    history_total = len(runner.history_results)
    history_matched = history_total - len(history_diffs)
    types_matched = sum(runner.history_types.values())
    if runner.histories is not None:
        print(
            f"histories: {history_matched}/{history_total} equal AWS's on (type, previousEventId), "
            f"{types_matched}/{history_total} on the event types alone"
        )
    summary = {
        "endpoint": args.endpoint,
        "corpus": str(corpus),
        "matched": matched,
        "total": total,
        "share": round(share, 4),
        "min_share": args.min_share,
        "mismatches": mismatches,
        "not_runnable": not_runnable,
        "responses": len(runner.recorder.responses),
        "shape_violations": {v: n for v, n in violations.most_common()},
        "histories": str(runner.histories) if runner.histories else None,
        "history_matched": history_matched,
        "history_total": history_total,
        "history_types_matched": types_matched,
        "history_differences": history_diffs,
    }
    print(json.dumps(summary))
    if total == 0:
        print(f"no case found in {corpus}", file=sys.stderr)
        return 1
    if args.min_history_share is not None and (
        history_total == 0 or history_matched / history_total < args.min_history_share
    ):
        print(f"histories: {history_matched}/{history_total} below {args.min_history_share}", file=sys.stderr)
        return 1
    return 0 if share >= args.min_share and not violations else 1


if __name__ == "__main__":
    sys.exit(main())
