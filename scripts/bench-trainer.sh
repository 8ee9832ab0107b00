#!/usr/bin/env bash
# Built-in trainer benchmark: mdlc-trainer (release) against XGBoost `hist` (python xgboost from
# .tools/venv), both with 2 threads, on seeded synthetic data from `mdlc-trainer generate`:
# 200,000 training rows x 20 features, 50,000 validation rows, 100 rounds, max_depth 6, eta 0.3.
# Prints a Markdown section (`## Built-in trainer vs XGBoost`) on stdout, progress on stderr.
#
# What is timed, for both: building the training representation from in-memory rows (our quantile
# cuts + bin matrix; XGBoost's DMatrix) and 100 boosting rounds with train and validation metrics
# evaluated every round. CSV parsing is outside that time for both; our whole `train` process
# (CSV parsing, training, model writing) is reported beside it. Each side runs
# MDLC_BENCH_TRAINER_REPEATS times (default 3), interleaved; the table shows the fastest and the
# median run. Also checked: real XGBoost loads our model file and predicts the same values.
#
# Environment: MDLC_BENCH_TRAINER_ROWS (default 200000), MDLC_BENCH_TRAINER_REPEATS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/trainer-vs-xgboost.sh
. scripts/trainer-vs-xgboost.sh
trainer_vs_xgboost bench-trainer
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

ROWS=${MDLC_BENCH_TRAINER_ROWS:-200000}
for problem in regression binary; do
  echo "bench-trainer: generating $problem data ($ROWS rows x 20 features)" >&2
  "$BIN" generate --problem "$problem" --rows "$ROWS" --features 20 --seed 2026 \
    --validation-rows 50000 --holdout-rows 1000 --drift-rows 1000 --out "$WORK/$problem/data" >/dev/null
done

"$PY" - "$BIN" "$WORK" "${MDLC_BENCH_TRAINER_REPEATS:-3}" "$ROWS" <<'PYEOF'
import json, os, statistics, subprocess, sys, time
import numpy as np
import xgboost as xgb

BIN, WORK, REPEATS, ROWS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ROUNDS, DEPTH, ETA, THREADS = 100, 6, 0.3, 2
CASES = [
    ("regression", "reg:squarederror", ["rmse"]),
    ("binary", "binary:logistic", ["logloss", "auc"]),
]

def log(msg):
    print(f"bench-trainer: {msg}", file=sys.stderr, flush=True)

def job_dir(problem, objective, metrics, run):
    job = os.path.join(WORK, problem, f"job{run}")
    os.makedirs(os.path.join(job, "input", "config"), exist_ok=True)
    for ch in ("train", "validation"):
        d = os.path.join(job, "input", "data", ch)
        os.makedirs(d, exist_ok=True)
        link = os.path.join(d, f"{ch}.csv")
        if not os.path.exists(link):
            os.symlink(os.path.join(WORK, problem, "data", f"{ch}.csv"), link)
    hps = {"num_round": str(ROUNDS), "max_depth": str(DEPTH), "eta": str(ETA),
           "objective": objective, "eval_metric": ",".join(metrics), "nthread": str(THREADS),
           "tree_method": "hist", "max_bin": "256", "verbosity": "0"}
    with open(os.path.join(job, "input", "config", "hyperparameters.json"), "w") as f:
        json.dump(hps, f)
    with open(os.path.join(job, "input", "config", "inputdataconfig.json"), "w") as f:
        json.dump({"train": {"ContentType": "text/csv"}, "validation": {"ContentType": "text/csv"}}, f)
    return job

def run_ours(problem, objective, metrics, run):
    job = job_dir(problem, objective, metrics, run)
    env = dict(os.environ, MDLC_OPT_ML=job)
    t0 = time.perf_counter()
    subprocess.run([BIN, "train"], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    with open(os.path.join(job, "output", "data", "metrics.json")) as f:
        m = json.load(f)
    return m["train_seconds"], wall, m["final_metrics"], os.path.join(job, "model")

def run_xgb(tr, va, objective, metrics):
    params = {"objective": objective, "max_depth": DEPTH, "eta": ETA, "tree_method": "hist",
              "nthread": THREADS, "max_bin": 256, "eval_metric": metrics}
    t0 = time.perf_counter()
    dtr = xgb.DMatrix(tr[:, 1:], label=tr[:, 0], nthread=THREADS)
    dva = xgb.DMatrix(va[:, 1:], label=va[:, 0], nthread=THREADS)
    res = {}
    booster = xgb.train(params, dtr, ROUNDS, evals=[(dtr, "train"), (dva, "validation")],
                        evals_result=res, verbose_eval=False)
    secs = time.perf_counter() - t0
    return secs, {f"validation:{k}": v[-1] for k, v in res["validation"].items()}

load_start = os.getloadavg()[0]
rows_md = []
compat = []
for problem, objective, metrics in CASES:
    data = os.path.join(WORK, problem, "data")
    tr = np.loadtxt(os.path.join(data, "train.csv"), delimiter=",", dtype=np.float32)
    va = np.loadtxt(os.path.join(data, "validation.csv"), delimiter=",", dtype=np.float32)
    ours_t, ours_wall, xgb_t = [], [], []
    ours_m = xgb_m = model_dir = None
    for run in range(REPEATS):
        log(f"{problem}: run {run + 1}/{REPEATS}")
        t, w, ours_m, model_dir = run_ours(problem, objective, metrics, run)
        ours_t.append(t)
        ours_wall.append(w)
        s, xgb_m = run_xgb(tr, va, objective, metrics)
        xgb_t.append(s)
    ratio = min(ours_t) / min(xgb_t)
    ratio_med = statistics.median(ours_t) / statistics.median(xgb_t)
    def fmt_metrics(m):
        return ", ".join(f"{k.split(':')[1]} {m[k]:.5f}" for k in (f"validation:{x}" for x in metrics))
    quality = []
    for x in metrics:
        o, r = ours_m[f"validation:{x}"], xgb_m[f"validation:{x}"]
        quality.append(f"{x} {100.0 * (o - r) / r:+.2f}%")
    rows_md.append(
        f"| {problem} ({objective}) | {min(ours_t):.2f} s / {statistics.median(ours_t):.2f} s "
        f"| {min(xgb_t):.2f} s / {statistics.median(xgb_t):.2f} s | {ratio:.2f} ({ratio_med:.2f}) "
        f"| {fmt_metrics(ours_m)} | {fmt_metrics(xgb_m)} | {', '.join(quality)} "
        f"| {min(ours_wall):.2f} s |"
    )
    # Compatibility: real XGBoost loads our model file and predicts what `mdlc-trainer predict` says.
    booster = xgb.Booster()
    with open(os.path.join(model_dir, "xgboost-model"), "rb") as f:
        booster.load_model(bytearray(f.read()))
    theirs = booster.predict(xgb.DMatrix(va[:2000, 1:]))
    feats = os.path.join(WORK, problem, "features.csv")
    np.savetxt(feats, va[:2000, 1:], delimiter=",", fmt="%.9g")
    out = subprocess.run([BIN, "predict", "--model-dir", model_dir, "--input", feats],
                         check=True, capture_output=True, text=True).stdout.split()
    ours = np.array([float(x) for x in out], dtype=np.float64)
    compat.append(f"{problem}: max |difference| {np.max(np.abs(ours - theirs)):.2e} over 2,000 rows")

print("## Built-in trainer vs XGBoost")
print()
print(f"`scripts/bench-trainer.sh`: {ROWS:,} training rows x 20 features, 50,000 validation rows "
      f"(seeded `mdlc-trainer generate`), {ROUNDS} rounds, max_depth {DEPTH}, eta {ETA}, "
      f"{THREADS} threads, `hist` with 256 bins, xgboost {xgb.__version__}, {os.cpu_count()} CPUs. "
      f"Training time = building the training matrix from in-memory rows + {ROUNDS} rounds with "
      f"train and validation metrics every round (fastest / median of {REPEATS} interleaved runs; "
      f"the machine is shared, so the fastest run is the fairest figure). "
      f"Quality = our validation metric relative to XGBoost's (negative is better for rmse/logloss, "
      f"positive for auc). Targets: ratio <= 1.00 and regression rmse within +2%.")
print()
print("| problem | mdlc-trainer | XGBoost hist | time ratio (median) | mdlc-trainer validation | XGBoost validation | quality | our whole `train` process |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows_md:
    print(r)
print()
print("Model compatibility (XGBoost 3 loads our `xgboost-model` JSON): " + "; ".join(compat) + ".")
print()
print(f"1-minute load average: {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
      f"(with {os.cpu_count()} CPUs; under heavy load XGBoost's OpenMP threads lose more than ours).")
print()
PYEOF
