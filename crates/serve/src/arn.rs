//! Step Functions ARNs of this server (`arn:aws:states:<region>:<account>:stateMachine:<name>`,
//! `...:execution:<machine>:<name>`, `...:express:<machine>:<name>:<id>`) and the name rule of
//! state machines and executions.

use mdlc_local::substitute::{LOCAL_ACCOUNT, LOCAL_REGION};

use crate::error::ApiError;

fn prefix() -> String {
    format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:")
}

pub fn state_machine(name: &str) -> String {
    format!("{}stateMachine:{name}", prefix())
}

pub fn execution(machine: &str, name: &str) -> String {
    format!("{}execution:{machine}:{name}", prefix())
}

/// An Express execution's ARN (its name may be reused, the id keeps it unique).
pub fn express_execution(machine: &str, name: &str, id: &str) -> String {
    format!("{}express:{machine}:{name}:{id}", prefix())
}

/// The role ARN form Step Functions accepts (`arn:<partition>:iam::<account>:role/<path/name>`).
pub fn check_role(role: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = role.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && resource
                    .strip_prefix("role/")
                    .is_some_and(|r| !r.is_empty()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::invalid_arn(role)),
    }
}

/// The parts of an ARN of the `states` service: region, account, resource type, the rest.
struct StatesArn<'a> {
    region: &'a str,
    account: &'a str,
    kind: &'a str,
    rest: &'a str,
}

fn parse(arn: &str) -> Option<StatesArn<'_>> {
    let mut parts = arn.splitn(7, ':');
    let (Some("arn"), Some(partition), Some("states"), Some(region), Some(account), Some(kind)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let rest = parts.next()?;
    (!partition.is_empty() && !region.is_empty() && !account.is_empty() && !rest.is_empty())
        .then_some(StatesArn {
            region,
            account,
            kind,
            rest,
        })
}

/// Where an ARN points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A state machine of this server (its name).
    StateMachine(String),
    /// An execution ARN of this server.
    Execution,
    /// A well-formed ARN of another region or account, or of a resource this server has not.
    Elsewhere,
}

/// Reads a state machine ARN: `InvalidArn` unless it is one.
pub fn parse_state_machine(arn: &str) -> Result<Target, ApiError> {
    let p = parse(arn).ok_or_else(|| ApiError::invalid_arn(arn))?;
    if p.kind != "stateMachine" || p.rest.contains(':') {
        return Err(ApiError::invalid_arn(arn));
    }
    if p.region != LOCAL_REGION || p.account != LOCAL_ACCOUNT {
        return Ok(Target::Elsewhere);
    }
    Ok(Target::StateMachine(p.rest.to_string()))
}

/// Checks an execution ARN's form: `InvalidArn` unless it is one.
pub fn parse_execution(arn: &str) -> Result<Target, ApiError> {
    let p = parse(arn).ok_or_else(|| ApiError::invalid_arn(arn))?;
    let segments = p.rest.split(':').count();
    let ok = match p.kind {
        "execution" => segments == 2,
        "express" => segments == 3,
        _ => false,
    };
    if !ok {
        return Err(ApiError::invalid_arn(arn));
    }
    if p.region != LOCAL_REGION || p.account != LOCAL_ACCOUNT {
        return Ok(Target::Elsewhere);
    }
    Ok(Target::Execution)
}

/// Checks a Map Run ARN's form (`...:mapRun:<machine>/<label>:<id>`): `InvalidArn` unless it
/// is one.
pub fn parse_map_run(arn: &str) -> Result<Target, ApiError> {
    let p = parse(arn).ok_or_else(|| ApiError::invalid_arn(arn))?;
    let ok = p.kind == "mapRun"
        && p.rest
            .split_once(':')
            .is_some_and(|(run, id)| run.contains('/') && !id.is_empty() && !id.contains(':'));
    if !ok {
        return Err(ApiError::invalid_arn(arn));
    }
    if p.region != LOCAL_REGION || p.account != LOCAL_ACCOUNT {
        return Ok(Target::Elsewhere);
    }
    Ok(Target::Execution)
}

/// A state machine or execution name: none of the characters Step Functions forbids (white
/// space, `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /`, control characters, U+FFFE-FFFF).
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let forbidden = |c: char| {
        c.is_whitespace()
            || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
            || ('\u{0}'..='\u{1f}').contains(&c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || c == '\u{fffe}'
            || c == '\u{ffff}'
    };
    if name.is_empty() || name.chars().any(forbidden) {
        return Err(ApiError::invalid_name(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_forbidden_characters_are_refused() {
        for bad in ["a b", "a:b", "a/b", "a#b", "a\u{7}b", "a\u{85}b", "a{b"] {
            assert_eq!(check_name(bad).unwrap_err().code, "InvalidName", "{bad:?}");
        }
        assert_eq!(check_name("ok-Name_1.2"), Ok(()));
    }

    #[test]
    fn arns_are_read_by_kind_region_and_account() {
        let sm = state_machine("m");
        assert_eq!(
            parse_state_machine(&sm),
            Ok(Target::StateMachine("m".into()))
        );
        assert_eq!(
            parse_state_machine("arn:aws:states:eu-west-1:111111111111:stateMachine:m"),
            Ok(Target::Elsewhere)
        );
        assert_eq!(parse_state_machine("m").unwrap_err().code, "InvalidArn");
        assert_eq!(
            parse_state_machine(&execution("m", "e")).unwrap_err().code,
            "InvalidArn"
        );
        assert_eq!(parse_execution(&execution("m", "e")), Ok(Target::Execution));
        assert_eq!(
            parse_execution(&express_execution("m", "e", "1")),
            Ok(Target::Execution)
        );
        assert_eq!(parse_execution(&sm).unwrap_err().code, "InvalidArn");
        let run = format!("{}mapRun:m/label:1", prefix());
        assert_eq!(parse_map_run(&run), Ok(Target::Execution));
        assert_eq!(parse_map_run(&sm).unwrap_err().code, "InvalidArn");
        assert_eq!(
            parse_map_run(&format!("{}mapRun:m:1", prefix()))
                .unwrap_err()
                .code,
            "InvalidArn"
        );
    }

    #[test]
    fn role_arns_must_name_an_iam_role() {
        assert_eq!(check_role("arn:aws:iam::123456789012:role/r"), Ok(()));
        assert_eq!(
            check_role("arn:aws:iam::123456789012:user/u")
                .unwrap_err()
                .code,
            "InvalidArn"
        );
        assert_eq!(check_role("role").unwrap_err().code, "InvalidArn");
    }
}
