//! Output that could not be delivered means the task is not done, and the run says so.

use std::process::{Command, Stdio};

use crate::harness::batchrun;

const JOB: &str = "jobs:\n  a:\n    items: [1, 2, 3]\n    command: echo line {{ item }}\n";

/// Runs batchrun in `dir` with its stdout on `/dev/full`; returns the exit code and stderr.
fn run_to_full_disk(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let out = Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir)
        .args(args)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()
        .expect("batchrun runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn output_written_to_a_full_disk_is_not_done_and_resume_delivers_it() {
    for mode in ["grouped", "tagged", "ordered"] {
        let first = batchrun().job(JOB).run();
        let dir = first.dir;
        let (code, stderr) = run_to_full_disk(dir.path(), &["job.yaml", "-j", "1", "--output", mode]);
        assert_eq!(code, 3, "{mode}: exit code\n{stderr}");
        assert!(stderr.contains("output not delivered: No space left on device"), "{mode}: {stderr}");
        let journal = std::fs::read_to_string(dir.path().join(".batchrun/job/journal.jsonl")).unwrap();
        assert!(!journal.contains("\"status\":\"ok\""), "{mode}: a task was recorded done:\n{journal}");
        if mode != "ordered" {
            let log = std::fs::read_to_string(dir.path().join(".batchrun/job/logs/a/0.1.out")).unwrap();
            assert_eq!(log, "line 1\n", "{mode}: the undelivered output is kept in the log");
        }
        let again = crate::harness::Batchrun::in_dir(dir).args(&["job.yaml", "--resume", "--output", "ordered"]).run();
        again.success();
        assert_eq!(again.stdout, "line 1\nline 2\nline 3\n", "{mode}: --resume runs what was not delivered");
    }
}

#[test]
fn a_closed_stdout_starts_no_new_task_and_exits_3() {
    // Each task prints more than a pipe holds, so a write fails soon after `head` leaves.
    let ran = batchrun().job("jobs:\n  a:\n    range: {from: 1, to: 500}\n    command: seq {{ start }} 30000\n").run();
    let dir = ran.dir;
    let script =
        format!("set -o pipefail; '{}' job.yaml -j 2 --progress plain | head -1", env!("CARGO_BIN_EXE_batchrun"));
    let out = Command::new("bash").arg("-c").arg(&script).current_dir(dir.path()).output().expect("bash runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(stderr.contains("was not delivered: starting no new task"), "{stderr}");
    assert!(stderr.contains("Broken pipe"), "{stderr}");
    let journal = std::fs::read_to_string(dir.path().join(".batchrun/job/journal.jsonl")).unwrap();
    let ends = journal.lines().filter(|l| l.contains("\"type\":\"end\"")).count();
    assert!(ends < 60, "the run went on after stdout closed: {ends} tasks ended");
}

#[test]
fn the_exit_statuses_and_their_order_are_in_the_help_and_the_manual() {
    for (args, title) in [(&["--help"][..], "Exit status"), (&["man"], "EXIT STATUS")] {
        let ran = batchrun().args(args).run();
        ran.success().stdout_has(title).stdout_has("When several apply, the first of 2, 129/130/143, 3, 1 wins");
    }
}

/// Output past the memory budget goes to a temporary file; when `TMPDIR` has no room for it the
/// task is not killed by a closed pipe ("signal 13"): the cause is said and the rest is kept.
#[test]
fn output_that_cannot_be_spilled_says_why_and_keeps_the_rest() {
    let ran = batchrun()
        .job("jobs:\n  big:\n    command: head -c 20000000 /dev/zero\n")
        .args(&["--output", "none"])
        .env("TMPDIR", "/nonexistent-batchrun-tmp")
        .run();
    ran.code(3)
        .stderr_has("FAILED big: output not delivered: ")
        .stderr_has("bytes of its stdout could not be kept (No such file or directory")
        .stderr_has("/nonexistent-batchrun-tmp; the rest was kept");
    assert!(!ran.stderr.contains("signal 13"), "{}", ran.stderr);
    let lost: u64 = ran
        .stderr
        .split("output not delivered: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the bytes lost are counted");
    let kept = std::fs::metadata(ran.path(".batchrun/job/logs/big/0.1.out")).expect("the log").len();
    assert!(kept > 0, "what was held in memory is kept in the log");
    assert_eq!(kept + lost, 20_000_000, "every byte is either kept or counted as lost");
}

/// With `--output ordered`, a finished task whose output waits for an earlier one is not
/// recorded as done until it is printed: killed meanwhile, its output comes with `--resume`.
#[test]
fn ordered_output_held_back_at_a_kill_reaches_stdout_with_resume() {
    let job = "jobs:\n  q:\n    items: [0, 1, 2, 3, 4]\n    command: |\n      if [ {{ item }} = 0 -o {{ item }} = 4 ] && [ ! -e release ]; then sleep 100; fi\n      echo out{{ item }}\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();

    let first_out = std::fs::File::create(dir.path().join("first.out")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir.path())
        .args(["job.yaml", "-j", "2", "--output", "ordered", "--progress", "none"])
        .env_remove("CI")
        .stdout(Stdio::from(first_out))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // q[4] starts once a worker is done with q[1..4], and the dispatcher records its start in
    // the same pass that takes q[3]'s result.
    let journal = dir.path().join(".batchrun/job/journal.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&journal).unwrap_or_default().contains("\"index\":4,") {
        assert!(std::time::Instant::now() < deadline, "q[4] never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    std::fs::write(dir.path().join("release"), "").unwrap();
    let resumed = crate::harness::Batchrun::in_dir(dir).args(&["job.yaml", "--resume", "--output", "ordered"]).run();
    resumed.success();
    let all = resumed.read("first.out") + &resumed.stdout;
    for i in 0..5 {
        assert!(all.contains(&format!("out{i}\n")), "out{i} never reached stdout:\n{all}");
    }
}

/// With `--output ordered`, output held back for an earlier task and written (and lost) when
/// its turn comes makes that task undelivered too, not recorded as done.
#[test]
fn ordered_output_lost_when_its_turn_comes_is_not_done() {
    let job = "jobs:\n  a:\n    commands: ['sleep 0.5; echo first', 'echo second', 'echo third']\n";
    let first = batchrun().job(job).run();
    let dir = first.dir;
    let (code, stderr) = run_to_full_disk(dir.path(), &["job.yaml", "-j", "3", "--output", "ordered"]);
    assert_eq!(code, 3, "{stderr}");
    let journal = std::fs::read_to_string(dir.path().join(".batchrun/job/journal.jsonl")).unwrap();
    let ends: Vec<&str> = journal.lines().filter(|l| l.contains("\"type\":\"end\"")).collect();
    assert_eq!(ends.len(), 3, "{journal}");
    assert!(ends.iter().all(|l| l.contains("\"status\":\"undelivered\"")), "a task was recorded done:\n{journal}");
}

/// Once a task's output was not delivered, no task starts after it, and every task the events
/// say started has an end: the next task, already handed to the same worker, does not run and
/// is not said to have started.
#[test]
fn no_task_starts_after_output_was_not_delivered() {
    let yaml = "jobs:\n  a:\n    commands: ['head -c 20000000 /dev/zero', 'touch MARKER']\n";
    for round in 0..3 {
        let ran = batchrun()
            .job(yaml)
            .args(&["-j", "1", "--events", "json", "--output", "none"])
            .env("TMPDIR", "/nonexistent-batchrun-tmp")
            .run();
        ran.code(3).stderr_has("NOT RUN a (1 task)");
        assert!(!ran.path("MARKER").exists(), "round {round}: a[1] ran after the stop");
        let events = ran.json_lines();
        let started = events.iter().filter(|e| e["event"] == "task_started").count();
        let ended = events.iter().filter(|e| e["event"] == "task_finished").count();
        assert_eq!((started, ended), (1, 1), "round {round}: {}", ran.stdout);
    }
}

/// Events that cannot be written are lost output too: the run goes on (the tasks are the
/// user's work), says so, and does not end with 0.
#[test]
fn events_that_cannot_be_written_end_the_run_with_3() {
    let b = batchrun().job("jobs:\n  a:\n    items: [1, 2, 3]\n    command: 'true'\n");
    let (code, stderr) = run_to_full_disk(b.path(), &["job.yaml", "--events", "json", "--progress", "none"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("cannot write the events (--events json): No space left on device"), "{stderr}");
    assert!(stderr.contains("3 tasks: 3 succeeded"), "the tasks still ran: {stderr}");
}
