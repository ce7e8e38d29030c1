//! `plan`: the tasks without running them, as text or streamed JSON lines.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::harness::batchrun;

const JOB: &str = "jobs:\n  prep:\n    command: touch ran\n  export:\n    needs: [prep]\n    range: {from: 1, to: 250, step: 100}\n    command: ./export.sh {{ start }} {{ end }}\n";

#[test]
fn plan_json_is_one_object_per_task() {
    let ran = batchrun().file("job.yaml", JOB).args(&["plan", "--format", "json", "job.yaml"]).run();
    ran.success();
    let lines = ran.json_lines();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["label"], "prep");
    assert_eq!(lines[3]["job"], "export");
    assert_eq!(lines[3]["index"], 2);
    assert_eq!(lines[3]["label"], "export[2]");
    assert_eq!(lines[3]["command"], "./export.sh 201 250");
    assert_eq!(lines[3]["vars"]["start"], 201);
    assert!(!ran.path("ran").exists(), "plan runs nothing");
}

#[test]
fn plan_text_and_dry_run_agree_and_run_nothing() {
    let plan = batchrun().file("job.yaml", JOB).args(&["plan", "job.yaml"]).run();
    plan.success().stdout_has("job: 4 tasks in 2 jobs").stdout_has("export[1]: ./export.sh 101 200");
    let dry = batchrun().job(JOB).arg("--dry-run").run();
    dry.success();
    assert_eq!(plan.stdout, dry.stdout);
    assert!(!dry.path("ran").exists());
}

#[test]
fn plan_streams_a_range_too_large_to_hold() {
    // 10^12 partitions: only a lazy planner can print the first lines at all.
    let dir = tempfile::tempdir().unwrap();
    let yaml = "jobs:\n  huge:\n    range: {from: 1, to: 1000000000000}\n    command: echo {{ start }}\n";
    std::fs::write(dir.path().join("job.yaml"), yaml).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir.path())
        .args(["plan", "--format", "json", "job.yaml"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let second: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["command"], "echo 1");
    assert_eq!(second["command"], "echo 2");
    drop(lines); // closing the pipe ends batchrun (EPIPE)
    let status = child.wait().unwrap();
    assert!(status.success(), "a closed pipe is not an error: {status}");
}

#[test]
fn validate_counts_a_huge_range_without_expanding_it() {
    let ran = batchrun()
        .file(
            "job.yaml",
            "jobs:\n  huge:\n    range: {from: 1, to: 10000000, step: 1}\n    command: echo {{ start }}\n",
        )
        .args(&["validate", "job.yaml"])
        .run();
    ran.success().stderr_has("ok (10,000,000 tasks in 1 job)");
}

/// `plan` shows a task of an items file that cannot be rendered in its place, says which name
/// it lacks, and counts such tasks in words.
#[test]
fn plan_marks_a_task_it_cannot_render_and_exits_2() {
    let yaml = "jobs:\n  a:\n    items: {file: rows.jsonl, format: jsonl}\n    command: echo {{ item.id }}\n";
    let ran = batchrun().file("rows.jsonl", "{\"id\": 1}\n{\"name\": 2}\n").arg("plan").job(yaml).run();
    ran.code(2)
        .stdout_has("a[name=2]: ERROR command: `item.id` is not defined for this task")
        .stderr_has("error: 1 task could not be rendered");
}

/// Data written in the job file is all known, so every task of a matrix or of inline items is
/// checked before anything runs, not only the first.
#[test]
fn every_task_of_a_matrix_is_checked_before_the_run() {
    let yaml = "jobs:\n  a:\n    matrix: {p: [1, 2], include: [{r: 3}, {r: 4}]}\n    command: touch {{ p }}\n";
    let ran = batchrun().job(yaml).run();
    ran.code(2).stderr_has("job `a`, task a[r=3]: command: `p` is not defined for this task (and 1 more task)");
    assert!(!ran.path("1").exists(), "a task ran");
}
