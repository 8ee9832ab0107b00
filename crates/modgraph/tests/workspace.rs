//! The crates' modules are layered: no import cycle (issue 12 item 3), each shared item has one
//! owner below its users. crates/asl and crates/jsonata have their own layering tests.

use std::path::{Path, PathBuf};

use mdlc_modgraph::assert_no_cycle;

fn crate_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

#[test]
fn the_aws_adapters_have_no_module_cycle() {
    assert_no_cycle(&crate_dir("aws"));
}

#[test]
fn the_cli_has_no_module_cycle() {
    assert_no_cycle(&crate_dir("cli"));
}

#[test]
fn the_core_has_no_module_cycle() {
    assert_no_cycle(&crate_dir("core"));
}

#[test]
fn the_local_cloud_has_no_module_cycle() {
    assert_no_cycle(&crate_dir("local"));
}

#[test]
fn the_child_process_crate_has_no_module_cycle() {
    assert_no_cycle(&crate_dir("proc"));
}

#[test]
fn the_step_functions_server_has_no_module_cycle() {
    assert_no_cycle(&crate_dir("serve"));
}

#[test]
fn the_emulator_has_no_module_cycle() {
    assert_no_cycle(&crate_dir("emulator"));
}

#[test]
fn the_trainer_has_no_module_cycle() {
    assert_no_cycle(&crate_dir("trainer"));
}

#[test]
fn the_tracking_client_has_no_module_cycle() {
    assert_no_cycle(&crate_dir("tracking"));
}

#[test]
fn the_statistics_have_no_module_cycle() {
    assert_no_cycle(&crate_dir("stats"));
}

#[test]
fn the_lambda_benchmark_has_no_module_cycle() {
    assert_no_cycle(&crate_dir("lambda-bench"));
}

#[test]
fn this_checker_has_no_module_cycle() {
    assert_no_cycle(Path::new(env!("CARGO_MANIFEST_DIR")));
}
