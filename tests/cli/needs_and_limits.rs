//! `needs` ordering and skipping, per-job caps, named limits, `start_gap`, `-j`, `--only`.

use std::time::Duration;

use crate::harness::batchrun;

#[test]
fn a_job_starts_after_every_task_it_needs() {
    let yaml = r#"
jobs:
  check:
    needs: [make]
    command: sh -c 'test $(ls marks | wc -l) -eq 5 && echo all-there'
  make:
    range: {from: 1, to: 5}
    command: sh -c 'sleep 0.05; touch marks/{{ start }}'
"#;
    let ran = batchrun().file("marks/.keep", "").job(yaml).args(&["-j", "4"]).run();
    ran.success();
    assert!(ran.stdout.contains("all-there"));
}

#[test]
fn jobs_needing_a_failed_job_are_skipped_with_the_reason() {
    let yaml = r#"
jobs:
  first:
    commands: ["true", "false"]
  second:
    needs: [first]
    command: touch second-ran
  third:
    needs: [second]
    command: touch third-ran
  independent:
    command: touch independent-ran
"#;
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.code(1)
        .stderr_has("SKIPPED second (1 task): it needs `first`, which failed")
        .stderr_has("SKIPPED third (1 task): it needs `second`, which was skipped")
        .stderr_has("2 succeeded, 1 failed, 2 skipped");
    assert!(!ran.path("second-ran").exists() && !ran.path("third-ran").exists());
    assert!(ran.path("independent-ran").exists(), "a failure must not stop unrelated jobs");
}

/// Each task marks itself running while it holds a slot; none may see more marks than the cap.
/// (A mark exists only while its task runs, so this can never see too many by accident; `ls`
/// does not list the `.keep` file that creates the folder.)
const OVERLAP: &str = "sh -c 'touch running/{{ job }}{{ index }}; ls running | wc -l >> seen; sleep 0.2; rm running/{{ job }}{{ index }}'";

fn max_seen(ran: &crate::harness::Ran) -> usize {
    ran.read("seen").lines().map(|l| l.trim().parse::<usize>().unwrap()).max().unwrap()
}

#[test]
fn a_job_cap_holds_under_more_workers() {
    let yaml = format!("jobs:\n  a:\n    concurrency: 2\n    range: {{from: 1, to: 6}}\n    command: {OVERLAP}\n");
    let ran = batchrun().file("running/.keep", "").job(&yaml).args(&["-j", "6"]).run();
    ran.success();
    assert!(max_seen(&ran) <= 2, "at most 2 tasks of the job at once");
}

#[test]
fn a_named_limit_is_shared_across_jobs() {
    let yaml = format!(
        "limits: {{db: 2}}\njobs:\n  a:\n    uses: [db]\n    range: {{from: 1, to: 4}}\n    command: {OVERLAP}\n  b:\n    uses: [db]\n    range: {{from: 1, to: 4}}\n    command: {OVERLAP}\n"
    );
    let ran = batchrun().file("running/.keep", "").job(&yaml).args(&["-j", "8"]).run();
    ran.success();
    assert!(max_seen(&ran) <= 2, "at most 2 tasks using `db` at once");
}

#[test]
fn workers_flag_bounds_parallelism() {
    let yaml = format!("jobs:\n  a:\n    range: {{from: 1, to: 6}}\n    command: {OVERLAP}\n");
    let ran = batchrun().file("running/.keep", "").job(&yaml).args(&["-j", "1"]).run();
    ran.success();
    assert_eq!(max_seen(&ran), 1, "one task at a time");
}

#[test]
fn start_gap_spaces_the_starts_of_a_job() {
    let ran = batchrun()
        .job("jobs:\n  a:\n    start_gap: 200ms\n    range: {from: 1, to: 4}\n    command: 'true'\n")
        .args(&["-j", "4"])
        .run();
    ran.success();
    assert!(ran.elapsed >= Duration::from_millis(600), "4 starts 200ms apart take 600ms at least: {:?}", ran.elapsed);
}

#[test]
fn only_runs_a_job_and_what_it_needs() {
    let yaml = "jobs:\n  base:\n    command: touch base\n  mid:\n    needs: [base]\n    command: touch mid\n  other:\n    command: touch other\n";
    let ran = batchrun().job(yaml).args(&["--only", "mid"]).run();
    ran.success();
    assert!(ran.path("base").exists() && ran.path("mid").exists());
    assert!(!ran.path("other").exists());
    let ran = batchrun().job(yaml).args(&["--only", "mdi"]).run();
    ran.code(2).stderr_has("no job `mdi`; did you mean `mid`?");
}

#[test]
fn set_overrides_a_var_and_rejects_unknown_ones() {
    let yaml = "vars:\n  n: 1\njobs:\n  a:\n    command: echo {{ n + 1 }}\n";
    let ran = batchrun().job(yaml).args(&["--set", "n=41"]).run();
    ran.success();
    assert_eq!(ran.stdout, "42\n");
    batchrun().job(yaml).args(&["--set", "m=2"]).run().code(2).stderr_has("no var `m`");
}
