//! Our built-in XGBoost image table against the SageMaker Python SDK's own image configuration
//! (`sagemaker/core/image_uri_config/xgboost.json` of the `sagemaker-core` package, installed in
//! `.tools/sagemaker` by `scripts/tools.sh test`): every region and registry account the SDK
//! lists for our XGBoost version must be in ours.
//!
//! Needs that venv, so it is ignored in a plain run (reported as skipped) and runs under
//! `--run-ignored all` (`make test`), where a missing venv or JSON fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use mdlc_core::images::{XGBOOST_ACCOUNTS, XGBOOST_VERSION, xgboost_image};
use serde_json::Value;

const NEEDS: &str = "needs the SageMaker Python SDK in .tools/sagemaker: run scripts/tools.sh test";

/// Asks the venv's Python where `sagemaker-core` installed the XGBoost image configuration
/// (without importing the SDK).
fn sdk_xgboost_json() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".tools/sagemaker/bin/python");
    let script = "import importlib.metadata as m\n\
        hits = [f.locate() for f in m.files('sagemaker-core') or [] if str(f).endswith('image_uri_config/xgboost.json')]\n\
        print(hits[0] if hits else '')";
    let out = Command::new(&python)
        .args(["-c", script])
        .output()
        .unwrap_or_else(|e| panic!("{NEEDS} ({}: {e})", python.display()));
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !path.is_empty(),
        "{NEEDS}: sagemaker-core's image_uri_config/xgboost.json was not found ({})",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(path)
}

/// `scope.versions[XGBOOST_VERSION].registries` of the SDK's table: region → account.
fn sdk_registries(table: &Value, scope: &str) -> Vec<(String, String)> {
    let registries = table
        .pointer(&format!("/{scope}/versions/{XGBOOST_VERSION}/registries"))
        .and_then(Value::as_object)
        .unwrap_or_else(|| {
            panic!("the SDK's xgboost.json has no {scope} registries for {XGBOOST_VERSION}")
        });
    registries
        .iter()
        .map(|(region, account)| {
            let account = account.as_str().unwrap_or_else(|| {
                panic!("{scope}/{region}: the account is not a string: {account}")
            });
            (region.clone(), account.to_string())
        })
        .collect()
}

#[test]
#[ignore = "needs .tools/sagemaker (scripts/tools.sh test): run with --run-ignored all (make test)"]
fn every_region_and_account_of_the_sdks_xgboost_table_is_in_ours() {
    let path = sdk_xgboost_json();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{NEEDS}: {}: {e}", path.display()));
    let table: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
    let mut missing = Vec::new();
    let mut checked = 0;
    for scope in ["training", "inference"] {
        let registries = sdk_registries(&table, scope);
        assert!(!registries.is_empty(), "{scope}: the SDK lists no region");
        for (region, account) in registries {
            checked += 1;
            let ours = XGBOOST_ACCOUNTS.iter().find(|(r, _)| *r == region);
            match ours {
                Some((_, a)) if *a == account => {
                    let uri = xgboost_image(&region).unwrap_or_default();
                    assert!(
                        uri.starts_with(&format!("{account}.dkr.ecr.{region}.")),
                        "{region}: {uri}"
                    );
                }
                Some((_, a)) => missing.push(format!("{scope} {region}: SDK {account}, ours {a}")),
                None => missing.push(format!("{scope} {region}: {account} missing")),
            }
        }
    }
    assert!(checked > 0, "no region compared");
    assert!(
        missing.is_empty(),
        "our XGBoost table differs from the SDK's ({}):\n{}",
        path.display(),
        missing.join("\n")
    );
}
