//! Throughput benchmark (run with `--release`): state transitions per second in process on a
//! counter loop (Choice + Pass with States.MathAdd) and on an inline Map over 5,000 items.
//! Each execution stays within Step Functions' 25,000 history events (a 5,000-iteration loop
//! records about 20,000; a Map of 5,000 items about 20,000), so a workload is many executions
//! run back to back; the best of three such batches counts.
//! Prints one line per workload: `name transitions seconds transitions_per_second`.

use std::time::Instant;

use mdlc_asl::{ExecutionOptions, ExecutionStatus, StateMachine};
use serde_json::json;

const LOOP: &str = r#"{"StartAt":"Init","States":{
  "Init":{"Type":"Pass","Parameters":{"i":0,"n.$":"$.n"},"Next":"Check"},
  "Check":{"Type":"Choice","Choices":[{"Variable":"$.i","NumericLessThanPath":"$.n","Next":"Inc"}],"Default":"Done"},
  "Inc":{"Type":"Pass","Parameters":{"i.$":"States.MathAdd($.i, 1)","n.$":"$.n"},"Next":"Check"},
  "Done":{"Type":"Succeed"}}}"#;

const MAP: &str = r#"{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":0,
  "ItemSelector":{"v.$":"$$.Map.Item.Value"},
  "ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"States.MathAdd($.v, 1)"},"End":true}}},
  "End":true}}}"#;

/// Runs `executions` executions of `def` back to back, three times, and prints the best batch.
fn run(name: &str, def: &str, input: serde_json::Value, transitions: u64, executions: u32) {
    let sm = match StateMachine::from_json_str(def) {
        Ok(sm) => sm,
        Err(e) => {
            eprintln!("{name}: invalid definition: {e}");
            std::process::exit(2);
        }
    };
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        for _ in 0..executions {
            let exec =
                futures::executor::block_on(sm.execute(input.clone(), ExecutionOptions::default()));
            if exec.status != ExecutionStatus::Succeeded {
                eprintln!(
                    "{name}: execution failed: {:?} {:?}",
                    exec.error, exec.cause
                );
                std::process::exit(1);
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    let total = transitions * u64::from(executions);
    println!("{name} {total} {best:.6} {:.0}", total as f64 / best);
}

fn main() {
    let n: u64 = std::env::var("MDLC_BENCH_LOOP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000);
    // Init + n × (Check + Inc) + the last Check + Done, 200 executions
    run("loop", LOOP, json!({ "n": n }), 2 * n + 3, 200);
    let items: Vec<u64> = (0..5_000).collect();
    // the Map state itself + one Pass per item, 20 executions
    run("map", MAP, json!({ "items": items }), 5_001, 20);
}
