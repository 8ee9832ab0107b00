#!/usr/bin/env bash
# Holdout quality of the built-in trainer against real XGBoost on real data sets, with the same
# hyperparameters: the two small real data sets that scikit-learn ships inside its wheel
# (diabetes progression: regression, 442 rows x 10; Wisconsin breast cancer: binary, 569 x 30).
# The wheel is downloaded from PyPI into .tools/cache and only its data files are read (nothing is
# committed). Rows are shuffled with a fixed seed and split 60/20/20 into train, validation and
# holdout; both trainers see the same CSVs. Prints a Markdown section on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/trainer-vs-xgboost.sh
. scripts/trainer-vs-xgboost.sh
trainer_vs_xgboost bench-realdata
CACHE=$ROOT/.tools/cache/sklearn-wheel
if ! ls "$CACHE"/scikit_learn-*.whl >/dev/null 2>&1; then
  mkdir -p "$CACHE"
  "$ROOT/.tools/venv/bin/pip" download --quiet --no-deps --disable-pip-version-check \
    -d "$CACHE" 'scikit-learn>=1.3' >&2
fi
WHEEL=$(ls "$CACHE"/scikit_learn-*.whl | head -1)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$PY" - "$BIN" "$WORK" "$WHEEL" <<'PYEOF'
import csv, gzip, io, json, os, subprocess, sys, zipfile
import numpy as np
import xgboost as xgb

BIN, WORK, WHEEL = sys.argv[1:4]
HPS = {"num_round": 150, "max_depth": 3, "eta": 0.05, "min_child_weight": 1, "subsample": 1.0,
       "lambda": 1.0, "alpha": 0.0, "gamma": 0.0}

def wheel_file(z, suffix):
    names = [n for n in z.namelist() if n.endswith(suffix)]
    if not names:
        sys.exit(f"bench-realdata: {suffix} not found in {WHEEL}")
    return z.read(names[0])

with zipfile.ZipFile(WHEEL) as z:
    x = np.loadtxt(io.BytesIO(gzip.decompress(wheel_file(z, "datasets/data/diabetes_data_raw.csv.gz"))))
    y = np.loadtxt(io.BytesIO(gzip.decompress(wheel_file(z, "datasets/data/diabetes_target.csv.gz"))))
    diabetes = np.column_stack([y, x])
    rows = list(csv.reader(io.StringIO(wheel_file(z, "datasets/data/breast_cancer.csv").decode())))
    body = np.array([[float(v) for v in r] for r in rows[1:]])
    # the file's last column is the class (0 malignant, 1 benign)
    cancer = np.column_stack([body[:, -1], body[:, :-1]])

CASES = [
    ("diabetes (regression, 442 x 10)", diabetes, "reg:squarederror", "rmse"),
    ("breast cancer (binary, 569 x 30)", cancer, "binary:logistic", "logloss"),
]

def split(data, seed=7):
    idx = np.random.default_rng(seed).permutation(len(data))
    a, b = int(0.6 * len(data)), int(0.8 * len(data))
    return data[idx[:a]], data[idx[a:b]], data[idx[b:]]

def rmse(y, p): return float(np.sqrt(np.mean((y - p) ** 2)))
def logloss(y, p):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
def auc(y, p):
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p)); ranks[order] = np.arange(1, len(p) + 1)
    # average ranks of ties
    for v in np.unique(p):
        m = p == v
        ranks[m] = ranks[m].mean()
    pos = y == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))

rows_md = []
for name, data, objective, metric in CASES:
    tr, va, ho = split(data)
    d = os.path.join(WORK, name.split()[0])
    job = os.path.join(d, "job")
    for ch, part in (("train", tr), ("validation", va)):
        os.makedirs(os.path.join(job, "input", "data", ch), exist_ok=True)
        np.savetxt(os.path.join(job, "input", "data", ch, f"{ch}.csv"), part, delimiter=",", fmt="%.10g")
    os.makedirs(os.path.join(job, "input", "config"), exist_ok=True)
    hps = {k: str(v) for k, v in HPS.items()}
    hps.update({"objective": objective, "eval_metric": metric, "nthread": "2", "seed": "1"})
    json.dump(hps, open(os.path.join(job, "input", "config", "hyperparameters.json"), "w"))
    json.dump({"train": {"ContentType": "text/csv"}, "validation": {"ContentType": "text/csv"}},
              open(os.path.join(job, "input", "config", "inputdataconfig.json"), "w"))
    subprocess.run([BIN, "train"], env=dict(os.environ, MDLC_OPT_ML=job), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    feats = os.path.join(d, "holdout_features.csv")
    np.savetxt(feats, ho[:, 1:], delimiter=",", fmt="%.10g")
    out = subprocess.run([BIN, "predict", "--model-dir", os.path.join(job, "model"), "--input", feats],
                         check=True, capture_output=True, text=True).stdout.split()
    ours = np.array([float(v) for v in out])

    params = {"objective": objective, "max_depth": HPS["max_depth"], "eta": HPS["eta"],
              "min_child_weight": HPS["min_child_weight"], "subsample": HPS["subsample"],
              "lambda": HPS["lambda"], "alpha": HPS["alpha"], "gamma": HPS["gamma"],
              "tree_method": "hist", "nthread": 2, "seed": 1}
    booster = xgb.train(params, xgb.DMatrix(tr[:, 1:], label=tr[:, 0]), HPS["num_round"])
    theirs = booster.predict(xgb.DMatrix(ho[:, 1:]))
    y = ho[:, 0]
    if metric == "rmse":
        o, t = rmse(y, ours), rmse(y, theirs)
        cells = f"RMSE {o:.3f} | RMSE {t:.3f} | {100 * (o - t) / t:+.2f}%"
        ok = o <= 1.05 * t
    else:
        o, t = logloss(y, ours), logloss(y, theirs)
        oa, ta = auc(y, ours), auc(y, theirs)
        cells = f"logloss {o:.4f}, AUC {oa:.4f} | logloss {t:.4f}, AUC {ta:.4f} | logloss {100 * (o - t) / t:+.2f}%, AUC {100 * (oa - ta) / ta:+.2f}%"
        ok = o <= 1.05 * t and oa >= 0.95 * ta
    rows_md.append(f"| {name} | {len(ho)} | {cells} | {'yes' if ok else 'NO'} |")

print("## Built-in trainer vs XGBoost on real data")
print()
print("`scripts/bench-realdata.sh`: the real data sets bundled in scikit-learn's wheel (downloaded from "
      "PyPI, data files read from the wheel), shuffled (seed 7) and split 60/20/20; both trainers get the "
      f"same rows and hyperparameters ({', '.join(f'{k}={v}' for k, v in HPS.items())}), "
      f"xgboost {xgb.__version__} `hist`. Holdout quality; target: within 5% of XGBoost.")
print()
print("| data set | holdout rows | ours | XGBoost | difference | within 5% |")
print("| --- | --- | --- | --- | --- | --- |")
for r in rows_md:
    print(r)
PYEOF
