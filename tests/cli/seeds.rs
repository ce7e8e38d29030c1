//! The seed job files in `jobs/`, run as a user would run them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::batchrun;

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies `jobs/` and `examples/` into a temporary folder so runs leave the checkout alone.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "out" && entry.file_name() != "data" {
                copy_tree(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn seeded() -> crate::harness::Batchrun {
    let b = batchrun();
    copy_tree(&project().join("jobs"), &b.path().join("jobs"));
    copy_tree(&project().join("examples"), &b.path().join("examples"));
    b
}

#[test]
fn weights_prints_the_eighteen_results_in_order() {
    let ran =
        batchrun().arg(project().join("jobs/weights.yaml").to_str().unwrap()).args(&["--output", "ordered"]).run();
    ran.success();
    let expected: Vec<String> = [("type1", 2), ("type2", 3)]
        .iter()
        .flat_map(|(name, w)| (1..=9).map(move |n| format!("{name} {n} {}", n * w)))
        .collect();
    assert_eq!(ran.stdout_lines(), expected);
}

#[test]
fn threads_runs_five_sleeps_on_two_workers() {
    // Sleeps of 3,1,2,1,2 units: 9 units one after another, 5 on two workers that each take
    // the next command when done.
    let ran = seeded().args(&["jobs/threads.yaml", "--set", "unit=0.3", "--progress", "plain"]).run();
    ran.success().stderr_has("5 tasks on 2 workers").stderr_has("5 succeeded");
    assert!(ran.elapsed >= Duration::from_millis(1500), "{:?}", ran.elapsed);
    assert!(ran.elapsed < Duration::from_millis(2700), "not parallel: {:?}", ran.elapsed);
}

#[test]
fn export_partitions_hold_every_row_exactly_once() {
    let ran = seeded().args(&["jobs/export.yaml", "--set", "rows=25000", "--progress", "plain"]).run();
    ran.success()
        .stdout_has("generated 25000 rows")
        .stdout_has("verified: 1 partitions hold all 25000 rows exactly once");
    let ran = seeded().args(&["jobs/export.yaml", "--set", "rows=250000", "--progress", "plain"]).run();
    ran.success().stdout_has("verified: 3 partitions hold all 250000 rows exactly once");
    ran.stderr_has("ok export[2]").stderr_has("ok verify");
}

#[test]
fn urls_fetches_every_listed_url() {
    let ran = seeded().args(&["jobs/urls.yaml", "--progress", "none"]).run();
    ran.success();
    let lines = ran.sorted_stdout();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines.iter().all(|l| l.contains(" bytes file://")), "{lines:?}");
    assert!(lines.iter().any(|l| l.ends_with("/examples/pages/alpha.html")));
}
