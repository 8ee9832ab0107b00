//! What every Lambda bin does before and around its handler: tracing (JSON when
//! `AWS_LAMBDA_LOG_FORMAT=json`), [`FunctionConfig::from_env`], the AWS adapters built once
//! (no network call at init), and `lambda_runtime::run(service_fn(..))` over the function's
//! uniform `invoke` entry point. A handler failure becomes a Lambda error whose `errorType` is
//! the stable name the state machines match on.
//!
//! Feature `eventbridge` (off by default): the functions that publish events (register-model
//! through the registry handle, is-retraining-needed directly) enable it and get the
//! EventBridge publisher; the others link no EventBridge client, and their dependencies refuse
//! to publish ([`no_events`]). A publishing function asserts [`PUBLISHES_EVENTS`] at compile time.

use std::future::Future;
use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use mdlc_core::ports::{EventPublisher, RegistryWrite, SystemClock};
use mdlc_core::{Dependencies, FunctionConfig, HandlerFailure};
use serde_json::Value;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub mod no_events;

/// Whether this build publishes events to EventBridge (feature `eventbridge`). A function that
/// publishes says `const _: () = assert!(mdlc_lambda::PUBLISHES_EVENTS, ...)`, so building it
/// without the feature fails.
pub const PUBLISHES_EVENTS: bool = cfg!(feature = "eventbridge");

/// The Lambda error of a handler failure.
pub fn to_diagnostic(failure: HandlerFailure) -> Diagnostic {
    Diagnostic {
        error_type: failure.error_type,
        error_message: failure.message,
    }
}

/// Installs the tracing subscriber: JSON lines when `AWS_LAMBDA_LOG_FORMAT` is `json`,
/// plain text otherwise; level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default `info`), read
/// by [`log_filter`].
pub fn init_tracing() {
    let setting = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    let filter = log_filter(&setting);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        // the fmt subscriber's own level filter lets everything through: `filter` decides
        .with_max_level(LevelFilter::TRACE)
        .with_target(false)
        .without_time()
        .with_ansi(false);
    // A second initialisation (tests) is not an error worth failing for.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .finish()
            .with(filter)
            .try_init()
    } else {
        builder.finish().with(filter).try_init()
    };
}

/// The filter of a log-level setting (`AWS_LAMBDA_LOG_LEVEL`, `RUST_LOG`), case-insensitive:
/// a level (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `off`) or `RUST_LOG`'s comma-separated
/// `target=level` directives, parsed as [`Targets`] (no regular expressions: `tracing_subscriber`'s
/// `EnvFilter`, which this replaced, linked regex-automata into every bootstrap). For levels and
/// target directives it decides as `EnvFilter` did; `EnvFilter`'s field-value filters
/// (`target[{field=value}]=level`) are not understood and, like any setting that cannot be parsed,
/// give `info`. A bare word that is not a level names a target, so Lambda's `FATAL` enables only
/// the (absent) target `fatal`, and these functions, which log nothing at a fatal level, log
/// nothing: as before. An empty setting logs nothing, as before.
pub fn log_filter(setting: &str) -> Targets {
    let setting = setting.to_lowercase();
    if setting.is_empty() {
        return Targets::new();
    }
    setting
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO))
}

/// Builds the dependencies from the environment: [`FunctionConfig::from_env`],
/// `mdlc_aws::AwsAdapters` and the event side ([`event_side`]): with the feature `eventbridge`
/// the EventBridge publisher (bus `MDLC_EVENT_BUS_NAME`, default `default`) and a registry
/// handle that publishes its registrations (docs/events.md); without it [`no_events`].
pub async fn dependencies_from_env() -> Result<Dependencies, lambda_runtime::Error> {
    let config = FunctionConfig::from_env()?;
    let aws_config = mdlc_aws::AwsConfig::from_env()?;
    let sdk = aws_config.load_sdk_config().await;
    let aws = mdlc_aws::AwsAdapters::from_sdk_config(&sdk, &aws_config);
    let (events, registry_write) = event_side(&sdk, &aws_config, aws.registry.clone());
    Ok(Dependencies {
        store: aws.store.clone(),
        registry_read: aws.registry.clone(),
        registry_write,
        sagemaker: aws.sagemaker.clone(),
        clock: Arc::new(SystemClock),
        events,
        config,
    })
}

/// The publisher and the registry handle: EventBridge, and the registry publishing its changes.
#[cfg(feature = "eventbridge")]
fn event_side(
    sdk: &aws_config::SdkConfig,
    aws_config: &mdlc_aws::AwsConfig,
    registry: Arc<dyn RegistryWrite>,
) -> (Arc<dyn EventPublisher>, Arc<dyn RegistryWrite>) {
    let events: Arc<dyn EventPublisher> =
        Arc::new(mdlc_aws::EventBridgePublisher::from_sdk_config(
            sdk,
            aws_config.endpoint_url.as_deref(),
            |name| std::env::var(name).ok(),
        ));
    let registry = Arc::new(mdlc_core::events::publishing::PublishingRegistry::new(
        registry,
        events.clone(),
    ));
    (events, registry)
}

/// Without an event bus: a publisher and a registry handle that refuse what would publish.
#[cfg(not(feature = "eventbridge"))]
fn event_side(
    _sdk: &aws_config::SdkConfig,
    _aws_config: &mdlc_aws::AwsConfig,
    registry: Arc<dyn RegistryWrite>,
) -> (Arc<dyn EventPublisher>, Arc<dyn RegistryWrite>) {
    (
        Arc::new(no_events::NoEventBus),
        Arc::new(no_events::NoEventBusRegistry::new(registry)),
    )
}

/// Runs the Lambda loop for one function: `invoke` is the function's uniform entry point over
/// the [`Dependencies`] built from the environment.
pub async fn run<F, Fut>(name: &'static str, invoke: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Value, &'static Dependencies) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, HandlerFailure>> + Send,
{
    init_tracing();
    let deps = dependencies_from_env().await?;
    serve(name, deps, invoke).await
}

/// The Lambda loop over dependencies of any type (a function that needs more than
/// [`Dependencies`] builds its own, after [`init_tracing`]): each event goes to `invoke`, a
/// failure is logged with the request id and returned as the Lambda error of its stable name.
pub async fn serve<D, F, Fut>(
    name: &'static str,
    deps: D,
    invoke: F,
) -> Result<(), lambda_runtime::Error>
where
    D: Send + Sync + 'static,
    F: Fn(Value, &'static D) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, HandlerFailure>> + Send,
{
    let deps: &'static D = Box::leak(Box::new(deps));
    tracing::info!(function = name, "initialized");
    let invoke = &invoke;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let request_id = event.context.request_id.clone();
        let result = invoke(event.payload, deps).await;
        if let Err(failure) = &result {
            tracing::warn!(
                function = name,
                request_id = %request_id,
                error_type = %failure.error_type,
                error = %failure.message,
                "handler failed"
            );
        }
        result.map_err(to_diagnostic)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_keeps_its_stable_name() {
        let d = to_diagnostic(HandlerFailure {
            error_type: "ModelNotFound".into(),
            message: "no version".into(),
        });
        assert_eq!(d.error_type, "ModelNotFound");
        assert_eq!(d.error_message, "no version");
    }

    use tracing::Level;

    /// Which of these (target, level) pairs the filter of `setting` lets through.
    fn passes(setting: &str) -> Vec<(&'static str, Level)> {
        let filter = log_filter(setting);
        let probes = [
            ("initialize", Level::ERROR),
            ("initialize", Level::WARN),
            ("initialize", Level::INFO),
            ("initialize", Level::DEBUG),
            ("initialize", Level::TRACE),
            ("mdlc_aws", Level::DEBUG),
            ("hyper", Level::WARN),
        ];
        probes
            .into_iter()
            .filter(|(target, level)| filter.would_enable(target, level))
            .collect()
    }

    #[test]
    fn lambda_log_levels_set_the_lowest_level_logged() {
        use Level as L;
        assert_eq!(
            passes("INFO"),
            [
                ("initialize", L::ERROR),
                ("initialize", L::WARN),
                ("initialize", L::INFO),
                ("hyper", L::WARN)
            ]
        );
        assert_eq!(passes("ERROR"), [("initialize", L::ERROR)]);
        assert_eq!(passes("WARN").len(), 3);
        assert_eq!(passes("DEBUG").len(), 6);
        assert_eq!(passes("TRACE").len(), 7);
        assert_eq!(passes("off"), []);
    }

    #[test]
    fn rust_log_target_directives_are_honoured() {
        use Level as L;
        assert_eq!(
            passes("mdlc_aws=debug,error"),
            [("initialize", L::ERROR), ("mdlc_aws", L::DEBUG)]
        );
        assert_eq!(
            passes("warn,hyper=off"),
            [("initialize", L::ERROR), ("initialize", L::WARN)]
        );
    }

    #[test]
    fn fatal_empty_and_unparsable_settings_keep_their_former_meaning() {
        // FATAL names a target no event of these functions has; an empty setting logs nothing
        assert_eq!(passes("FATAL"), []);
        assert_eq!(passes(""), []);
        // a bad level, or EnvFilter's field-value filter, falls back to info
        assert_eq!(passes("initialize=loud"), passes("info"));
        assert_eq!(passes("initialize[{id=1}]=debug"), passes("info"));
    }
}
