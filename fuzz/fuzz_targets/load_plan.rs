//! Fuzzes what batchrun does with a job file before running anything: parse, validate, plan,
//! and render the first tasks. Any panic, hang or runaway allocation is a bug; every crash
//! found becomes a fixture under `tests/fixtures/invalid/` or a unit test.
//!
//! Computed vars (`{sh: CMD}`) are replaced by a literal before planning: a fuzzer must never
//! run the commands it invents.

#![no_main]

use std::path::Path;

use batchrun::config::Var;
use batchrun::plan::{Plan, PlanOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(mut file) = batchrun::config::parse(Path::new("/nonexistent/fuzz.yaml"), text) else { return };
    for var in file.vars.values_mut() {
        if matches!(var.value, Var::Command(_)) {
            var.value = Var::Literal(serde_json::json!(1));
        }
    }
    if let Ok(plan) = Plan::new(file, &PlanOptions::default()) {
        for task in plan.all_tasks().take(64) {
            let _ = task;
        }
    }
});
