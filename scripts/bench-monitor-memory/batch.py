"""The evaluation batch of scripts/bench-monitor-memory.sh, and its measurement.

  batch.py generate DIR ROWS PARTS     seeded data in DIR: features/part-K.csv (20 columns),
                                       labels/part-K.csv (0/1), predictions/part-K.csv.out
                                       (scores), profile.json (the baseline the drift uses)
  batch.py measure DIR RELEASE_DIR [LABEL=BINARY]...
                                       under scripts/with-servers.sh: uploads DIR to moto's S3,
                                       creates the registry table, invokes each binary once with
                                       lambda-invoke and prints the Markdown section.
"""
import json
import os
import subprocess
import sys
import time

FEATURES = 20
SEED = 17
BUCKET = "mdlc-artifacts"
TABLE = "mdlc-registry"
PREFIX = "datasets/churn/bench-memory/evaluation"
TRANSFORM = "evaluations/churn/bench-memory/run-1/"
TARGET_MIB = 256
DECILES = [i / 10 for i in range(1, 10)]


def generate(out, rows, parts):
    import numpy as np

    rng = np.random.default_rng(SEED)
    for sub in ("features", "labels", "predictions"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    per_part = [rows // parts + (1 if k < rows % parts else 0) for k in range(parts)]
    for k, n in enumerate(per_part):
        x = rng.random((n, FEATURES))
        # Drift on the first feature: the batch leans towards its upper bins.
        x[:, 0] = x[:, 0] ** 0.7
        logit = 3.0 * (x[:, 1] - 0.5) + rng.normal(0.0, 1.0, n)
        y = (logit > 0).astype(np.int8)
        score = 1.0 / (1.0 + np.exp(-3.0 * (x[:, 1] - 0.5)))
        np.savetxt(os.path.join(out, "features", f"part-{k}.csv"), x, fmt="%.5f", delimiter=",")
        np.savetxt(os.path.join(out, "labels", f"part-{k}.csv"), y, fmt="%d")
        np.savetxt(os.path.join(out, "predictions", f"part-{k}.csv.out"), score, fmt="%.6f")
        print(f"generated part {k}: {n} rows", file=sys.stderr)
    profile = {
        "rows": rows,
        "problem": "binary",
        "features": [
            {"name": f"f{i}", "index": i, "count": rows, "missing": 0,
             "bins": {"edges": DECILES, "shares": [0.1] * 10, "missing_share": 0.0}}
            for i in range(FEATURES)
        ],
    }
    with open(os.path.join(out, "profile.json"), "w") as f:
        json.dump(profile, f)


def clients():
    import boto3

    kw = dict(
        endpoint_url=os.environ["MDLC_TEST_MOTO_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id=os.environ["MDLC_TEST_MOTO_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["MDLC_TEST_MOTO_SECRET_ACCESS_KEY"],
    )
    return boto3.client("s3", **kw), boto3.client("dynamodb", **kw)


def upload(data):
    s3, ddb = clients()
    s3.create_bucket(Bucket=BUCKET)
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    total = 0
    for sub, prefix in (("features", f"{PREFIX}/features/"), ("labels", f"{PREFIX}/labels/"),
                        ("predictions", TRANSFORM)):
        for name in sorted(os.listdir(os.path.join(data, sub))):
            path = os.path.join(data, sub, name)
            total += os.path.getsize(path)
            s3.upload_file(path, BUCKET, prefix + name)
    s3.upload_file(os.path.join(data, "profile.json"), BUCKET, f"{PREFIX}/profile.json")
    return total


def event(template):
    with open(template) as f:
        e = json.load(f)
    plan = e["plan"]
    plan["input"]["problemType"] = "binary"
    plan["input"]["data"]["evaluation"] = {
        "features": f"s3://{BUCKET}/{PREFIX}/features/",
        "groundTruth": f"s3://{BUCKET}/{PREFIX}/labels/",
        "profile": f"s3://{BUCKET}/{PREFIX}/profile.json",
    }
    plan["locations"]["transformOutput"] = f"s3://{BUCKET}/{TRANSFORM}"
    return e


def measure(data, release, binaries):
    labels_dir = os.path.join(data, "labels")
    rows = 0
    for name in os.listdir(labels_dir):
        with open(os.path.join(labels_dir, name), "rb") as f:
            rows += sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    parts = len(os.listdir(labels_dir))
    total = upload(data)
    event_file = os.path.join(data, "event.json")
    with open(event_file, "w") as f:
        json.dump(event("scripts/bench-lambda/events/monitor-performance.json"), f)
    results = []
    for label, binary in binaries:
        print(f"bench-monitor-memory: invoking {label} ({binary})", file=sys.stderr)
        started = time.monotonic()
        proc = subprocess.run(
            [os.path.join(release, "lambda-invoke"), "monitor-performance",
             "--binary", binary, "--event", event_file,
             "--endpoint", os.environ["MDLC_TEST_MOTO_ENDPOINT"],
             "--env", f"AWS_ACCESS_KEY_ID={os.environ['MDLC_TEST_MOTO_ACCESS_KEY_ID']}",
             "--env", f"AWS_SECRET_ACCESS_KEY={os.environ['MDLC_TEST_MOTO_SECRET_ACCESS_KEY']}",
             "--env", "AWS_SESSION_TOKEN=",
             "--env", "AWS_MAX_ATTEMPTS=3",
             "--memory-mb", "1024", "--timeout", "1200"],
            capture_output=True, text=True)
        wall = time.monotonic() - started
        if proc.returncode != 0 and not proc.stdout.strip():
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(f"bench-monitor-memory: {label}: no answer")
        out = json.loads(proc.stdout)
        body = out["body"] if isinstance(out["body"], dict) else {}
        results.append((label, out, body, wall))
        print(f"bench-monitor-memory: {label}: {out['answer']}, peak {out['peakKib']} KiB, "
              f"rows {body.get('rows')}", file=sys.stderr)
    section(rows, parts, total, results)
    streamed = results[0]
    ok = streamed[1]["answer"] == "response" and streamed[2].get("rows") == rows
    if not ok:
        raise SystemExit(f"bench-monitor-memory: the streaming binary did not evaluate the "
                         f"{rows} rows: {json.dumps(streamed[1])[:2000]}")


def mib(kib):
    return f"{kib / 1024:.1f}" if kib is not None else "n/a"


def section(rows, parts, total, results):
    print(f"## monitor-performance memory ({rows:,}-row batch)")
    print()
    print(f"The release `monitor-performance` binary evaluates a generated, seeded batch of {rows:,} rows "
          f"({parts} parts; 20 feature columns with a baseline profile, so the drift is computed too; "
          f"binary labels and scores, so AUC is computed; {total / 1e6:.0f} MB of CSV) as a Lambda: one "
          "invocation under the local Runtime API of the start-up benchmark (`lambda-invoke`, "
          "crates/lambda-bench), with `AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024` as deployed, S3 and "
          "DynamoDB served by moto's server (`scripts/bench-monitor-memory.sh`). Peak = `VmHWM` of the "
          f"process right after its answer; target: under {TARGET_MIB} MiB.")
    print()
    print("| binary | answer | rows | AUC | max PSI | time to answer (s) | CPU (s) | peak RSS (MiB) | under target |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for label, out, body, wall in results:
        metrics = body.get("metrics", {})
        drift = body.get("drift") or {}
        auc = f"{metrics['auc']:.6f}" if "auc" in metrics else "n/a"
        psi = f"{drift['maxPsi']:.4f}" if "maxPsi" in drift else "n/a"
        answer_s = f"{out['answerMs'] / 1000:.1f}" if out.get("answerMs") else "n/a"
        cpu_s = f"{out['cpuMs'] / 1000:.1f}" if out.get("cpuMs") else "n/a"
        under = "n/a" if out.get("peakKib") is None else ("yes" if out["peakKib"] < TARGET_MIB * 1024 else "**no**")
        answer = out["answer"] if out["answer"] == "response" else f"{out['answer']}"
        print(f"| {label} | {answer} | {body.get('rows', 'n/a')} | {auc} | {psi} | {answer_s} | {cpu_s} | "
              f"{mib(out.get('peakKib'))} | {under} |")
    print()
    print("The streaming handler reads each object in 4 MiB ranges (ranged `GetObject`), a line at a time, "
          "features, labels and predictions of a part in step, and keeps 8 bytes a row (the scores, split "
          "by class, for AUC); the rest of its memory does not grow with the batch.")


def main():
    cmd = sys.argv[1]
    if cmd == "generate":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "measure":
        binaries = [tuple(a.split("=", 1)) for a in sys.argv[4:]]
        measure(sys.argv[2], sys.argv[3], binaries)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
