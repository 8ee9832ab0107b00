//! The engine's modules are layered (issue 12 item 3): no module of `src/` uses, directly or
//! through others, a module that uses it. The graph is read by `mdlc-modgraph` from
//! `src/**/*.rs` (every `crate::`, `super::`, `self::` and child-module path; nested modules such
//! as `exec::map` are nodes of their own).
//!
//! The executor is `exec/`: its shared run types (`exec::types`, `exec::failure`, `exec::eval`)
//! sit below both the run loop (`exec`) and the Distributed Map's item reader, batcher and
//! result writer (`distributed`); the state modules (`exec::map`, …) sit above the run loop.

use std::path::Path;

use mdlc_modgraph::{ModuleGraph, assert_no_cycle};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_modules_of_the_engine_have_no_import_cycle() {
    assert_no_cycle(crate_dir());
}

#[test]
fn the_distributed_map_uses_the_shared_run_types_and_not_the_run_loop() {
    let graph = match ModuleGraph::of_crate(crate_dir()) {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    };
    let uses = |from: &str| graph.uses(from).collect::<Vec<_>>().join(", ");
    // the Map state reads, batches and writes through the distributed module …
    assert!(
        graph
            .edge("crate::exec::map", "crate::distributed")
            .is_some(),
        "exec::map uses: {}",
        uses("crate::exec::map")
    );
    // … which reaches only below the run loop
    for below in [
        "crate::exec::types",
        "crate::exec::failure",
        "crate::exec::eval",
    ] {
        assert!(
            graph.edge("crate::distributed", below).is_some(),
            "distributed should use {below}; it uses: {}",
            uses("crate::distributed")
        );
    }
    for above in ["crate::exec", "crate::exec::map"] {
        assert!(
            graph.edge("crate::distributed", above).is_none(),
            "distributed must not use {above}; it uses: {}",
            uses("crate::distributed")
        );
    }
}
