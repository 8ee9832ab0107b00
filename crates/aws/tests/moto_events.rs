//! The EventBridge adapter on moto's wire: a bus of the test's own, rules on it with an SQS queue
//! as their target (what a deployment pipeline or the template's approval rule would do), events
//! published through `EventBridgePublisher` (and the publishing registry), read back from the
//! queues as EventBridge delivers them, and validated against docs/events.md.
//!
//! Run with `scripts/with-servers.sh cargo nextest run -p mdlc-aws --test moto_events --run-ignored all`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;
use common::{moto_endpoint, test_sdk_loader, unique};
use mdlc_aws::eventbridge::{ENV_EVENT_BUS_NAME, EventBridgePublisher};
use mdlc_core::contract::sample_version;
use mdlc_core::events::publishing::PublishingRegistry;
use mdlc_core::events::{
    self, DetailType, EVENTS_DOC, Event, RetrainingStarted, documented_schemas,
};
use mdlc_core::memory::InMemoryRegistry;
use mdlc_core::ports::{EventPublisher, RegistryWrite};
use mdlc_core::registry::VersionStatus;
use mdlc_core::registry_ops::{Action, Operation};
use serde_json::{Value, json};

struct Bus {
    sdk: aws_config::SdkConfig,
    endpoint: String,
    name: String,
    sqs: aws_sdk_sqs::Client,
}

impl Bus {
    /// A new bus in moto.
    async fn new() -> Bus {
        let endpoint = moto_endpoint();
        let sdk = test_sdk_loader().endpoint_url(&endpoint).load().await;
        let name = unique("mdlc-bus");
        aws_sdk_eventbridge::Client::new(&sdk)
            .create_event_bus()
            .name(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateEventBus: {e:?}"));
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        Bus {
            sdk,
            endpoint,
            name,
            sqs,
        }
    }

    /// A queue receiving what the rule `pattern` matches on this bus; its URL.
    async fn rule_to_queue(&self, rule: &str, pattern: Value) -> String {
        let url = self
            .sqs
            .create_queue()
            .queue_name(unique(rule))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateQueue: {e:?}"))
            .queue_url()
            .expect("queue URL")
            .to_string();
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetQueueAttributes: {e:?}"));
        let arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .expect("queue ARN")
            .clone();
        let eb = aws_sdk_eventbridge::Client::new(&self.sdk);
        eb.put_rule()
            .name(rule)
            .event_bus_name(&self.name)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutRule: {e:?}"));
        let target = Target::builder()
            .id("queue")
            .arn(arn)
            .build()
            .expect("target");
        let out = eb
            .put_targets()
            .rule(rule)
            .event_bus_name(&self.name)
            .targets(target)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutTargets: {e:?}"));
        assert_eq!(out.failed_entry_count(), 0, "{out:?}");
        url
    }

    /// The adapter as the functions build it, with `MDLC_EVENT_BUS_NAME` naming this bus.
    fn publisher(&self) -> EventBridgePublisher {
        EventBridgePublisher::from_sdk_config(&self.sdk, Some(&self.endpoint), |name| {
            (name == ENV_EVENT_BUS_NAME).then(|| self.name.clone())
        })
    }

    /// Every message of the queue (bodies parsed), reading until `expected` arrived or a read
    /// finds nothing more.
    async fn drain(&self, url: &str, expected: usize) -> Vec<Value> {
        let mut out = Vec::new();
        for _ in 0..20 {
            let received = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap_or_else(|e| panic!("ReceiveMessage: {e:?}"));
            let messages = received.messages();
            for m in messages {
                let body = m.body().expect("a body");
                out.push(serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")));
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().expect("receipt handle"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("DeleteMessage: {e:?}"));
            }
            if out.len() >= expected && messages.is_empty() {
                break;
            }
        }
        out
    }
}

/// Every delivered event validates against its documented schema.
fn assert_documented(delivered: &[Value]) {
    let schemas = documented_schemas(EVENTS_DOC).expect("docs/events.md schemas");
    for e in delivered {
        let kind = DetailType::parse(e["detail-type"].as_str().unwrap_or_default())
            .unwrap_or_else(|| panic!("unknown detail-type: {e}"));
        assert_eq!(e["source"], kind.source(), "{e}");
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schemas[&kind])
            .expect("schema");
        let errors: Vec<String> = validator
            .iter_errors(&e["detail"])
            .map(|err| format!("{}: {err}", err.instance_path))
            .collect();
        assert!(errors.is_empty(), "{kind}: {errors:?}\n{e}");
    }
}

fn operation(version: u64, action: Action) -> Operation {
    Operation {
        model_name: "churn".into(),
        version,
        action,
        reason: "reviewed".into(),
        at: "2024-06-02T08:00:00.000Z".into(),
        expected_revision: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn registry_events_reach_a_rule_target_on_the_stack_bus_as_documented() {
    let bus = Bus::new().await;
    let all = bus
        .rule_to_queue(
            "mdlc-all",
            json!({"source": ["mdlc.registry", "mdlc.pipeline"]}),
        )
        .await;
    // The template's example rule: registrations awaiting approval.
    let approvals = bus
        .rule_to_queue(
            "mdlc-approvals",
            json!({"source": ["mdlc.registry"], "detail-type": ["Model Version Registered"],
                   "detail": {"status": ["PendingApproval"]}}),
        )
        .await;
    let publisher = Arc::new(bus.publisher());
    assert_eq!(publisher.bus(), bus.name);
    let registry = PublishingRegistry::new(
        Arc::new(InMemoryRegistry::new().with_actor("arn:aws:iam::123456789012:user/ops")),
        publisher,
    );
    registry
        .register_as(
            sample_version("churn", "e1"),
            VersionStatus::PendingApproval,
        )
        .await
        .expect("register (PendingApproval)");
    registry
        .register(sample_version("churn", "e2"))
        .await
        .expect("register");
    registry
        .operate(operation(1, Action::Approve))
        .await
        .expect("approve");

    let mut delivered = bus.drain(&all, 3).await;
    // A standard queue keeps no order: in publication order by the times they carry.
    delivered.sort_by_key(|e| {
        (
            e["time"].to_string(),
            e["detail-type"] == "Model Version Approved",
            e["detail"]["version"].as_u64(),
        )
    });
    let kinds: Vec<(String, u64)> = delivered
        .iter()
        .map(|e| {
            (
                e["detail-type"].as_str().unwrap().to_string(),
                e["detail"]["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Model Version Registered".to_string(), 1),
            ("Model Version Registered".to_string(), 2),
            ("Model Version Approved".to_string(), 1),
        ]
    );
    assert_documented(&delivered);
    let first = &delivered[0];
    assert_eq!(first["source"], "mdlc.registry");
    assert_eq!(first["detail"]["status"], "PendingApproval");
    assert_eq!(
        first["resources"],
        json!(["arn:aws:states:us-east-1:000000000000:execution:training:e1"])
    );
    assert_eq!(
        delivered[2]["detail"]["actor"],
        "arn:aws:iam::123456789012:user/ops"
    );

    let pending = bus.drain(&approvals, 1).await;
    assert_eq!(
        pending.len(),
        1,
        "only the registration awaiting approval: {pending:?}"
    );
    assert_eq!(pending[0]["detail"]["version"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn more_than_ten_events_are_published_in_several_calls_and_each_arrives_once() {
    let bus = Bus::new().await;
    let all = bus
        .rule_to_queue("mdlc-pipeline", json!({"source": ["mdlc.pipeline"]}))
        .await;
    let published: Vec<Event> = (0..13)
        .map(|n| {
            events::retraining_started(
                &RetrainingStarted {
                    model_name: "churn".into(),
                    version: n + 1,
                    execution_arn: format!(
                        "arn:aws:states:us-east-1:123456789012:execution:evaluation:e{n}"
                    ),
                    training_execution_name: format!("churn-retrain-{n}"),
                    reason: "degraded".into(),
                },
                "2024-06-03T00:00:00.000Z",
            )
        })
        .collect();
    bus.publisher()
        .publish(&published)
        .await
        .expect("13 events in two calls");
    let delivered = bus.drain(&all, 13).await;
    let versions: Vec<u64> = delivered
        .iter()
        .map(|e| e["detail"]["version"].as_u64().unwrap())
        .collect();
    let mut sorted = versions.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (1..=13).collect::<Vec<_>>(),
        "each event once: {versions:?}"
    );
    assert_documented(&delivered);
    let by_version: BTreeMap<u64, &Value> = delivered
        .iter()
        .map(|e| (e["detail"]["version"].as_u64().unwrap(), e))
        .collect();
    assert_eq!(
        by_version[&13]["detail"]["trainingExecutionName"],
        "churn-retrain-12"
    );
    assert_eq!(by_version[&1]["time"], "2024-06-03T00:00:00Z");
}
