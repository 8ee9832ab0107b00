//! The shared registry behaviour suite (`mdlc_core::contract`) against the embedded registry.

use std::sync::Arc;

use mdlc_core::contract;
use mdlc_local::FsRegistry;

fn registry() -> (tempfile::TempDir, Arc<FsRegistry>) {
    let dir = tempfile::tempdir().expect("temp dir");
    // The machine running the tests may have no USER: name the operator.
    let reg =
        Arc::new(FsRegistry::new(dir.path().join("registry")).with_actor("contract-operator"));
    (dir, reg)
}

#[tokio::test]
async fn contract_registers_idempotently_per_execution() {
    let (_d, r) = registry();
    contract::registers_idempotently_per_execution(r).await;
}

#[tokio::test]
async fn contract_concurrent_registrations_are_gap_free() {
    let (_d, r) = registry();
    contract::concurrent_registrations_are_gap_free(r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_concurrent_registrations_are_gap_free_on_threads() {
    let (_d, r) = registry();
    contract::concurrent_registrations_are_gap_free(r).await;
}

#[tokio::test]
async fn contract_latest_version_respects_statuses() {
    let (_d, r) = registry();
    contract::latest_version_respects_statuses(r).await;
}

#[tokio::test]
async fn contract_gets_and_lists_versions() {
    let (_d, r) = registry();
    contract::gets_and_lists_versions(r).await;
}

#[tokio::test]
async fn contract_records_and_lists_evaluations() {
    let (_d, r) = registry();
    contract::records_and_lists_evaluations(r).await;
}

#[tokio::test]
async fn contract_set_status_changes_only_the_status() {
    let (_d, r) = registry();
    contract::set_status_changes_only_the_status(r).await;
}

#[tokio::test]
async fn contract_run_all_on_one_database() {
    let (_d, r) = registry();
    contract::run_all(r).await;
}

#[tokio::test]
async fn contract_operations_change_status_and_record_history() {
    let (_d, r) = registry();
    contract::operations_change_status_and_record_history(r).await;
}

#[tokio::test]
async fn contract_rollback_makes_an_earlier_version_the_latest() {
    let (_d, r) = registry();
    contract::rollback_makes_an_earlier_version_the_latest(r).await;
}

#[tokio::test]
async fn contract_stale_operations_conflict_and_change_nothing() {
    let (_d, r) = registry();
    contract::stale_operations_conflict_and_change_nothing(r).await;
}

#[tokio::test]
async fn contract_pending_versions_wait_for_approval() {
    let (_d, r) = registry();
    contract::pending_versions_wait_for_approval(r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_concurrent_operations_never_lose_a_change_on_threads() {
    let (_d, r) = registry();
    contract::concurrent_operations_never_lose_a_change(r).await;
}
