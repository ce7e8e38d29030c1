//! The journal: resume after failures and crashes, identity by content, the lock, status.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Batchrun, batchrun};

/// Each partition appends its number to `effects`; partitions from 5 on fail until `release`
/// exists.
const PARTS: &str = r#"
jobs:
  part:
    range: {from: 1, to: 10}
    command: sh -c 'echo {{ start }} >> effects; if [ {{ start }} -ge 5 ] && [ ! -e release ]; then exit 1; fi'
  after:
    needs: [part]
    command: touch after-ran
"#;

fn effect_counts(text: &str) -> Vec<usize> {
    let mut counts = [0; 11];
    for line in text.lines() {
        counts[line.trim().parse::<usize>().unwrap()] += 1;
    }
    counts[1..].to_vec()
}

#[test]
fn resume_runs_only_what_failed_or_never_ran() {
    let b = batchrun().job(PARTS).args(&["-j", "2", "--progress", "none"]);
    let dir = b.path().to_path_buf();
    let first = b.run();
    first.code(1).stderr_has("To run what is left: batchrun run job.yaml --resume");
    assert!(!first.path("after-ran").exists());
    std::fs::write(dir.join("release"), "").unwrap();

    let second =
        crate::harness::Batchrun::in_dir(first.dir).args(&["job.yaml", "--resume", "--progress", "none"]).run();
    second.success().stderr_has("7 succeeded, 0 failed, 0 skipped, 4 already done");
    assert_eq!(effect_counts(&second.read("effects")), [1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    assert!(second.path("after-ran").exists());

    let status = crate::harness::Batchrun::in_dir(second.dir).args(&["status", "job.yaml"]).run();
    status.success().stdout_has("last run ended");
    let rows: Vec<Vec<&str>> = status.stdout.lines().skip(3).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows, [vec!["part", "10", "0", "0", "0"], vec!["after", "1", "0", "0", "0"]]);
}

/// `status` exits 0 only when every task the last run planned is done: 1 with none recorded,
/// and its codes are in its help.
#[test]
fn status_exits_0_only_when_every_planned_task_is_done() {
    let fresh = batchrun().file("job.yaml", "jobs:\n  a:\n    command: 'true'\n").args(&["status", "job.yaml"]).run();
    fresh.code(1).stdout_has("no run recorded yet");
    let help = batchrun().args(&["status", "--help"]).run();
    help.success().stdout_has("0        every task the last run planned is done").stdout_has("4        a run is using");
}

#[test]
fn status_counts_done_failed_and_not_run() {
    let ran = batchrun().job(PARTS).args(&["--progress", "none"]).run();
    ran.code(1);
    let status = crate::harness::Batchrun::in_dir(ran.dir).args(&["status", "job.yaml"]).run();
    status.code(1);
    let rows: Vec<Vec<&str>> = status.stdout.lines().skip(3).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows, [vec!["part", "4", "6", "0", "0"], vec!["after", "0", "0", "0", "1"]]);
}

/// After `--resume` with a changed command, status counts what is at each place of the plan
/// now, not every task the journal ever recorded.
#[test]
fn status_after_a_changed_job_file_counts_the_plan_as_it_is() {
    let ran =
        batchrun().job("jobs:\n  a: {items: [1, 2], command: 'test {{ item }} = 1'}\n").arg("--progress=none").run();
    ran.code(1);
    let changed = crate::harness::Batchrun::in_dir(ran.dir)
        .job("jobs:\n  a: {items: [1, 2], command: 'test {{ item }} -ge 1'}\n")
        .args(&["--resume", "--progress", "none"])
        .run();
    changed.success();
    let status = crate::harness::Batchrun::in_dir(changed.dir).args(&["status", "job.yaml"]).run();
    status.success();
    let rows: Vec<Vec<&str>> = status.stdout.lines().skip(3).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows, [vec!["a", "2", "0", "0", "0"]], "{}", status.stdout);
}

#[test]
fn a_fresh_run_starts_the_journal_afresh() {
    let ran = batchrun().job("jobs:\n  a:\n    command: sh -c 'echo x >> effects'\n").arg("--progress=none").run();
    ran.success();
    let again = crate::harness::Batchrun::in_dir(ran.dir).args(&["job.yaml", "--progress", "none"]).run();
    again.success();
    assert_eq!(again.read("effects"), "x\nx\n", "without --resume every task runs");
    let journal = again.read(".batchrun/job/journal.jsonl");
    assert_eq!(journal.lines().filter(|l| l.contains("\"type\":\"run\"")).count(), 1);
}

#[test]
fn reordered_items_are_still_recognised() {
    let job = |items: &str| {
        format!("jobs:\n  i:\n    items: [{items}]\n    command: sh -c 'echo \"$1\" >> effects' sh {{{{ item }}}}\n")
    };
    let ran = batchrun().job(&job("a, b, c")).args(&["--progress", "none"]).run();
    ran.success();
    std::fs::write(ran.path("job.yaml"), job("c, d, a, b")).unwrap();
    let again = crate::harness::Batchrun::in_dir(ran.dir).args(&["job.yaml", "--resume", "--progress", "none"]).run();
    again.success().stderr_has("1 succeeded, 0 failed, 0 skipped, 3 already done");
    assert_eq!(again.read("effects").lines().filter(|l| *l == "d").count(), 1);
    assert_eq!(again.read("effects").lines().count(), 4);
}

#[test]
fn identical_commands_are_counted_as_separate_tasks() {
    let job = "jobs:\n  s:\n    commands: ['sh -c \"echo x >> effects\"', 'sh -c \"echo x >> effects\"']\n";
    let ran = batchrun().job(job).args(&["--progress", "none"]).run();
    ran.success();
    let plan = crate::harness::Batchrun::in_dir(ran.dir).args(&["plan", "--format", "json", "job.yaml"]).run();
    let lines = plan.json_lines();
    assert_ne!(lines[0]["key"], lines[1]["key"]);
}

#[test]
fn kill_9_then_resume_redoes_only_the_tasks_in_flight() {
    // Partitions 1-4 finish; 5 and 6 hang until `release` exists; then batchrun is killed.
    let job = r#"
jobs:
  part:
    range: {from: 1, to: 12}
    command: sh -c 'echo {{ start }} >> effects; if [ {{ start }} -ge 5 ] && [ ! -e release ]; then sleep 1000; fi'
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir.path())
        .args(["job.yaml", "-j", "2", "--progress", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = dir.path().join(".batchrun/job/journal.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        let ends = text.lines().filter(|l| l.contains("\"type\":\"end\"")).count();
        let started = std::fs::read_to_string(dir.path().join("effects")).unwrap_or_default().lines().count();
        if ends == 4 && started == 6 {
            break;
        }
        assert!(Instant::now() < deadline, "the first 4 partitions did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::write(dir.path().join("release"), "").unwrap();

    let ran = crate::harness::Batchrun::in_dir(dir).args(&["job.yaml", "--resume", "--progress", "none"]).run();
    ran.success().stderr_has("8 succeeded, 0 failed, 0 skipped, 4 already done");
    let mut counts = [0; 13];
    for line in ran.read("effects").lines() {
        counts[line.parse::<usize>().unwrap()] += 1;
    }
    assert_eq!(&counts[1..], [1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1], "only the two in flight ran twice");
}

#[test]
fn two_runs_cannot_share_a_state_folder() {
    let (dir, mut first) = crate::harness::a_run_in_progress();
    let second = crate::harness::Batchrun::in_dir(tempfile::TempDir::new().unwrap())
        .args(&[dir.path().join("job.yaml").to_str().unwrap(), "--progress", "none"])
        .run();
    first.kill().unwrap();
    first.wait().unwrap();
    second.code(2).stderr_has("another batchrun is using the state folder");
}

#[test]
fn no_journal_writes_no_state() {
    let ran = batchrun().job("jobs:\n  a:\n    command: 'true'\n").args(&["--no-journal"]).run();
    ran.success();
    assert!(!ran.path(".batchrun").exists());
}

#[test]
fn an_unusable_state_folder_is_a_clear_error() {
    // A file where the state folder should be.
    let ran = batchrun()
        .file("state", "not a folder")
        .job("jobs:\n  a:\n    command: touch ran\n")
        .args(&["--state-dir", "state/x"])
        .run();
    ran.code(2).stderr_has("cannot use the state folder").stderr_has("--no-journal");
    assert!(!ran.path("ran").exists());
}

/// `status` reads the journal alone: no computed var runs, and a huge plan is not walked.
#[test]
fn status_runs_nothing_and_answers_at_once_for_a_huge_range() {
    let yaml = "vars:\n  n: {sh: 'touch VAR_RAN; echo 1000000000000000000'}\njobs:\n  huge:\n    range: {from: 1, to: \"{{ n }}\"}\n    on_failure: stop\n    command: exit 1\n";
    let ran = batchrun().job(yaml).args(&["-j", "1", "--progress", "none"]).run();
    ran.code(1);
    std::fs::remove_file(ran.path("VAR_RAN")).expect("the run computed its var");
    let status = crate::harness::Batchrun::in_dir(ran.dir).args(&["status", "job.yaml"]).run();
    status.code(1);
    assert!(status.elapsed < std::time::Duration::from_secs(5), "status took {:?}", status.elapsed);
    let rows: Vec<Vec<&str>> = status.stdout.lines().skip(3).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows, [vec!["huge", "0", "1", "0", "999999999999999999"]]);
    assert!(!status.path("VAR_RAN").exists(), "status ran a computed var");
}

/// The state folder deleted while the run goes on is recreated with the whole journal, so
/// `--resume` still knows what was done.
#[test]
fn a_deleted_state_folder_is_recreated_and_the_journal_goes_on() {
    let yaml = "jobs:\n  a:\n    command: rm -r .batchrun\n  b:\n    needs: [a]\n    commands: ['true', 'true']\n";
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.success().stderr_has("was deleted during the run: recreating it and the journal");
    let journal = ran.read(".batchrun/job/journal.jsonl");
    let ends = journal.lines().filter(|l| l.contains("\"type\":\"end\"") && l.contains("\"status\":\"ok\"")).count();
    assert_eq!(ends, 3, "{journal}");
    assert!(journal.starts_with("{\"type\":\"run\""), "the records before the deletion are kept:\n{journal}");
    let again = crate::harness::Batchrun::in_dir(ran.dir).args(&["job.yaml", "--resume", "--progress", "plain"]).run();
    again.success().stderr_has("0 succeeded, 0 failed, 0 skipped, 3 already done");
}

/// `--resume --dry-run` shows only what `--resume` would run, and says what it left out.
#[test]
fn resume_dry_run_shows_only_what_would_run() {
    let yaml =
        "jobs:\n  t:\n    items: [a, b, c]\n    command: sh -c 'test \"$1\" != b && echo \"ran-$1\"' sh {{ item }}\n";
    let first = batchrun().job(yaml).args(&["--progress", "none"]).run();
    first.code(1);
    let dry = Batchrun::in_dir(first.dir).args(&["run", "job.yaml", "--resume", "--dry-run"]).run();
    dry.success().stdout_has("t[b]: sh -c").stdout_has("(2 tasks done in an earlier run, left out");
    assert!(!dry.stdout.contains("t[a]:") && !dry.stdout.contains("t[c]:"), "{}", dry.stdout);
}

/// The resume hint can be pasted as it is: a state folder and a value with a space are quoted,
/// and the command, run by a shell, finishes the run.
#[test]
fn the_resume_hint_is_quoted_for_the_shell() {
    let yaml =
        "vars:\n  word: x\njobs:\n  t:\n    command: sh -c 'test -e release && echo \"$1\" > said' sh {{ word }}\n";
    let b = batchrun().job(yaml).args(&["--state-dir", "my state", "--set", "word=a b", "--progress", "none"]);
    let dir = b.path().to_path_buf();
    let first = b.run();
    first.code(1).stderr_has("--state-dir 'my state'").stderr_has("--set 'word=a b'");
    let hint = first.stderr.lines().find_map(|l| l.strip_prefix("To run what is left: batchrun ")).unwrap().to_owned();
    std::fs::write(dir.join("release"), "").unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("\"$0\" {hint}"))
        .arg(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(&dir)
        .env_remove("CI")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(dir.join("said")).unwrap(), "a b\n");
    assert!(dir.join("my state").is_dir());
}
