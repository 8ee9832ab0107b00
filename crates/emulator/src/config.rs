//! Emulator configuration: the image map (image URI patterns → local programs) and fault
//! injection rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mdlc_core::ports::ObjectStore;
use mdlc_proc::PidBook;
use serde::Deserialize;
use thiserror::Error;

use crate::glob::glob_match;

/// Configuration of a [`crate::SageMakerEmulator`].
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Root of the job directories, for example `.mdlc/sagemaker`.
    pub work_dir: PathBuf,
    /// Where `s3://` URIs live.
    pub store: Arc<dyn ObjectStore>,
    pub images: ImageMap,
    pub faults: FaultConfig,
    pub region: String,
    pub account: String,
    /// `FileSystemDataSource` roots: `FileSystemId` → local directory; `*` → a directory holding
    /// one directory per file system (`<dir>/<FileSystemId>`), for ids without an entry. A
    /// channel's `DirectoryPath` is resolved under its file system's directory.
    pub file_systems: BTreeMap<String, PathBuf>,
    /// The pid book of the job processes (a record per running process, swept when the
    /// emulator starts: see [`mdlc_proc`]); `<work_dir>/pids` by default, the local cloud's
    /// `<state dir>/pids`.
    pub pids: PidBook,
}

impl EmulatorConfig {
    /// Defaults: the built-in image map, faults from `MDLC_FAULTS`, region `us-east-1`,
    /// account `123456789012`, the pid book in `<work_dir>/pids`.
    pub fn new(
        work_dir: impl Into<PathBuf>,
        store: Arc<dyn ObjectStore>,
    ) -> Result<Self, ConfigError> {
        let work_dir = work_dir.into();
        Ok(EmulatorConfig {
            pids: PidBook::at(work_dir.join(PidBook::DIR)),
            work_dir,
            store,
            images: ImageMap::builtin(),
            faults: FaultConfig::from_env()?,
            region: "us-east-1".into(),
            account: "123456789012".into(),
            file_systems: BTreeMap::new(),
        })
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConfigError {
    #[error("cannot read image map {path}: {message}")]
    ImageMapUnreadable { path: String, message: String },
    #[error("invalid image map {path}: {message}")]
    ImageMapInvalid { path: String, message: String },
    #[error("invalid fault rule {rule:?} in MDLC_FAULTS: {message}")]
    InvalidFault { rule: String, message: String },
}

/// The program that stands for an image.
#[derive(Debug, Clone, PartialEq)]
pub enum Program {
    /// The workspace's built-in XGBoost-compatible trainer (`mdlc-trainer`).
    BuiltinTrainer,
    /// The built-in preprocessing program (`mdlc-trainer preprocess`, SageMaker's processing
    /// contract: split a raw labelled CSV into train/validation and write a data profile). Runs
    /// processing jobs only.
    BuiltinPreprocess,
    /// An executable and leading arguments; the emulator appends `train`/`serve`.
    Command { program: PathBuf, args: Vec<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageEntry {
    /// Glob over the full image URI (`*`, `?`).
    pub pattern: String,
    pub program: Program,
}

/// Image URI patterns → local programs; first match wins, user entries before the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageMap {
    pub entries: Vec<ImageEntry>,
}

/// File form of the image map (JSON):
/// `{"images": [{"pattern": "*/my-algo:*", "command": ["/path/prog", "arg"]},
///              {"pattern": "my-registry/xgb:*", "builtin": "xgboost"}]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageMapFile {
    images: Vec<ImageMapFileEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageMapFileEntry {
    pattern: String,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    builtin: Option<String>,
}

/// The pseudo-image of the built-in preprocessing program (without a tag). Locally it maps to
/// `mdlc-trainer preprocess`; on AWS, push the `mdlc-trainer` container (entrypoint
/// `mdlc-trainer preprocess`) to an ECR repository named `mdlc-preprocess`, whose URIs match
/// [`BUILTIN_PREPROCESS_PATTERNS`] too.
pub const PREPROCESS_IMAGE: &str = "mdlc/preprocess";

/// The patterns of the built-in preprocessing image: the pseudo-image [`PREPROCESS_IMAGE`] and
/// any `mdlc-preprocess` repository.
pub const BUILTIN_PREPROCESS_PATTERNS: &[&str] = &[
    "mdlc/preprocess",
    "mdlc/preprocess:*",
    "*/mdlc-preprocess",
    "*/mdlc-preprocess:*",
    "mdlc-preprocess",
    "mdlc-preprocess:*",
];

/// The patterns of SageMaker's built-in XGBoost images (any account, region and partition:
/// `amazonaws.com`, `amazonaws.com.cn`, the ISO partitions' domains, ...).
pub const BUILTIN_XGBOOST_PATTERNS: &[&str] = &[
    "*.dkr.ecr.*/sagemaker-xgboost:*",
    "*.dkr.ecr.*/xgboost:*",
    "mdlc-trainer",
    "mdlc-trainer:*",
];

impl ImageMap {
    /// Only the defaults: the built-in XGBoost image URIs → `mdlc-trainer`, the preprocessing
    /// image → `mdlc-trainer preprocess`.
    pub fn builtin() -> Self {
        let trainer = BUILTIN_XGBOOST_PATTERNS
            .iter()
            .map(|p| (p, Program::BuiltinTrainer));
        let preprocess = BUILTIN_PREPROCESS_PATTERNS
            .iter()
            .map(|p| (p, Program::BuiltinPreprocess));
        ImageMap {
            entries: trainer
                .chain(preprocess)
                .map(|(p, program)| ImageEntry {
                    pattern: (*p).to_string(),
                    program,
                })
                .collect(),
        }
    }

    /// The user's entries from `path` (JSON, see [`ImageMap`]) followed by the defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::ImageMapUnreadable {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        Self::parse(&text, &shown)
    }

    /// Parses the JSON form; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::ImageMapInvalid {
            path: origin.to_string(),
            message,
        };
        let file: ImageMapFile = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut entries = Vec::new();
        for (i, e) in file.images.into_iter().enumerate() {
            let program = match (e.command, e.builtin.as_deref()) {
                (Some(cmd), None) => {
                    let mut it = cmd.into_iter();
                    let program = it
                        .next()
                        .ok_or_else(|| invalid(format!("/images/{i}/command must not be empty")))?;
                    Program::Command {
                        program: PathBuf::from(program),
                        args: it.collect(),
                    }
                }
                (None, Some("xgboost")) => Program::BuiltinTrainer,
                (None, Some("preprocess")) => Program::BuiltinPreprocess,
                (None, Some(other)) => {
                    return Err(invalid(format!(
                        "/images/{i}/builtin is {other:?}; the built-in programs are \"xgboost\" and \"preprocess\""
                    )));
                }
                _ => {
                    return Err(invalid(format!(
                        "/images/{i} needs exactly one of \"command\" or \"builtin\""
                    )));
                }
            };
            entries.push(ImageEntry {
                pattern: e.pattern,
                program,
            });
        }
        entries.extend(Self::builtin().entries);
        Ok(ImageMap { entries })
    }

    /// The program for `image`, if any pattern matches.
    pub fn resolve(&self, image: &str) -> Option<&Program> {
        self.entries
            .iter()
            .find(|e| glob_match(&e.pattern, image))
            .map(|e| &e.program)
    }
}

/// Whether `image` is one of SageMaker's built-in XGBoost images (their metric definitions apply).
pub fn is_builtin_xgboost(map: &ImageMap, image: &str) -> bool {
    matches!(map.resolve(image), Some(Program::BuiltinTrainer))
}

/// Finds the `mdlc-trainer` executable: `MDLC_TRAINER_BIN`, next to the current executable (or
/// its parent, for test binaries in `target/*/deps`), then `target/{release,debug}` under
/// `MDLC_REPO_ROOT`, `CARGO_TARGET_DIR` or the current directory and its ancestors.
pub fn find_builtin_trainer() -> Result<PathBuf, String> {
    let name = format!("mdlc-trainer{}", std::env::consts::EXE_SUFFIX);
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("MDLC_TRAINER_BIN") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join(&name));
        if let Some(parent) = dir.parent() {
            candidates.push(parent.join(&name));
        }
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        let t = PathBuf::from(t);
        candidates.push(t.join("release").join(&name));
        candidates.push(t.join("debug").join(&name));
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(r) = std::env::var_os("MDLC_REPO_ROOT") {
        roots.push(PathBuf::from(r));
    }
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    for r in roots {
        candidates.push(r.join("target/release").join(&name));
        candidates.push(r.join("target/debug").join(&name));
    }
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or_else(|| {
            "the built-in trainer program `mdlc-trainer` was not found next to this executable nor in target/{release,debug}; build it with `cargo build -p mdlc-trainer` (or set MDLC_TRAINER_BIN)".to_string()
        })
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Jobs whose name matches the glob end `Failed` with an injected reason.
    Fail { job_glob: String },
    /// The first `times` calls of `action` (`createTrainingJob`, …; `*` for any) are throttled.
    Throttle { action: String, times: u32 },
}

/// Fault injection rules, e.g. from `MDLC_FAULTS="fail:train-*,throttle:createTrainingJob:2"`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    pub rules: Vec<Fault>,
}

/// The rules of a fault-injection variable (`MDLC_FAULTS`, the local cloud's
/// `MDLC_FUNCTION_FAULTS`): separated by commas or semicolons, white space around a rule and
/// empty rules ignored.
pub fn fault_rules(text: &str) -> impl Iterator<Item = &str> {
    text.split([',', ';'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
}

impl FaultConfig {
    /// Rules from `MDLC_FAULTS` (none when unset or empty).
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var("MDLC_FAULTS") {
            Ok(s) => Self::parse(&s),
            Err(_) => Ok(Self::default()),
        }
    }

    /// Parses the rules ([`fault_rules`]): `fail:<job-name-glob>`, `throttle:<action>:<N>`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut rules = Vec::new();
        for raw in fault_rules(text) {
            let bad = |message: &str| ConfigError::InvalidFault {
                rule: raw.to_string(),
                message: message.to_string(),
            };
            let (kind, rest) = raw
                .split_once(':')
                .ok_or_else(|| bad("expected fail:<job-name-glob> or throttle:<action>:<N>"))?;
            match kind {
                "fail" if !rest.is_empty() => rules.push(Fault::Fail {
                    job_glob: rest.to_string(),
                }),
                "throttle" => {
                    let (action, n) = rest
                        .rsplit_once(':')
                        .ok_or_else(|| bad("expected throttle:<action>:<N>"))?;
                    let times = n
                        .parse::<u32>()
                        .map_err(|_| bad("N must be a non-negative integer"))?;
                    if action.is_empty() {
                        return Err(bad("the action must not be empty"));
                    }
                    rules.push(Fault::Throttle {
                        action: action.trim_end_matches(".sync").to_string(),
                        times,
                    });
                }
                _ => {
                    return Err(bad(
                        "expected fail:<job-name-glob> or throttle:<action>:<N>",
                    ));
                }
            }
        }
        Ok(FaultConfig { rules })
    }

    /// The rule that makes job `name` fail, if any.
    pub fn failing_rule(&self, name: &str) -> Option<&str> {
        self.rules.iter().find_map(|r| match r {
            Fault::Fail { job_glob } if glob_match(job_glob, name) => Some(job_glob.as_str()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_builtin_map_when_resolving_xgboost_uris_then_any_account_and_region_match() {
        let m = ImageMap::builtin();
        for uri in [
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.5-1",
            "544295431143.dkr.ecr.ap-southeast-2.amazonaws.com/xgboost:1",
        ] {
            assert_eq!(m.resolve(uri), Some(&Program::BuiltinTrainer), "{uri}");
        }
        assert_eq!(
            m.resolve("123.dkr.ecr.us-east-1.amazonaws.com/other:1"),
            None
        );
    }

    #[test]
    fn given_builtin_map_then_the_xgboost_image_of_every_region_of_our_table_runs_the_trainer() {
        let m = ImageMap::builtin();
        for (region, _) in mdlc_core::images::XGBOOST_ACCOUNTS {
            let uri = mdlc_core::images::xgboost_image(region).unwrap_or_default();
            assert_eq!(m.resolve(&uri), Some(&Program::BuiltinTrainer), "{uri}");
        }
    }

    #[test]
    fn given_builtin_map_when_resolving_preprocess_images_then_the_preprocess_program_matches() {
        let m = ImageMap::builtin();
        for uri in [
            PREPROCESS_IMAGE,
            "mdlc/preprocess:latest",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mdlc-preprocess:0.1.0",
            "mdlc-preprocess",
        ] {
            assert_eq!(m.resolve(uri), Some(&Program::BuiltinPreprocess), "{uri}");
        }
        assert!(!is_builtin_xgboost(&m, PREPROCESS_IMAGE));
        assert_eq!(m.resolve("mdlc/preprocessor"), None);
        let from_file = ImageMap::parse(
            r#"{"images":[{"pattern":"my/prep:*","builtin":"preprocess"}]}"#,
            "t.json",
        )
        .unwrap();
        assert_eq!(
            from_file.resolve("my/prep:2"),
            Some(&Program::BuiltinPreprocess)
        );
    }

    #[test]
    fn given_map_file_when_parsed_then_user_entries_come_first() {
        let m = ImageMap::parse(
            r#"{"images":[{"pattern":"*sagemaker-xgboost:*","command":["/bin/prog","-v"]}]}"#,
            "t.json",
        )
        .unwrap();
        assert_eq!(
            m.resolve("1.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"),
            Some(&Program::Command {
                program: "/bin/prog".into(),
                args: vec!["-v".into()]
            })
        );
        let err = ImageMap::parse(r#"{"images":[{"pattern":"x"}]}"#, "t.json").unwrap_err();
        assert!(err.to_string().contains("/images/0"), "{err}");
        assert!(ImageMap::parse(r#"{"images":[{"pattern":"x","builtin":"lgbm"}]}"#, "t").is_err());
    }

    #[test]
    fn given_fault_text_when_parsed_then_rules_are_typed() {
        let f = FaultConfig::parse("fail:train-*, throttle:createTrainingJob.sync:2").unwrap();
        assert_eq!(
            f.rules,
            vec![
                Fault::Fail {
                    job_glob: "train-*".into()
                },
                Fault::Throttle {
                    action: "createTrainingJob".into(),
                    times: 2
                }
            ]
        );
        assert_eq!(f.failing_rule("train-1"), Some("train-*"));
        assert_eq!(f.failing_rule("other"), None);
        for bad in ["boom", "throttle:x", "throttle:x:-1", "fail:"] {
            assert!(FaultConfig::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fault_rules_are_split_on_commas_and_semicolons_and_trimmed() {
        let rules: Vec<&str> = fault_rules(" a:1 ,b:2;; c:3 ;").collect();
        assert_eq!(rules, ["a:1", "b:2", "c:3"]);
        assert_eq!(fault_rules(" , ; ").count(), 0);
    }
}
