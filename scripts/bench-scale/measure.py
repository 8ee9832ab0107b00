"""The scale benchmark's measurements (scripts/bench-scale.sh); standard library only.

  measure.py wrap ARGS...      stands in for mdlc-trainer (MDLC_TRAINER_BIN points at a script
                               that execs this): runs $MDLC_BENCH_REAL_TRAINER ARGS as its child,
                               waits for it with wait4 and appends one JSON line (the command,
                               job directory, job name, peak resident memory, seconds, status) to
                               $MDLC_BENCH_SCALE_LOG; exits as the child did.
  measure.py report < RESULTS     prints the Markdown section of the JSON lines of `run`.
  measure.py run ROWS WORK RELEASE_DIR
                               generates ROWS x 20 rows (seeded) under WORK, runs the release
                               `mdlc demo --dataset` on them with the wrapper, runs real XGBoost
                               (.tools/venv) on the largest training job's channels with its
                               hyperparameters under /usr/bin/time, and prints one JSON object.

Why a wrapper: a child's max RSS from wait4 counts the memory of the process it was forked
from until it called exec (Linux records the old address space's high-water mark at exec), so
the figures for the mdlc process's own children would be at least mdlc's own size at the time.
This wrapper is small; its children's figures are theirs (at least the wrapper's ~10 MB).
"""
import json
import os
import signal
import subprocess
import sys
import time

FEATURES = 20
SEED = 17


def wrap(args):
    real = os.environ["MDLC_BENCH_REAL_TRAINER"]
    log = os.environ["MDLC_BENCH_SCALE_LOG"]
    # The emulator signals the job's whole process group (this process and its child): the
    # child ends on SIGTERM, this process waits for it and reports.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            import ctypes
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:
            pass
        os.execv(real, [real] + args)
    _, status, usage = os.wait4(pid, 0)
    record = {
        "command": args[0] if args else "",
        "cwd": os.getcwd(),
        "job": os.environ.get("TRAINING_JOB_NAME") or os.environ.get("PROCESSING_JOB_NAME")
        or os.path.basename(os.getcwd()),
        "maxrss_kib": usage.ru_maxrss,
        "seconds": round(time.monotonic() - start, 3),
        "status": status,
    }
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (json.dumps(record) + "\n").encode())
    os.close(fd)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    sys.exit(os.WEXITSTATUS(status))


def tree_bytes(path):
    """Bytes of the regular files under path (links not followed: a link costs nothing)."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def time_v(cmd, **kw):
    """Runs cmd under /usr/bin/time; returns (peak KiB, seconds, its stdout)."""
    out = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M WALL %e"] + cmd, capture_output=True,
                         text=True, **kw)
    if out.returncode != 0:
        sys.exit(f"bench-scale: {cmd[:3]} failed: {out.stderr[-2000:]}")
    last = [l for l in out.stderr.splitlines() if l.startswith("MAXRSS ")][-1].split()
    return int(last[1]), float(last[3]), out.stdout


def local_files(state, uri):
    """The files of the local object store under S3 prefix uri."""
    bucket, _, key = uri[len("s3://"):].partition("/")
    base = os.path.join(state, "s3", bucket, *key.split("/"))
    if os.path.isdir(base):
        found = []
        for root, _, files in os.walk(base):
            found += [os.path.join(root, f) for f in files]
        return sorted(found)
    parent, stem = os.path.split(base)
    return sorted(os.path.join(parent, f) for f in os.listdir(parent) if f.startswith(stem))


XGB_SCRIPT = r"""
import json, sys, numpy as np, xgboost as xgb
spec = json.loads(sys.argv[1])
def load(files):
    if not files:
        return None
    return xgb.DMatrix(files[0] + "?format=csv&label_column=0") if len(files) == 1 else \
        xgb.DMatrix(np.vstack([np.loadtxt(f, delimiter=",", ndmin=2) for f in files])[:, 1:])
train = load(spec["train"])
evals = [(train, "train")]
valid = load(spec["validation"])
if valid is not None:
    evals.append((valid, "validation"))
params = dict(spec["params"])
rounds = int(params.pop("num_round"))
xgb.train(params, train, num_boost_round=rounds, evals=evals, verbose_eval=False)
print(train.num_row())
"""


def xgboost_params(hps):
    params = {"tree_method": "hist", "nthread": 1}
    for k, v in hps.items():
        if k.startswith("_") or k.startswith("sagemaker_"):
            continue
        try:
            params[k] = int(v)
        except ValueError:
            try:
                params[k] = float(v)
            except ValueError:
                params[k] = v
    return params


def run(rows, work, release):
    py = os.path.join(os.getcwd(), ".tools/venv/bin/python")
    data = os.path.join(work, "data")
    state = os.path.join(work, "state")
    log = os.path.join(work, "jobs.jsonl")
    os.makedirs(data, exist_ok=True)
    small = rows // 4
    print(f"bench-scale: generating {rows} x {FEATURES} (+{small} validation, +{small} holdout)",
          file=sys.stderr)
    subprocess.run([os.path.join(release, "mdlc-trainer"), "generate", "--rows", str(rows),
                    "--features", str(FEATURES), "--seed", str(SEED), "--validation-rows",
                    str(small), "--holdout-rows", str(small), "--drift-rows", "8", "--out", data],
                   check=True, stdout=subprocess.DEVNULL)
    for extra in ("drifted.csv", "manifest.json"):
        os.remove(os.path.join(data, extra))
    data_bytes = tree_bytes(data)
    wrapper = os.path.join(work, "mdlc-trainer")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec /usr/bin/python3 -S {os.path.abspath(__file__)} wrap \"$@\"\n")
    os.chmod(wrapper, 0o755)
    env = dict(os.environ, MDLC_TRAINER_BIN=wrapper, MDLC_BENCH_SCALE_LOG=log,
               MDLC_BENCH_REAL_TRAINER=os.path.join(release, "mdlc-trainer"))
    print(f"bench-scale: mdlc demo on {data_bytes / 1e6:.1f} MB of CSV", file=sys.stderr)
    start = time.monotonic()
    demo = subprocess.run([os.path.join(release, "mdlc"), "demo", "--json", "--dataset", data,
                           "--problem", "regression", "--state-dir", state], env=env,
                          capture_output=True, text=True)
    wall = time.monotonic() - start
    with open(os.path.join(work, "demo.stderr"), "w") as f:
        f.write(demo.stderr)
    if demo.returncode != 0:
        sys.exit(f"bench-scale: mdlc demo failed ({demo.returncode}): {demo.stderr[-3000:]}")
    mdlc_kib = None
    for line in demo.stderr.splitlines():
        if "peak memory of this process (VmHWM): " in line:
            mdlc_kib = int(line.split("(VmHWM): ")[1].split()[0])
    state_bytes = tree_bytes(state)
    s3_bytes = tree_bytes(os.path.join(state, "s3"))

    jobs = [json.loads(l) for l in open(log)]
    kinds = {}
    train_jobs = []
    for j in jobs:
        describe = os.path.join(j["cwd"], "describe.json")
        d = json.load(open(describe)) if os.path.exists(describe) else {}
        if j["command"] == "train":
            kind = "training (tuning's jobs)" if d.get("TuningJobArn") else "training"
            train_jobs.append((j, d))
        elif j["command"] == "serve":
            kind = "batch transform (model server)"
        elif j["command"] == "preprocess":
            kind = "processing (preprocess)"
        else:
            kind = j["command"]
        k = kinds.setdefault(kind, {"jobs": 0, "max_kib": 0, "seconds": 0.0})
        k["jobs"] += 1
        k["max_kib"] = max(k["max_kib"], j["maxrss_kib"])
        k["seconds"] += j["seconds"]

    # Real XGBoost on the training job whose trainer peaked highest, same channels and
    # hyperparameters; /usr/bin/time's peak of the python process (its baseline too).
    job, d = max(train_jobs, key=lambda jd: jd[0]["maxrss_kib"])
    channels = {c["ChannelName"]: local_files(state, c["DataSource"]["S3DataSource"]["S3Uri"])
                for c in d.get("InputDataConfig", [])}
    spec = {"train": channels.get("train", []), "validation": channels.get("validation", []),
            "params": xgboost_params(d.get("HyperParameters", {}))}
    print(f"bench-scale: real XGBoost on {job['job']}'s channels", file=sys.stderr)
    xgb_kib, xgb_secs, out = time_v([py, "-c", XGB_SCRIPT, json.dumps(spec)])
    base_kib, _, _ = time_v([py, "-c", "import numpy, xgboost"])
    return {
        "rows": rows, "features": FEATURES, "data_bytes": data_bytes, "wall_seconds": wall,
        "mdlc_kib": mdlc_kib, "state_bytes": state_bytes, "s3_bytes": s3_bytes,
        "kinds": kinds, "xgb_job": job["job"], "xgb_job_kib": job["maxrss_kib"],
        "xgb_job_seconds": job["seconds"], "xgb_train_rows": int(out.split()[-1]),
        "xgb_kib": xgb_kib, "xgb_seconds": xgb_secs, "xgb_import_kib": base_kib,
        "xgb_params": spec["params"],
    }


def mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


def report(runs):
    kinds = sorted({k for r in runs for k in r["kinds"]})
    out = [
        "## Scale: the demo on generated data (issue 17)",
        "",
        "`mdlc demo --dataset` (regression, release build) on seeded data of N rows x 20 features,",
        "with N/4 validation and N/4 holdout rows. Peak memory is each process's max RSS: the mdlc",
        "process's own VmHWM (target: under 128 MiB at any size), and per kind of job the largest",
        "over its jobs, read by wait4 in a small wrapper around the job program (a floor of the",
        "wrapper's ~10 MB). The state directory is measured after the demo (target: at most 3 times",
        "the data).",
        "",
        "| rows | CSV | wall time | mdlc | " + " | ".join(kinds) + " | state dir / data |",
        "|" + " --- |" * (5 + len(kinds)),
    ]
    for r in runs:
        cells = [f"{r['rows']:,}", f"{r['data_bytes'] / 1e6:.1f} MB", f"{r['wall_seconds']:.0f} s",
                 mib(r["mdlc_kib"])]
        for k in kinds:
            v = r["kinds"].get(k)
            cells.append(f"{mib(v['max_kib'])} ({v['jobs']} jobs)" if v else "-")
        ratio = r["state_bytes"] / r["data_bytes"]
        cells.append(f"{ratio:.2f} ({r['state_bytes'] / 1e6:.0f} MB; object store "
                     f"{r['s3_bytes'] / 1e6:.0f} MB)")
        out.append("| " + " | ".join(cells) + " |")
    out += [
        "",
        "The built-in trainer beside real XGBoost on the same training job: its channels as the job",
        "read them and its hyperparameters; XGBoost with `hist`, one thread, the CSV read by",
        "`DMatrix` as SageMaker's container reads it. XGBoost's figure is the Python process's, so it",
        "includes the interpreter with numpy and xgboost imported, which is given beside it.",
        "",
        "| rows | job | training rows | mdlc-trainer | real XGBoost | Python + xgboost imported |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        out.append(f"| {r['rows']:,} | {r['xgb_job']} | {r['xgb_train_rows']:,} | "
                   f"{mib(r['xgb_job_kib'])} in {r['xgb_job_seconds']:.1f} s | "
                   f"{mib(r['xgb_kib'])} in {r['xgb_seconds']:.1f} s | {mib(r['xgb_import_kib'])} |")
    out += ["", "Hyperparameters of that job: " + "; ".join(
        f"{r['rows']:,} rows: `{json.dumps(r['xgb_params'], sort_keys=True)}`" for r in runs) + "."]
    print("\n".join(out))


if __name__ == "__main__":
    if sys.argv[1] == "wrap":
        wrap(sys.argv[2:])
    elif sys.argv[1] == "report":
        report([json.loads(l) for l in sys.stdin if l.strip()])
    elif sys.argv[1] == "run":
        print(json.dumps(run(int(sys.argv[2]), sys.argv[3], sys.argv[4])))
    else:
        sys.exit(f"measure.py: unknown command {sys.argv[1]}")
