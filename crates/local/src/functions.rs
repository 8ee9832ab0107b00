//! The project's seven functions as in-process handlers (the same `invoke` entry points the
//! Lambda binaries call).

use std::collections::BTreeMap;

use crate::invoker::{HandlerFn, handler_fn};

/// Function name → handler, for every project function.
pub fn project_handlers() -> BTreeMap<String, HandlerFn> {
    let mut map: BTreeMap<String, HandlerFn> = BTreeMap::new();
    map.insert(
        "initialize".into(),
        handler_fn(|event, deps| async move { initialize::invoke(event, &deps).await }),
    );
    map.insert(
        "train".into(),
        handler_fn(|event, deps| async move { train::invoke(event, &deps).await }),
    );
    map.insert(
        "create-model".into(),
        handler_fn(|event, deps| async move { create_model::invoke(event, &deps).await }),
    );
    map.insert(
        "register-model".into(),
        handler_fn(|event, deps| async move { register_model::invoke(event, &deps).await }),
    );
    map.insert(
        "find-model".into(),
        handler_fn(|event, deps| async move { find_model::invoke(event, &deps).await }),
    );
    map.insert(
        "monitor-performance".into(),
        handler_fn(|event, deps| async move { monitor_performance::invoke(event, &deps).await }),
    );
    map.insert(
        "is-retraining-needed".into(),
        handler_fn(|event, deps| async move { is_retraining_needed::invoke(event, &deps).await }),
    );
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_project_function_has_a_handler() {
        let handlers = project_handlers();
        for (_, name) in crate::substitute::FUNCTIONS.iter() {
            assert!(handlers.contains_key(*name), "{name}");
        }
    }
}
