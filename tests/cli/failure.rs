//! Failure handling with real processes: retries, timeouts, on_failure, signals, no survivors.
//!
//! Survivors are checked by process: every task writes the pids of its shell and of a
//! background grandchild, and the test checks each one is gone. Tests wait for events (files
//! appearing, processes ending) with generous timeouts, never for a fixed time.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::batchrun;

/// A task that records its pid and a grandchild's, then hangs.
const HANG: &str = "sh -c 'sleep 1000 & echo $$ $! > pids/{{ index }}; wait'";

fn hanging_job(tasks: u32, extra: &str) -> String {
    format!("jobs:\n  hang:\n{extra}    range: {{from: 1, to: {tasks}}}\n    command: {HANG}\n")
}

/// Waits until `check` holds, up to a generous limit.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn recorded_pids(dir: &Path) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(dir.join("pids")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        pids.extend(text.split_whitespace().map(|p| p.parse::<i32>().unwrap()));
    }
    pids
}

/// Alive means present and not a zombie (a killed orphan may wait a moment to be reaped).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn start(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir)
        .args(args)
        .env_remove("CI")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_with_output(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn signal(child: &Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, sig).unwrap();
}

#[test]
fn sigint_stops_every_task_and_exits_130_with_no_survivors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pids")).unwrap();
    std::fs::write(dir.path().join("job.yaml"), hanging_job(6, "")).unwrap();
    let child = start(dir.path(), &["job.yaml", "-j", "3", "--progress", "plain"]);
    wait_for("3 tasks to start", || files_in(&dir.path().join("pids")) == 3);
    wait_for("the pid files to be written", || recorded_pids(dir.path()).len() == 6);
    let pids = recorded_pids(dir.path());
    signal(&child, rustix::process::Signal::INT);
    let (code, stderr) = wait_with_output(child);
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("STOPPING: SIGINT received"), "{stderr}");
    assert!(stderr.contains("NOT RUN hang (3 tasks): the run was stopped"), "{stderr}");
    // Stopped by batchrun, the running tasks are cancelled, not failed.
    assert!(stderr.contains("6 tasks: 0 succeeded, 0 failed, 3 cancelled, 0 skipped, 3 not run"), "{stderr}");
    assert!(stderr.contains("CANCELLED hang["), "{stderr}");
    assert!(!stderr.contains("FAILED"), "{stderr}");
    let survivors: Vec<i32> = pids.into_iter().filter(|&p| alive(p)).collect();
    assert!(survivors.is_empty(), "still running after batchrun exited: {survivors:?}");
}

#[test]
fn sigterm_exits_143() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pids")).unwrap();
    std::fs::write(dir.path().join("job.yaml"), hanging_job(1, "")).unwrap();
    let child = start(dir.path(), &["job.yaml"]);
    wait_for("the task to start", || recorded_pids(dir.path()).len() == 2);
    signal(&child, rustix::process::Signal::TERM);
    let (code, _) = wait_with_output(child);
    assert_eq!(code, 143);
}

/// A closed terminal is an interrupt: tasks stopped, journal and summary written, exit 129.
#[test]
fn sighup_is_an_interrupt_that_exits_129() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pids")).unwrap();
    std::fs::write(dir.path().join("job.yaml"), hanging_job(1, "")).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_batchrun"));
    command.current_dir(dir.path()).args(["job.yaml", "--progress", "plain"]).env_remove("CI");
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    // SAFETY: only resets a signal's disposition between fork and exec, as the test runner
    // itself may have been started with SIGHUP ignored, which a child would keep.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            Ok(())
        });
    }
    let child = command.spawn().unwrap();
    wait_for("the task to start", || recorded_pids(dir.path()).len() == 2);
    let pids = recorded_pids(dir.path());
    signal(&child, rustix::process::Signal::HUP);
    let (code, stderr) = wait_with_output(child);
    assert_eq!(code, 129, "{stderr}");
    assert!(stderr.contains("STOPPING: SIGHUP received"), "{stderr}");
    assert!(stderr.contains("Summary: 1 task:"), "{stderr}");
    let journal = std::fs::read_to_string(dir.path().join(".batchrun/job/journal.jsonl")).unwrap();
    assert!(journal.contains("\"type\":\"run_end\""), "the journal was closed:\n{journal}");
    let survivors: Vec<i32> = pids.into_iter().filter(|&p| alive(p)).collect();
    assert!(survivors.is_empty(), "still running after batchrun exited: {survivors:?}");
}

/// Under `nohup` (SIGHUP ignored when batchrun starts) a closed terminal does not stop the run.
#[test]
fn sighup_stays_ignored_under_nohup() {
    let dir = tempfile::tempdir().unwrap();
    let job = "jobs:\n  a:\n    command: sh -c 'until [ -e go ]; do sleep 0.01; done; echo done'\n";
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    let script = format!("trap '' HUP; exec '{}' job.yaml --progress plain", env!("CARGO_BIN_EXE_batchrun"));
    let child = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env_remove("CI")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let journal = dir.path().join(".batchrun/job/journal.jsonl");
    wait_for("the task to start", || std::fs::read_to_string(&journal).is_ok_and(|j| j.contains("\"start\"")));
    signal(&child, rustix::process::Signal::HUP);
    std::fs::write(dir.path().join("go"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
}

#[test]
fn sigkill_of_batchrun_leaves_no_task_or_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pids")).unwrap();
    std::fs::write(dir.path().join("job.yaml"), hanging_job(4, "")).unwrap();
    let child = start(dir.path(), &["job.yaml", "-j", "4"]);
    wait_for("4 tasks to start", || recorded_pids(dir.path()).len() == 8);
    let pids = recorded_pids(dir.path());
    signal(&child, rustix::process::Signal::KILL);
    let (code, _) = wait_with_output(child);
    assert_eq!(code, -1, "killed by a signal");
    wait_for("the watchdog to kill every task", || pids.iter().all(|&p| !alive(p)));
}

#[test]
fn a_timeout_kills_the_whole_tree_even_when_term_is_ignored() {
    let yaml = "jobs:\n  t:\n    timeout: 200ms\n    kill_grace: 300ms\n    command: sh -c 'trap \"\" TERM; sleep 1000 & echo $$ $! > pids/0; wait'\n";
    let ran = batchrun().file("pids/.keep", "").job(yaml).args(&["--progress", "plain"]).run();
    std::fs::remove_file(ran.path("pids/.keep")).unwrap();
    ran.code(1).stderr_has("FAILED t timed out after 200ms");
    let pids = recorded_pids(ran.dir.path());
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|&p| !alive(p)), "the shell or its child survived the timeout");
}

#[test]
fn retries_run_again_with_the_attempt_number_until_success() {
    // Fails on attempts 1 and 2, succeeds on 3.
    let yaml = "jobs:\n  f:\n    retries: 3\n    retry_delay: 10ms\n    command: sh -c 'echo $BATCHRUN_ATTEMPT >> attempts; test $BATCHRUN_ATTEMPT -ge 3'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.success()
        .stderr_has("RETRY f exit 1 (attempt 1)")
        .stderr_has("RETRY f exit 1 (attempt 2)")
        .stderr_has("ok f")
        .stderr_has("after 3 attempts")
        .stderr_has("retried 1 task, 2 extra attempts");
    assert_eq!(ran.read("attempts"), "1\n2\n3\n");
}

#[test]
fn retries_give_up_and_report_the_last_failure() {
    let yaml = "jobs:\n  f:\n    retries: 2\n    retry_delay: 1ms\n    command: sh -c 'echo try $BATCHRUN_ATTEMPT; echo broken >&2; exit 4'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.code(1).stderr_has("FAILED f: exit 4 (3 attempts)").stderr_has("stderr | broken");
    // Only the last attempt's output is printed; every failed attempt is kept as a log.
    assert_eq!(ran.stdout, "try 3\n");
    let logs = ran.path(".batchrun/job/logs/f");
    for attempt in 1..=3 {
        assert_eq!(std::fs::read_to_string(logs.join(format!("0.{attempt}.out"))).unwrap(), format!("try {attempt}\n"));
        assert_eq!(std::fs::read_to_string(logs.join(format!("0.{attempt}.err"))).unwrap(), "broken\n");
    }
}

#[test]
fn keep_logs_saves_successful_tasks_too() {
    let ran = batchrun()
        .job("jobs:\n  ok:\n    commands: [echo a, echo b]\n")
        .args(&["--keep-logs", "--state-dir", "state"])
        .run();
    ran.success();
    assert_eq!(ran.read("state/logs/ok/0.1.out"), "a\n");
    assert_eq!(ran.read("state/logs/ok/1.1.out"), "b\n");
}

/// One failing task, and slow tasks running beside it.
const MIXED: &str = r#"
jobs:
  work:
    on_failure: POLICY
    items: [fail, slow, slow, later, later]
    command: sh -c 'case "$1" in fail) while [ $(ls started | wc -l) -lt 2 ]; do sleep 0.01; done; exit 1;; slow) touch started/{{ index }}; sleep 1; touch finished/{{ index }};; later) touch later/{{ index }};; esac' sh {{ item }}
"#;

fn mixed(policy: &str) -> crate::harness::Ran {
    batchrun()
        .file("started/.keep", "")
        .file("finished/.keep", "")
        .file("later/.keep", "")
        .job(&MIXED.replace("POLICY", policy))
        .args(&["-j", "3", "--progress", "plain"])
        .run()
}

#[test]
fn on_failure_stop_lets_running_tasks_finish_and_starts_nothing_new() {
    let ran = mixed("stop");
    ran.code(1).stderr_has("STOPPING: work[fail] failed and on_failure is `stop`");
    assert_eq!(files_in(&ran.path("finished")), 3, "the two slow tasks finished (plus .keep)");
    assert_eq!(files_in(&ran.path("later")), 1, "nothing started after the failure (only .keep)");
    ran.stderr_has("NOT RUN work (2 tasks): the run was stopped");
}

/// done earlier + succeeded + failed + cancelled + skipped + not run = planned, in the report too.
#[test]
fn every_planned_task_is_accounted_for_when_a_run_stops() {
    let ran = batchrun()
        .job("jobs:\n  a:\n    commands: ['true', 'exit 1', 'true', 'true']\n    on_failure: stop\n  b:\n    needs: [a]\n    command: 'true'\n")
        .args(&["-j", "1", "--report", "r.json"])
        .run();
    ran.code(1).stderr_has("5 tasks: 1 succeeded, 1 failed, 0 skipped, 3 not run");
    let report: serde_json::Value = serde_json::from_str(&ran.read("r.json")).unwrap();
    let c = &report["counts"];
    let n = |k: &str| c[k].as_u64().unwrap_or_else(|| panic!("counts.{k}: {c}"));
    assert_eq!((n("succeeded"), n("failed"), n("skipped"), n("not_run"), n("already_done")), (1, 1, 0, 3, 0));
    assert_eq!(
        n("already_done") + n("succeeded") + n("failed") + n("cancelled") + n("skipped") + n("not_run"),
        n("total")
    );
}

#[test]
fn on_failure_kill_terminates_running_tasks() {
    let ran = batchrun()
        .file("started/.keep", "")
        .file("finished/.keep", "")
        .file("later/.keep", "")
        .job(&MIXED.replace("POLICY", "kill"))
        .args(&["-j", "3", "--progress", "plain", "--report", "r.xml", "--report", "r.json"])
        .env("GITHUB_ACTIONS", "true")
        .run();
    ran.code(1).stderr_has("on_failure is `kill`").stderr_has("CANCELLED work[slow]");
    // The tasks it stopped are cancelled: counted apart, skipped in JUnit, never annotated.
    let report: serde_json::Value = serde_json::from_str(&ran.read("r.json")).unwrap();
    assert_eq!((report["counts"]["failed"].as_u64(), report["counts"]["cancelled"].as_u64()), (Some(1), Some(2)));
    let junit = ran.read("r.xml");
    assert_eq!(
        junit
            .matches(
                r#"<skipped message="cancelled: stopped by batchrun: work[fail] failed and on_failure is `kill`"/>"#
            )
            .count(),
        2,
        "{junit}"
    );
    assert!(junit.contains(r#"failures="1""#), "{junit}");
    let errors: Vec<&str> = ran.stdout.lines().filter(|l| l.starts_with("::error")).collect();
    assert_eq!(errors.len(), 1, "only the failure: {errors:?}");
    assert_eq!(files_in(&ran.path("finished")), 1, "the slow tasks were killed (only .keep)");
    assert_eq!(files_in(&ran.path("later")), 1);
    // `status` reads them from the journal as cancelled too, not as failed.
    let status = crate::harness::Batchrun::in_dir(ran.dir).args(&["status", "job.yaml"]).run();
    status.code(1);
    let rows: Vec<Vec<&str>> = status.stdout.lines().skip(2).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows, [vec!["job", "done", "failed", "cancelled", "not", "run"], vec!["work", "0", "1", "2", "2"]]);
}

#[test]
fn fail_fast_is_stop_for_every_job() {
    let ran = batchrun()
        .job("jobs:\n  a:\n    commands: ['false', 'touch never']\n")
        .args(&["-j", "1", "--fail-fast", "--progress", "plain"])
        .run();
    ran.code(1).stderr_has("STOPPING");
    assert!(!ran.path("never").exists());
}

#[test]
fn cli_timeout_and_retries_override_the_file() {
    let ran = batchrun()
        .job("jobs:\n  a:\n    command: sh -c 'echo x >> tries; sleep 1000'\n")
        .args(&["--timeout", "100ms", "--retries", "1", "--progress", "plain"])
        .run();
    ran.code(1).stderr_has("timed out after 100ms");
    assert_eq!(ran.read("tries"), "x\nx\n");
}

#[test]
fn a_finished_task_leaves_no_background_process_behind() {
    let ran = batchrun()
        .file("pids/.keep", "")
        .job("jobs:\n  bg:\n    command: sh -c 'sleep 1000 & echo $! > pids/0'\n")
        .args(&["--progress", "none"])
        .run();
    ran.success();
    std::fs::remove_file(ran.path("pids/.keep")).unwrap();
    let pids = recorded_pids(ran.dir.path());
    assert_eq!(pids.len(), 1);
    wait_for("the background sleep to be killed", || !alive(pids[0]));
}

#[test]
fn a_second_sigint_kills_at_once() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pids")).unwrap();
    // The tasks ignore SIGTERM and the grace period is an hour: only SIGKILL ends them.
    let job = "jobs:\n  stubborn:\n    kill_grace: 1h\n    range: {from: 1, to: 2}\n    command: sh -c 'trap \"\" TERM; sleep 1000 & echo $$ $! > pids/{{ index }}; wait'\n";
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    let mut child = start(dir.path(), &["job.yaml", "-j", "2", "--progress", "plain"]);
    wait_for("both tasks to start", || recorded_pids(dir.path()).len() == 4);
    let pids = recorded_pids(dir.path());
    signal(&child, rustix::process::Signal::INT);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("STOPPING") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "batchrun ended before stopping");
    }
    signal(&child, rustix::process::Signal::INT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(pids.iter().all(|&p| !alive(p)), "the second Ctrl-C must kill every task");
}

/// The summary shows the first 20 failures in full and counts the rest in words.
#[test]
fn failures_past_the_twentieth_are_counted_in_words() {
    let one_more = batchrun().job("jobs:\n  f:\n    range: {from: 1, to: 21}\n    command: 'false'\n").run();
    one_more.code(1).stderr_has("… and 1 more failed task\n");
    let more = batchrun().job("jobs:\n  f:\n    range: {from: 1, to: 23}\n    command: 'false'\n").run();
    more.code(1).stderr_has("… and 3 more failed tasks\n");
}

/// A retry counts in the summary once it starts: a stop during its delay means it never ran.
#[test]
fn a_retry_stopped_in_its_delay_is_not_counted_as_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("job.yaml"),
        "jobs:\n  f:\n    retries: 1\n    retry_delay: 1h\n    command: 'false'\n",
    )
    .unwrap();
    let child = start(dir.path(), &["job.yaml", "--progress", "plain"]);
    let journal = dir.path().join(".batchrun/job/journal.jsonl");
    wait_for("the first attempt to end", || {
        std::fs::read_to_string(&journal).is_ok_and(|j| j.contains("\"status\":\"failed\""))
    });
    signal(&child, rustix::process::Signal::TERM);
    let (code, stderr) = wait_with_output(child);
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("FAILED f: exit 1") && !stderr.contains("retried"), "{stderr}");
}

/// A stop that gives up a pending retry makes the failed attempt the last one: its output,
/// held back for the retry, is printed (grouped and ordered), and the journal records the
/// decisions: the attempt as retrying, then the same attempt as the last.
#[test]
fn a_retry_given_up_by_a_stop_prints_the_last_attempts_output() {
    let yaml = "concurrency: 2\njobs:\n  flaky:\n    command: sh -c 'echo flaky-stdout; echo flaky-stderr >&2; exit 1'\n    retries: 1\n    retry_delay: 1h\n  gate:\n    command: sh -c 'sleep 0.2; exit 1'\n    on_failure: stop\n";
    for mode in ["grouped", "ordered"] {
        let ran = batchrun().job(yaml).args(&["--output", mode, "--progress", "none"]).run();
        ran.code(1);
        assert_eq!(ran.stdout, "flaky-stdout\n", "{mode}: {}", ran.stderr);
        assert!(ran.stderr.lines().any(|l| l == "flaky-stderr"), "{mode}: {}", ran.stderr);
        let journal = ran.read(".batchrun/job/journal.jsonl");
        let ends: Vec<bool> = journal
            .lines()
            .filter(|l| l.contains("\"type\":\"end\"") && l.contains("\"job\":\"flaky\""))
            .inspect(|l| assert!(l.contains("\"attempt\":1"), "{mode}: {l}"))
            .map(|l| l.contains("\"retrying\":true"))
            .collect();
        assert_eq!(ends, [true, false], "{mode}: retrying, then given up:\n{journal}");
    }
}

/// A failed attempt that ends as another task's failure stops the run: whichever the
/// dispatcher hears first, the attempt is the task's last and its output is printed once.
#[test]
fn an_attempt_ending_as_the_run_stops_prints_its_output_once() {
    let yaml = "concurrency: 3\njobs:\n  go:\n    command: sh -c 'sleep 0.2; touch go'\n  a:\n    retries: 1\n    retry_delay: 1h\n    command: sh -c 'while [ ! -e go ]; do sleep 0.002; done; echo a-out; exit 1'\n  b:\n    on_failure: stop\n    command: sh -c 'while [ ! -e go ]; do sleep 0.002; done; exit 1'\n";
    for round in 0..10 {
        let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
        ran.code(1);
        assert_eq!(ran.stdout, "a-out\n", "round {round}: {}", ran.stderr);
    }
}

/// A retry is first in line for a worker: with every worker busy, the line says so, and it runs
/// as soon as one is free, before the tasks behind it; with a worker free, it starts when it
/// said it would.
#[test]
fn a_retry_starts_when_it_said_or_first_when_a_worker_is_free() {
    let yaml = "jobs:\n  t:\n    items: [fail, slow, quick]\n    retries: 1\n    retry_delay: 100ms\n    command: sh -c 'case $1 in fail) test \"$BATCHRUN_ATTEMPT\" = 2;; slow) sleep 1;; esac' sh {{ item }}\n";
    let ran = batchrun().job(yaml).args(&["-j", "1", "--progress", "plain", "--events", "json"]).run();
    ran.success().stderr_has("RETRY t[fail] exit 1 (attempt 1), again in ").stderr_has(", first in line for a worker");
    let starts: Vec<(String, u64)> = ran
        .json_lines()
        .iter()
        .filter(|e| e["event"] == "task_started")
        .map(|e| (e["label"].as_str().unwrap().to_owned(), e["attempt"].as_u64().unwrap()))
        .collect();
    let order: Vec<(&str, u64)> = starts.iter().map(|(l, a)| (l.as_str(), *a)).collect();
    assert_eq!(
        order,
        [("t[fail]", 1), ("t[slow]", 1), ("t[fail]", 2), ("t[quick]", 1)],
        "the retry goes before t[quick]"
    );

    let alone = batchrun()
        .job("jobs:\n  t:\n    retries: 1\n    retry_delay: 100ms\n    command: sh -c 'test \"$BATCHRUN_ATTEMPT\" = 2'\n")
        .args(&["-j", "2", "--progress", "plain", "--events", "json"])
        .run();
    alone.success();
    assert!(!alone.stderr.contains("first in line"), "{}", alone.stderr);
    let at = |e: &serde_json::Value| {
        humantime::parse_rfc3339(e["at"].as_str().unwrap()).unwrap().duration_since(std::time::UNIX_EPOCH).unwrap()
    };
    let events = alone.json_lines();
    let retrying = events.iter().find(|e| e["event"] == "task_retrying").expect("a retry");
    let again = events.iter().find(|e| e["event"] == "task_started" && e["attempt"] == 2).expect("attempt 2");
    let delay = std::time::Duration::from_millis(retrying["delay_ms"].as_u64().unwrap());
    let late = at(again).saturating_sub(at(retrying) + delay);
    assert!(late <= std::time::Duration::from_millis(50), "started {late:?} after it said");
}

/// `retry_on` picks the failures that are retried: exit codes and ranges, and timeouts; one it
/// leaves out fails at once and says why, its retries unused.
#[test]
fn retry_on_retries_only_the_failures_it_names() {
    let yaml = r#"
defaults:
  retries: 2
  retry_delay: 0s
  retry_on: [2, "75-78", timeout]
jobs:
  t:
    items: [two, seventy-six, three, slow]
    timeout: 1s
    command: >-
      sh -c 'echo x >> "tries-$1"; n=$(wc -l < "tries-$1");
      case $1 in two) exit 2;; seventy-six) test "$n" -ge 2 || exit 76;; three) exit 3;; slow) sleep 30;; esac' sh {{ item }}
"#;
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.code(1).stderr_has("not retried: exit 3 is not in retry_on").stderr_has("FAILED t[three] exit 3");
    let tries = |item: &str| ran.read(&format!("tries-{item}")).lines().count();
    assert_eq!(
        [tries("two"), tries("seventy-six"), tries("three"), tries("slow")],
        [3, 2, 1, 3],
        "2 and timeouts retried to the end, 76 until it passed, 3 never"
    );
}

/// A `retry_on` entry that is not an exit code, a range or a word is refused with its place.
#[test]
fn a_bad_retry_on_is_refused_with_its_place() {
    for (value, why) in [
        ("[2, oops]", "`retry_on`: unknown entry `oops`"),
        ("[\"9-3\"]", "`retry_on`: the range `9-3` runs backwards (9 > 3)"),
        ("[0]", "`retry_on`: 0 is not the exit code of a failure (1 to 255)"),
        ("[\"0-1000\"]", "`retry_on`: the range `0-1000` is not of exit codes of failures (1 to 255)"),
        ("timeout", "`retry_on` takes a list"),
    ] {
        let yaml = format!("jobs:\n  t:\n    retries: 1\n    retry_on: {value}\n    command: 'true'\n");
        let refused = batchrun().file("job.yaml", &yaml).args(&["validate", "job.yaml"]).run();
        refused.code(2).stderr_has(why).stderr_has("job.yaml:4:15");
    }
}

/// `on_failure: {stop: N}` stops a job's run at its Nth failed task, and the run-wide
/// `on_failure: {kill: "N%"}` once that share of the run's finished tasks failed, counted only
/// after 10 have finished (the first failure is not 100 %); the summary says which.
#[test]
fn on_failure_waits_for_its_count_or_share_of_failures() {
    let counted = "jobs:\n  t:\n    items: [1, 2, 3, 4, 5, 6, 7, 8]\n    concurrency: 1\n    on_failure: {stop: 3}\n    command: test {{ item % 2 }} -eq 0\n";
    let ran = batchrun().job(counted).args(&["--progress", "plain"]).run();
    ran.code(1)
        .stderr_has("stopped early: 3 tasks of `t` failed (t[item=5] the last) and on_failure is `{stop: 3}`")
        .stderr_has("2 succeeded, 3 failed, 0 skipped, 3 not run");

    let share = "on_failure: {kill: \"30%\"}\njobs:\n  t:\n    items: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]\n    concurrency: 1\n    command: test {{ item }} -ne 1 -a {{ item }} -lt 9\n";
    let ran = batchrun().job(share).args(&["--progress", "plain"]).run();
    // t[item=1] fails first (100 % of one) but 10 must finish before a share counts; by t[item=10], 3 of
    // 10 have failed.
    ran.code(1)
        .stderr_has("3 of the run's 10 finished tasks failed (30%, t[item=10] the last) and the run's on_failure is `{kill: \"30%\"}`")
        .stderr_has("7 succeeded, 3 failed, 0 skipped, 10 not run");
}

/// A bad `on_failure` is refused with its place, in a job and at the top level.
#[test]
fn a_bad_on_failure_is_refused_with_its_place() {
    for (value, why) in [
        ("{stop: 0}", "on_failure `stop` takes at least 1 failed task, got 0"),
        ("{kill: \"150%\"}", "on_failure `kill`: `150%` is not a share from 1% to 100%"),
        ("{kill: \"0.5%\"}", "on_failure `kill`: `0.5%` is not a share from 1% to 100%"),
        ("{kill: \"1e2%\"}", "on_failure `kill`: `1e2%` is not a share from 1% to 100%"),
        ("{continue: 2}", "on_failure `continue` takes no threshold"),
        ("halt", "unknown on_failure `halt`"),
    ] {
        let yaml = format!("jobs:\n  t:\n    on_failure: {value}\n    command: 'true'\n");
        let refused = batchrun().file("job.yaml", &yaml).args(&["validate", "job.yaml"]).run();
        refused.code(2).stderr_has(why).stderr_has("job.yaml:3:17");
        let top = format!("on_failure: {value}\njobs:\n  t:\n    command: 'true'\n");
        let refused = batchrun().file("job.yaml", &top).args(&["validate", "job.yaml"]).run();
        refused.code(2).stderr_has(why).stderr_has("job.yaml:1:13");
    }
}

/// `allow_failure`: a job's failures are reported (a warning annotation under GitHub Actions,
/// not an error) but do not fail the run, and the jobs that need it still run.
#[test]
fn an_allowed_failure_is_reported_and_does_not_fail_the_run() {
    let yaml = "jobs:\n  lint:\n    allow_failure: true\n    items: [1, 2]\n    command: test {{ item }} -eq 1\n  build:\n    needs: [lint]\n    command: 'true'\n";
    let ran = batchrun()
        .job(yaml)
        .args(&["--progress", "plain", "--report", "r.json", "--report", "r.xml"])
        .env("GITHUB_ACTIONS", "true")
        .run();
    let report: serde_json::Value = serde_json::from_str(&ran.read("r.json")).unwrap();
    let junit = ran.read("r.xml");
    assert!(junit.contains(r#"<failure message="allowed failure: exit 1 (1 attempt)""#), "{junit}");
    assert_eq!((report["counts"]["failed"].as_u64(), report["counts"]["allowed"].as_u64()), (Some(1), Some(1)));
    assert_eq!(report["tasks"][1]["allowed"], true, "{}", report["tasks"][1]);
    ran.success()
        .stderr_has("FAILED (allowed) lint[item=2] exit 1")
        .stderr_has("2 succeeded, 0 failed (and 1 allowed to fail), 0 skipped")
        .stdout_has("::warning title=batchrun%3A lint[item=2] failed (allowed)::exit 1");
    assert!(!ran.stdout.contains("::error"), "{}", ran.stdout);

    // Without it, the same failure fails the run and skips what needs it.
    let strict = yaml.replace("    allow_failure: true\n", "");
    batchrun().job(&strict).args(&["--progress", "plain"]).run().code(1).stderr_has("SKIPPED build");
}

/// A failure its job allows stops nothing: not the run's `on_failure`, not `--fail-fast`.
#[test]
fn an_allowed_failure_stops_nothing() {
    let yaml = "on_failure: stop\njobs:\n  lint:\n    allow_failure: true\n    command: 'false'\n  build:\n    needs: [lint]\n    command: 'true'\n";
    batchrun().job(yaml).args(&["--progress", "plain"]).run().success().stderr_has("ok build");
    let strict = yaml.replace("on_failure: stop\n", "");
    batchrun().job(&strict).args(&["--progress", "plain", "--fail-fast"]).run().success().stderr_has("ok build");
}

/// A stop stops an items command too (a job planned now would not start), and the job whose
/// items it was listing is in the report as not run; a retry the stop gave up is reported
/// once, as the task's last attempt.
#[test]
fn a_stop_stops_an_items_command_and_the_report_holds_every_task() {
    let yaml = "jobs:\n  bad:\n    command: sh -c 'sleep 0.5; exit 1'\n    on_failure: stop\n  list:\n    items: {sh: 'sleep 30; echo a'}\n    command: echo {{ item }}\n  flaky:\n    retries: 3\n    retry_delay: 20s\n    command: 'false'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "plain", "--report", "r.json"]).run();
    ran.code(1);
    assert!(ran.elapsed < std::time::Duration::from_secs(20), "the items command was stopped: {:?}", ran.elapsed);
    let report: serde_json::Value = serde_json::from_str(&ran.read("r.json")).unwrap();
    let tasks = report["tasks"].as_array().unwrap();
    assert_eq!(tasks.len() as u64, report["counts"]["total"].as_u64().unwrap(), "{report}");
    let list = tasks.iter().find(|t| t["job"] == "list").expect("the unplanned job is listed");
    assert_eq!(list["status"], "not_run", "{list}");
    let flaky = tasks.iter().find(|t| t["job"] == "flaky").unwrap();
    assert_eq!(flaky["attempt"], 1, "{flaky}");
    assert!(flaky.get("failed_attempts").is_none(), "its one attempt is its last, not also a retried one: {flaky}");
}

/// A job whose tasks batchrun stopped did not fail: the jobs that need it are not run (the run
/// stopped before them), not skipped as if it had failed.
#[test]
fn a_job_batchrun_stopped_leaves_what_needs_it_not_run_rather_than_skipped() {
    let yaml = "on_failure: kill\njobs:\n  x:\n    command: sh -c 'while [ ! -e started ]; do sleep 0.01; done; exit 1'\n  a:\n    command: sh -c 'touch started; exec sleep 30'\n  b:\n    needs: [a]\n    command: 'true'\n";
    let ran = batchrun().job(yaml).args(&["-j", "2", "--progress", "plain"]).run();
    ran.code(1)
        .stderr_has("CANCELLED a")
        .stderr_has("3 tasks: 0 succeeded, 1 failed, 1 cancelled, 0 skipped, 1 not run");
    assert!(!ran.stderr.contains("which failed"), "{}", ran.stderr);
}
