//! The Markdown section `## Lambda start-up` that scripts/bench-lambda.sh puts in BENCHMARKS.md.

use std::collections::BTreeSet;

use crate::measure::Measured;
use crate::stats::{median, percentile};

/// Target for the median time to the first answer, ms.
pub const START_TARGET_MS: f64 = 15.0;
/// Target for the arm64 bootstrap.zip, bytes.
pub const ZIP_TARGET_BYTES: u64 = 4 * 1024 * 1024;

/// The host and the measurement settings the section's text names.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    /// Measured starts per function.
    pub runs: usize,
    /// e.g. `x86_64, 2 cores`.
    pub host: &'a str,
    /// e.g. `1.62 / 1.89 / 2.18`.
    pub load: &'a str,
    /// The CA bundle of the second mode, if there was one.
    pub ca_bundle: Option<&'a str>,
}

/// The section: a paragraph saying what was measured, and one table row per function.
pub fn markdown(results: &[Measured], context: &Context<'_>) -> String {
    let mut lines = vec![
        "## Lambda start-up".to_owned(),
        String::new(),
        explanation(context),
        String::new(),
        "| function | ready (ms) | first answer (ms) | p90 (ms) | CPU (ms) | one CA bundle: first answer (ms) | answer | peak RSS (MiB) | arm64 zip (MiB) | targets |".to_owned(),
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |".to_owned(),
    ];
    lines.extend(results.iter().map(row));
    lines.push(String::new());
    lines.join("\n")
}

fn explanation(context: &Context<'_>) -> String {
    let bundle = context.ca_bundle.map_or(String::new(), |bundle| {
        format!(
            "*one CA bundle* repeats the runs with `SSL_CERT_FILE={bundle}`: the TLS roots come from one file, \
             as on `provided.al2023`, instead of that file plus this host's directory of one file per certificate. "
        )
    });
    format!(
        "Each function's native release binary ({host}; load average {load} when measured) was started \
         {runs} times, after one warm-up start, against a local Lambda Runtime API serving one invocation \
         with a valid event (`scripts/bench-lambda/events/`). \
         *ready* is process start to its first `GET /runtime/invocation/next` (init done); \
         *first answer* is process start to its `/response` or `/error` post, in wall-clock time, \
         and *CPU* is the on-CPU time of all its threads until then (robust to a busy machine). \
         AWS calls go to a loopback port that refuses connections (fake credentials, \
         `AWS_MAX_ATTEMPTS=1`), so a function that needs AWS answers with an error at once. \
         {bundle}*Peak RSS* is VmHWM after the answer. \
         *Zip* is the arm64 `bootstrap.zip` from `make build`. Targets: first answer ≤ {START_TARGET_MS} ms \
         (median), zip ≤ {zip} MiB.",
        host = context.host,
        load = context.load,
        runs = context.runs,
        zip = mib(ZIP_TARGET_BYTES),
    )
}

/// One function's row: "not measured" with the first line of its problem, or its figures.
fn row(r: &Measured) -> String {
    let zip_cell = r.zip_bytes.map_or_else(|| "not built".to_owned(), mib);
    if r.problem.is_some() || r.runs.is_empty() {
        let why = r.problem.as_ref().map_or_else(
            || "no run".to_owned(),
            |p| p.to_string().lines().next().unwrap_or_default().to_owned(),
        );
        return format!(
            "| {} | – | – | – | – | – | not measured: {why} | – | {zip_cell} | ✗ |",
            r.name
        );
    }
    let ready: Vec<f64> = r.runs.iter().filter_map(|x| x.ready_ms).collect();
    let answers: Vec<f64> = r.runs.iter().filter_map(|x| x.answer_ms).collect();
    let cpus: Vec<f64> = r.runs.iter().filter_map(|x| x.cpu_ms).collect();
    let bundle_answers: Vec<f64> = r.bundle_runs.iter().filter_map(|x| x.answer_ms).collect();
    let peak_mib = r
        .runs
        .iter()
        .chain(&r.bundle_runs)
        .filter_map(|x| x.peak_kib)
        .max()
        .map(|kib| kib as f64 / 1024.0);
    let kinds: BTreeSet<String> = r
        .runs
        .iter()
        .map(|x| {
            x.answer
                .as_ref()
                .map_or_else(|| "?".to_owned(), ToString::to_string)
        })
        .collect();
    let med = median(&answers);
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {zip_cell} | {} |",
        r.name,
        one_decimal(median(&ready)),
        one_decimal(med),
        one_decimal(percentile(&answers, 0.9)),
        one_decimal(median(&cpus)),
        one_decimal(median(&bundle_answers)),
        kinds.into_iter().collect::<Vec<_>>().join(", "),
        one_decimal(peak_mib),
        verdict(med, r.zip_bytes),
    )
}

/// `✓ time` / `✗ time` for the median against [`START_TARGET_MS`], then the zip's verdict.
fn verdict(median_ms: Option<f64>, zip_bytes: Option<u64>) -> String {
    let time = if median_ms.is_some_and(|m| m <= START_TARGET_MS) {
        "✓ time"
    } else {
        "✗ time"
    };
    let zip = match zip_bytes {
        Some(n) if n <= ZIP_TARGET_BYTES => ", ✓ zip",
        Some(_) => ", ✗ zip",
        None => ", zip not built",
    };
    format!("{time}{zip}")
}

/// `x` with one decimal, `nan` when there is no value.
fn one_decimal(x: Option<f64>) -> String {
    x.map_or_else(|| "nan".to_owned(), |v| format!("{v:.1}"))
}

/// Bytes as MiB with two decimals.
fn mib(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1_048_576.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::BenchError;
    use crate::run::Run;
    use crate::runtime_api::Answer;
    use std::path::PathBuf;

    fn run(ready: f64, answer: f64, cpu: f64, peak_kib: u64, kind: Answer) -> Run {
        Run {
            ready_ms: Some(ready),
            answer_ms: Some(answer),
            answer: Some(kind),
            cpu_ms: Some(cpu),
            peak_kib: Some(peak_kib),
            ..Run::default()
        }
    }

    fn context(ca_bundle: Option<&str>) -> Context<'_> {
        Context {
            runs: 2,
            host: "x86_64, 2 cores",
            load: "1.00 / 2.00 / 3.00",
            ca_bundle,
        }
    }

    #[test]
    fn a_measured_function_shows_medians_p90_peak_answers_and_verdicts() {
        let measured = Measured {
            name: "train".into(),
            zip_bytes: Some(3 * 1024 * 1024),
            runs: vec![
                run(2.0, 10.0, 3.0, 4096, Answer::Response),
                run(
                    4.0,
                    12.0,
                    5.0,
                    5120,
                    Answer::Error("DependencyUnavailable".into()),
                ),
            ],
            bundle_runs: vec![run(1.0, 8.0, 1.0, 6144, Answer::Response)],
            problem: None,
        };
        let row = row(&measured);
        assert_eq!(
            row,
            "| train | 3.0 | 11.0 | 12.0 | 4.0 | 8.0 | error: DependencyUnavailable, response | 6.0 | 3.00 | ✓ time, ✓ zip |"
        );
    }

    #[test]
    fn a_slow_function_without_zip_misses_its_targets() {
        let measured = Measured {
            name: "find-model".into(),
            zip_bytes: None,
            runs: vec![run(20.0, 30.0, 9.0, 1024, Answer::Response)],
            bundle_runs: vec![],
            problem: None,
        };
        assert_eq!(
            row(&measured),
            "| find-model | 20.0 | 30.0 | 30.0 | 9.0 | nan | response | 1.0 | not built | ✗ time, zip not built |"
        );
        assert_eq!(
            verdict(Some(15.0), Some(ZIP_TARGET_BYTES + 1)),
            "✓ time, ✗ zip"
        );
    }

    #[test]
    fn a_function_not_measured_shows_the_first_line_of_its_problem() {
        let measured = Measured {
            name: "initialize".into(),
            zip_bytes: Some(1_048_576),
            runs: vec![],
            bundle_runs: vec![],
            problem: Some(BenchError::NoAnswer {
                timeout: std::time::Duration::from_secs(10),
                exit: "exit status: 3".into(),
                output: "panicked\nat main".into(),
            }),
        };
        assert_eq!(
            row(&measured),
            "| initialize | – | – | – | – | – | not measured: no answer within 10s (exit status: 3); output: | – | 1.00 | ✗ |"
        );
        let missing = Measured {
            problem: Some(BenchError::MissingBinary(PathBuf::from("/x/initialize"))),
            ..measured
        };
        assert!(row(&missing).contains("| not measured: no binary at /x/initialize |"));
    }

    #[test]
    fn the_section_names_its_host_runs_bundle_and_targets() {
        let text = markdown(&[], &context(Some("/etc/ssl/certs/ca-certificates.crt")));
        assert!(text.starts_with("## Lambda start-up\n\nEach function's native release binary (x86_64, 2 cores; load average 1.00 / 2.00 / 3.00 when measured) was started 2 times, after one warm-up start,"));
        assert!(text.contains("*one CA bundle* repeats the runs with `SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt`: the TLS roots come from one file, as on `provided.al2023`, instead of that file plus this host's directory of one file per certificate. *Peak RSS* is VmHWM after the answer. *Zip* is the arm64 `bootstrap.zip` from `make build`. Targets: first answer ≤ 15 ms (median), zip ≤ 4.00 MiB.\n\n| function |"));
        assert!(
            text.ends_with(
                "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |\n"
            )
        );
        let without = markdown(&[], &context(None));
        assert!(!without.contains("one CA bundle*"));
        assert!(without.contains("answers with an error at once. *Peak RSS* is VmHWM"));
    }
}
