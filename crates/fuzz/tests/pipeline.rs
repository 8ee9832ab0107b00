//! Fuzz target of the pipeline's execution input (mdlc-core input validation): every problem
//! names a JSON pointer, and a resolved input validates again to itself.

use chrono::NaiveDate;
use mdlc_core::input::{Context, validate};
use mdlc_fuzz::{fuzz, generators as g};
use serde_json::Value;

#[test]
fn fuzz_pipeline_execution_input() {
    let ctx = Context {
        artifact_bucket: "mdlc-artifacts",
        region: "us-east-1",
        today: NaiveDate::from_ymd_opt(2024, 6, 1).unwrap_or_default(),
        account: Some("123456789012"),
    };
    let stats = fuzz(
        "pipeline_input",
        g::pipeline_input(),
        |raw: &Value| match validate(raw, &ctx) {
            Ok(input) => {
                let again =
                    serde_json::to_value(&input).map_err(|e| format!("not serialisable: {e}"))?;
                match validate(&again, &ctx) {
                    Ok(resolved) if resolved == input => Ok("valid"),
                    Ok(other) => Err(format!("resolving again changed the input: {other:?}")),
                    Err(p) => Err(format!("a resolved input is invalid: {p:?}")),
                }
            }
            Err(problems) => {
                if problems.is_empty() {
                    return Err("invalid without a problem".into());
                }
                for p in &problems {
                    if !(p.pointer.is_empty() || p.pointer.starts_with('/'))
                        || p.message.trim().is_empty()
                    {
                        return Err(format!("problem without pointer or message: {p:?}"));
                    }
                }
                Ok("invalid")
            }
        },
    );
    stats.assert_no_crash();
    stats.assert_share(&["valid"], 0.2);
    stats.assert_share(&["invalid"], 0.2);
}
