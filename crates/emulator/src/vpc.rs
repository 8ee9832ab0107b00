//! `VpcConfig` as SageMaker validates it (API reference, `VpcConfig`): `Subnets` 1-16 and
//! `SecurityGroupIds` 1-5 items, each ID at most 32 characters matching `[-0-9a-zA-Z]+`. The
//! emulator runs every job on the local network whatever the VPC; it only checks the shape and
//! keeps the value in the Describe* output.

use serde_json::Value;

use crate::error::Problems;
use crate::fields;

/// SageMaker's limits on `VpcConfig.Subnets` and `VpcConfig.SecurityGroupIds`.
const MAX_SUBNETS: usize = 16;
const MAX_SECURITY_GROUPS: usize = 5;
const MAX_ID_LEN: usize = 32;

fn id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b == b'-' || b.is_ascii_alphanumeric())
}

fn check_ids(vpc: &Value, at: &str, key: &str, max: usize, p: &mut Problems) {
    let field = fields::join(at, key);
    let Some(value) = fields::get(vpc, key) else {
        p.push(&field, "is required");
        return;
    };
    let Some(items) = value.as_array() else {
        p.push(&field, format!("must be a list, got {value}"));
        return;
    };
    if items.is_empty() || items.len() > max {
        p.push(
            &field,
            format!(
                "has {} items, which must be between 1 and {max}",
                items.len()
            ),
        );
    }
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(id) if id_ok(id) => {}
            _ => p.push(
                &format!("{field}[{i}]"),
                format!("has value {item}, which must match [-0-9a-zA-Z]+ (at most {MAX_ID_LEN} characters)"),
            ),
        }
    }
}

/// Checks the optional `VpcConfig` object of `req` at `at` (`""` for the top level); returns
/// whether one is present.
pub(crate) fn check(req: &Value, at: &str, p: &mut Problems) -> bool {
    let Some(vpc) = fields::opt_obj(req, at, "VpcConfig", p) else {
        return false;
    };
    let vp = fields::join(at, "VpcConfig");
    check_ids(vpc, &vp, "Subnets", MAX_SUBNETS, p);
    check_ids(vpc, &vp, "SecurityGroupIds", MAX_SECURITY_GROUPS, p);
    true
}

/// The `ValidationException` problem of a training job whose channel mounts a file system but
/// that names no VPC.
///
/// SageMaker rejects such a request: it mounts EFS and FSx for Lustre file systems only through
/// network interfaces in the job's VPC ("Give SageMaker Training Jobs Access to Resources in
/// Your Amazon VPC"). Its verbatim message could not be found in any public source (API
/// reference, SDK issues, forums), so this wording is ours, in the emulator's
/// `'<field>' <problem>` form.
pub(crate) fn require_for_file_system(channel_at: &str, channel: &str, p: &mut Problems) {
    p.push(
        "VpcConfig",
        format!(
            "is required: {channel_at} (channel {channel:?}) has a FileSystemDataSource, and SageMaker mounts an EFS or FSx for Lustre file system only in a VPC (give VpcConfig.Subnets and VpcConfig.SecurityGroupIds)"
        ),
    );
}
