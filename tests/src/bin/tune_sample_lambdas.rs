//! The three Lambda functions of AWS's Step Functions sample "Tune a machine learning model",
//! written here from the contract its state machine implies (AWS does not publish their code
//! in its documentation), to be given to `mdlc execute --local` as `--function` commands:
//! the event on stdin, the result on stdout.
//!
//! * `generate BUCKET`: seeds `s3://BUCKET/csv/{train,validation,test}.csv` (seeded synthetic
//!   regression data, label first; test without labels) in the local cloud's object store
//!   (`$MDLC_STATE_DIR/s3`) and returns `{"body": {"jobName": ...}}`, the tuning job's name.
//! * `extract-model-path`: from the DescribeHyperParameterTuningJob output, returns
//!   `{"body": {"modelDataUrl": ..., "bestTrainingJobName": ...}}`.
//! * `extract-model-name`: from the CreateModel output (`ModelArn`), returns
//!   `{"body": {"jobName": <model name>}}`, used as the model and transform job name.
//!
//! A failure prints `{"errorType", "errorMessage"}` and exits 1.

use std::io::Read;

use mdlc_core::S3Uri;
use mdlc_core::ports::ObjectStore;
use mdlc_local::FsObjectStore;
use mdlc_trainer::data::{GenerateConfig, Problem, generate};
use serde_json::{Value, json};

fn fail(kind: &str, message: String) -> ! {
    println!("{}", json!({"errorType": kind, "errorMessage": message}));
    std::process::exit(1)
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| {
            fail(
                "InvalidEvent",
                format!("the event has no string at {pointer}"),
            )
        })
}

fn generate_dataset(bucket: &str) -> Value {
    let state = std::env::var("MDLC_STATE_DIR")
        .unwrap_or_else(|_| fail("Configuration", "MDLC_STATE_DIR is not set".into()));
    let data = generate(&GenerateConfig::new(Problem::Regression, 600, 5, 42))
        .unwrap_or_else(|e| fail("Generate", e.to_string()));
    let test: String = data
        .holdout
        .to_csv()
        .lines()
        .map(|l| format!("{}\n", l.split_once(',').map_or("", |x| x.1)))
        .collect();
    let store = FsObjectStore::new(std::path::Path::new(&state).join("s3"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| fail("Runtime", e.to_string()));
    for (key, body) in [
        ("csv/train.csv", data.train.to_csv()),
        ("csv/validation.csv", data.validation.to_csv()),
        ("csv/test.csv", test),
    ] {
        let uri = S3Uri::new(bucket, key);
        runtime
            .block_on(store.put(&uri, body.into_bytes()))
            .unwrap_or_else(|e| fail("S3", format!("{uri}: {e}")));
    }
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    json!({"statusCode": 200, "body": {"jobName": format!("model-{millis}")}})
}

fn extract_model_path(event: &Value) -> Value {
    let best = text(event, "/BestTrainingJob/TrainingJobName");
    let output = text(
        event,
        "/TrainingJobDefinition/OutputDataConfig/S3OutputPath",
    );
    json!({"statusCode": 200, "body": {
        "modelDataUrl": format!("{}/{best}/output/model.tar.gz", output.trim_end_matches('/')),
        "bestTrainingJobName": best
    }})
}

fn extract_model_name(event: &Value) -> Value {
    let arn = text(event, "/ModelArn");
    let name = arn
        .split_once(":model/")
        .map(|x| x.1)
        .unwrap_or_else(|| fail("InvalidEvent", format!("{arn} is not a model ARN")));
    json!({"statusCode": 200, "body": {"jobName": name}})
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut input = String::new();
    let _ = std::io::stdin().read_to_string(&mut input);
    let event: Value = serde_json::from_str(input.trim()).unwrap_or(Value::Null);
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["generate", bucket] => generate_dataset(bucket),
        ["extract-model-path"] => extract_model_path(&event),
        ["extract-model-name"] => extract_model_name(&event),
        _ => fail(
            "Usage",
            "usage: tune-sample-lambdas generate BUCKET | extract-model-path | extract-model-name"
                .into(),
        ),
    };
    println!("{result}");
}
