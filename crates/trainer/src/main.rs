//! `mdlc-trainer`: train / serve / predict / generate / preprocess.

use clap::{Parser, Subcommand};
use mdlc_trainer::container::{ContainerPaths, run_training_job};
use mdlc_trainer::data::{GenerateConfig, Problem, generate, write_dir};
use mdlc_trainer::dataset::Layout;
use mdlc_trainer::model::Model;
use mdlc_trainer::preprocess::{ProcessingConfig, run_processing_job};
use mdlc_trainer::serve::{
    MAX_PAYLOAD_ENV, Options, PORT_ENV, Server, format_predictions, max_payload_from_env,
    port_from_env, predict_csv,
};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mdlc-trainer",
    version,
    about = "XGBoost-compatible gradient-boosted trees by the SageMaker container contract"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train by the SageMaker training contract (SM_* variables, MDLC_OPT_ML or /opt/ml).
    Train,
    /// Serve the model by the SageMaker inference contract (/ping, /invocations).
    Serve {
        /// Model directory (default: SM_MODEL_DIR, $MDLC_OPT_ML/model or /opt/ml/model).
        #[arg(long)]
        model_dir: Option<PathBuf>,
        /// Port (default: SAGEMAKER_BIND_TO_PORT or 8080); listens on 127.0.0.1.
        #[arg(long)]
        port: Option<u16>,
        /// Request threads.
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
    /// Predict a CSV file: one prediction per line on stdout.
    Predict {
        #[arg(long)]
        model_dir: PathBuf,
        #[arg(long)]
        input: PathBuf,
        /// The input's first column is a label, to be skipped.
        #[arg(long)]
        label_first: bool,
    },
    /// Generate seeded synthetic data: train, validation, holdout and drifted CSVs.
    Generate {
        #[arg(long, default_value = "regression", value_parser = ["regression", "binary"])]
        problem: String,
        #[arg(long, default_value_t = 10_000)]
        rows: usize,
        #[arg(long, default_value_t = 10)]
        features: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        validation_rows: Option<usize>,
        #[arg(long)]
        holdout_rows: Option<usize>,
        #[arg(long)]
        drift_rows: Option<usize>,
    },
    /// Split a raw labelled CSV into train/validation and write a data profile (processing contract).
    Preprocess {
        /// Input file or directory (default: $MDLC_OPT_ML/processing/input or /opt/ml/processing/input).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Output root with train/, validation/ and profile/ (default: .../processing/output).
        #[arg(long)]
        output: Option<PathBuf>,
        #[arg(long)]
        train_output: Option<PathBuf>,
        #[arg(long)]
        validation_output: Option<PathBuf>,
        #[arg(long)]
        profile_output: Option<PathBuf>,
        #[arg(long, alias = "ratio", default_value_t = 0.8)]
        train_ratio: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// regression, binary or auto (binary when every label is 0 or 1).
        #[arg(long, default_value = "auto", value_parser = ["auto", "regression", "binary"])]
        problem: String,
        /// Quantile bins per column in the profile.
        #[arg(long, default_value_t = 10)]
        bins: usize,
        /// Profile the input only: it is already split into channels that training reads
        /// where they are (no train/validation output).
        #[arg(long, conflicts_with_all = ["train_ratio", "seed"])]
        profile_only: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mdlc-trainer: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Train => {
            let paths = ContainerPaths::from_process_env();
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            run_training_job(&paths, &mut out)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Command::Serve {
            model_dir,
            port,
            workers,
        } => {
            let dir = model_dir.unwrap_or_else(|| ContainerPaths::from_process_env().model_dir);
            let model = Model::load_dir(&dir).map_err(|e| e.to_string())?;
            let port = match port {
                Some(p) => p,
                None => port_from_env(std::env::var(PORT_ENV).ok().as_deref())
                    .map_err(|e| e.to_string())?,
            };
            let max_payload_bytes =
                max_payload_from_env(std::env::var(MAX_PAYLOAD_ENV).ok().as_deref())
                    .map_err(|e| e.to_string())?;
            let options = Options {
                workers,
                max_payload_bytes,
            };
            let server = Server::start_with(model, &format!("127.0.0.1:{port}"), options)
                .map_err(|e| e.to_string())?;
            eprintln!(
                "mdlc-trainer: serving {} on http://{}",
                dir.display(),
                server.local_addr()
            );
            server.wait();
            Ok(())
        }
        Command::Predict {
            model_dir,
            input,
            label_first,
        } => {
            let model = Model::load_dir(&model_dir).map_err(|e| e.to_string())?;
            let text = std::fs::read_to_string(&input)
                .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
            let layout = if label_first {
                Layout::LabelFirst
            } else {
                Layout::FeaturesOnly
            };
            let preds = predict_csv(&model, &text, layout)
                .map_err(|e| format!("{}: {e}", input.display()))?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            match out
                .write_all(format_predictions(&preds).as_bytes())
                .and_then(|()| out.flush())
            {
                // A closed pipe (`| head`) is the reader's choice, not a failure.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
                _ => Ok(()),
            }
        }
        Command::Generate {
            problem,
            rows,
            features,
            seed,
            out,
            validation_rows,
            holdout_rows,
            drift_rows,
        } => {
            let problem =
                Problem::parse(&problem).ok_or_else(|| format!("unknown problem {problem:?}"))?;
            let cfg = GenerateConfig {
                validation_rows,
                holdout_rows,
                drift_rows,
                ..GenerateConfig::new(problem, rows, features, seed)
            };
            let data = generate(&cfg).map_err(|e| e.to_string())?;
            let files = write_dir(&data, &cfg, &out)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            for f in files {
                println!("{}", f.display());
            }
            Ok(())
        }
        Command::Preprocess {
            input,
            output,
            train_output,
            validation_output,
            profile_output,
            train_ratio,
            seed,
            problem,
            bins,
            profile_only,
        } => {
            let mut cfg = ProcessingConfig::from_env(&|k| std::env::var(k).ok());
            if let Some(i) = input {
                cfg.input = i;
            }
            if let Some(o) = output {
                cfg.train_output = o.join("train");
                cfg.validation_output = o.join("validation");
                cfg.profile_output = o.join("profile");
            }
            if let Some(o) = train_output {
                cfg.train_output = o;
            }
            if let Some(o) = validation_output {
                cfg.validation_output = o;
            }
            if let Some(o) = profile_output {
                cfg.profile_output = o;
            }
            cfg.train_ratio = train_ratio;
            cfg.seed = seed;
            cfg.problem = Problem::parse(&problem);
            cfg.bins = bins.clamp(2, 1000);
            cfg.profile_only = profile_only;
            let s = run_processing_job(&cfg).map_err(|e| e.to_string())?;
            match s.split {
                Some((train, validation)) => println!(
                    "{} problem: {train} train rows, {validation} validation rows",
                    s.problem.name()
                ),
                None => println!("{} problem: {} rows profiled", s.problem.name(), s.rows),
            }
            for f in s.written {
                println!("{}", f.display());
            }
            Ok(())
        }
    }
}
