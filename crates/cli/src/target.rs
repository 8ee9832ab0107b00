//! Where the operating commands act: the local cloud (`--state-dir DIR`, default `.mdlc`) or a
//! deployed stack (`--stack NAME`): its CloudFormation outputs (DescribeStacks) name the registry
//! table and the two state machines, with the usual AWS profile, region and credential
//! resolution (`AWS_PROFILE`, `AWS_REGION`, `~/.aws/config`, ...; `AWS_ENDPOINT_URL` too).

use std::path::PathBuf;
use std::sync::Arc;

use aws_config::SdkConfig;
use clap::Args;
use mdlc_aws::{AwsAdapters, AwsConfig, DynamoDbRegistry, EventBridgePublisher};
use mdlc_core::events::publishing::PublishingRegistry;
use mdlc_core::ports::{RegistryRead, RegistryWrite};
use mdlc_local::{EventLog, FsRegistry};

use crate::error::{CliError, sdk_error};
use crate::flows::aws::AwsFlows;
use crate::flows::local::LocalFlows;

/// The stack outputs the CLI reads (infra/template.yaml `Outputs`).
pub const OUTPUT_TABLE: &str = "RegistryTableName";
pub const OUTPUT_TRAINING: &str = "TrainingStateMachineArn";
pub const OUTPUT_EVALUATION: &str = "EvaluationStateMachineArn";
/// The bus the stack publishes its events to (docs/events.md); stacks deployed before it was an
/// output publish to the account's `default` bus.
pub const OUTPUT_EVENT_BUS: &str = "EventBusName";

/// The options every operating command takes.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The local cloud's state directory.
    #[arg(long, value_name = "DIR", default_value = ".mdlc", global = true)]
    pub state_dir: PathBuf,
    /// A deployed stack instead of the local cloud: its CloudFormation outputs name the registry
    /// table and the state machines (AWS profile, region and credentials as the AWS CLI resolves
    /// them).
    #[arg(long, value_name = "NAME", global = true)]
    pub stack: Option<String>,
    /// One JSON document on stdout (stable field names) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A deployed stack, resolved.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub table: String,
    pub flows: AwsFlows,
    pub sdk: SdkConfig,
    /// The stack's event bus (output `EventBusName`).
    pub event_bus: String,
}

/// The local cloud or a stack.
#[derive(Debug, Clone)]
pub enum Target {
    Local(LocalFlows),
    Aws(Box<Stack>),
}

impl TargetArgs {
    /// The target: the stack when `--stack` is given (one DescribeStacks call), else the
    /// local cloud.
    pub async fn resolve(&self) -> Result<Target, CliError> {
        match &self.stack {
            None => Ok(Target::Local(LocalFlows::new(&self.state_dir))),
            Some(name) => Ok(Target::Aws(Box::new(Stack::resolve(name).await?))),
        }
    }
}

impl Stack {
    /// Reads the stack's outputs with the standard AWS configuration.
    pub async fn resolve(name: &str) -> Result<Stack, CliError> {
        let sdk = mdlc_aws::sdk_loader().load().await;
        let cfn = aws_sdk_cloudformation::Client::new(&sdk);
        let out = cfn
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeStacks", e))?;
        let stack = out
            .stacks()
            .first()
            .ok_or_else(|| CliError::NotFound(format!("stack {name:?} does not exist")))?;
        let output = |key: &str| {
            stack
                .outputs()
                .iter()
                .find(|o| o.output_key() == Some(key))
                .and_then(|o| o.output_value())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "stack {name:?} has no output {key} (is it an mdlc stack? see infra/template.yaml Outputs)"
                    ))
                })
        };
        let table = output(OUTPUT_TABLE)?;
        let event_bus = output(OUTPUT_EVENT_BUS).unwrap_or_else(|_| "default".to_string());
        let flows = AwsFlows::new(
            aws_sdk_sfn::Client::new(&sdk),
            output(OUTPUT_TRAINING)?,
            output(OUTPUT_EVALUATION)?,
        );
        Ok(Stack {
            name: name.to_string(),
            table,
            flows,
            sdk,
            event_bus,
        })
    }

    /// The stack's registry; operations record the caller's STS identity.
    pub fn registry(&self) -> Arc<DynamoDbRegistry> {
        let config = AwsConfig::new(self.table.clone());
        let adapters = AwsAdapters::from_sdk_config(&self.sdk, &config);
        let sts = mdlc_aws::sts_client(&self.sdk, &config);
        Arc::new(adapters.registry.as_ref().clone().with_caller_identity(sts))
    }
}

/// The registry of a target, for reading and operating. Locally the actor is `actor` (the
/// `--actor` option), else the OS user; on a stack `--actor` is refused (the STS identity is
/// recorded). Its operations are published (docs/events.md): locally to the state directory's
/// event log, on a stack to its bus.
pub struct Registry {
    pub read: Arc<dyn RegistryRead>,
    pub write: Arc<dyn RegistryWrite>,
}

impl Target {
    pub fn registry(&self, actor: Option<&str>) -> Result<Registry, CliError> {
        match self {
            Target::Local(flows) => {
                let mut registry = FsRegistry::new(flows.state_dir().join("registry"));
                if let Some(a) = actor {
                    registry = registry.with_actor(a);
                }
                let registry = Arc::new(registry);
                let events = Arc::new(EventLog::new(flows.state_dir()));
                Ok(Registry {
                    read: registry.clone(),
                    write: Arc::new(PublishingRegistry::new(registry, events)),
                })
            }
            Target::Aws(stack) => {
                if actor.is_some() {
                    return Err(CliError::Usage(
                        "--actor is for the local cloud; on a stack the caller's STS identity is recorded".into(),
                    ));
                }
                let registry = stack.registry();
                let events = Arc::new(EventBridgePublisher::on_bus(
                    &stack.sdk,
                    None,
                    stack.event_bus.clone(),
                ));
                Ok(Registry {
                    read: registry.clone(),
                    write: Arc::new(PublishingRegistry::new(registry, events)),
                })
            }
        }
    }
}
