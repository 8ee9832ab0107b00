//! The project's seven functions as in-process handlers (the same `invoke` entry points the
//! Lambda binaries call).

use std::collections::BTreeMap;

use crate::invoker::HandlerFn;

/// Function name → handler, for every project function.
pub fn project_handlers() -> BTreeMap<String, HandlerFn> {
    // Filled in as the function packages publish their `invoke` entry points.
    BTreeMap::new()
}
