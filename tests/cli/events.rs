//! `--events json`: the run's events as JSON lines on stdout, live.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::batchrun;

#[test]
fn every_event_is_a_json_line_on_stdout_and_task_output_moves_to_stderr() {
    let job = r#"
jobs:
  a:
    commands: ["echo from-a", "sh -c 'echo oops >&2; exit 3'"]
    retries: 1
    retry_delay: 10ms
  b:
    needs: [a]
    command: echo never
"#;
    let ran = batchrun().job(job).args(&["--events", "json", "--progress", "none"]).run();
    ran.code(1);
    assert!(
        ran.stdout.lines().all(|l| l.starts_with('{')),
        "task output must leave stdout to the events: {}",
        ran.stdout
    );
    ran.stderr_has("from-a").stderr_has("oops");
    let events = ran.json_lines();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run_started"));
    assert_eq!(kinds.last(), Some(&"run_finished"));
    assert_eq!(events[0]["version"], 1);
    assert_eq!(events[0]["counts"]["total"], 3);

    let retry = events.iter().find(|e| e["event"] == "task_retrying").expect("a retry event");
    assert_eq!(
        (retry["label"].as_str(), retry["attempt"].as_u64(), retry["exit"].as_i64()),
        (Some("a[1]"), Some(1), Some(3))
    );
    let failed = events.iter().find(|e| e["event"] == "task_finished" && e["status"] == "failed").unwrap();
    assert_eq!((failed["attempt"].as_u64(), failed["outcome"].as_str()), (Some(2), Some("exit 3")));
    assert!(failed["log"].as_str().unwrap().ends_with("logs/a/1.2"));
    let skipped = events.iter().find(|e| e["event"] == "job_skipped").unwrap();
    assert_eq!((skipped["job"].as_str(), skipped["tasks"].as_u64()), (Some("b"), Some(1)));

    // Every finished task was started first, under the same key, and the counts add up.
    for end in events.iter().filter(|e| e["event"] == "task_finished") {
        let start = events.iter().position(|e| e["event"] == "task_started" && e["key"] == end["key"]).unwrap();
        let finish = events.iter().position(|e| std::ptr::eq(e, end)).unwrap();
        assert!(start < finish);
    }
    let last = &events[events.len() - 1]["counts"];
    assert_eq!(
        (last["succeeded"].as_u64(), last["failed"].as_u64(), last["skipped"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
}

/// The second task waits for a file that the test writes only after it has read the first
/// task's `task_finished` line: the run can only end if events reach a reader as they happen.
#[test]
fn events_reach_a_reader_while_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let job = r#"
concurrency: 2
jobs:
  first:
    command: echo first
  second:
    command: "sh -c 'for i in $(seq 1200); do [ -e go ] && exit 0; sleep 0.05; done; exit 9'"
"#;
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir.path())
        .args(["job.yaml", "--events", "json", "--progress", "none"])
        .env_remove("CI")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("events until `first` finishes").unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        if event["event"] == "task_finished" {
            assert_eq!(event["label"], "first", "`second` cannot finish before the file exists");
            break;
        }
    }
    std::fs::write(dir.path().join("go"), "").unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(rest.last().unwrap().contains("\"run_finished\""));
    assert!(rest.iter().any(|l| l.contains("\"label\":\"second\"") && l.contains("\"status\":\"ok\"")));
    assert!(child.wait().unwrap().success());
    assert!(started.elapsed() < Duration::from_secs(60));
}
