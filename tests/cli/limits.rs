//! Resource limits: many tasks at once under a low open-file limit.

use std::process::Command;

/// Runs `batchrun job.yaml ARGS` in `dir` under `ulimit`, through bash.
fn under_ulimit(dir: &std::path::Path, ulimit: &str, args: &str) -> (i32, String, String) {
    let script = format!("ulimit {ulimit} && exec '{}' job.yaml {args}", env!("CARGO_BIN_EXE_batchrun"));
    let out = Command::new("bash").arg("-c").arg(&script).current_dir(dir).env_remove("CI").output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

const MANY: &str = "jobs:\n  a:\n    range: {from: 1, to: 120}\n    command: sh -c 'ulimit -n; sleep 0.3'\n";

/// A low soft limit is raised for batchrun, and each task gets the original back.
#[test]
fn a_low_soft_limit_is_raised_and_tasks_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.yaml"), MANY).unwrap();
    let hard: u64 = String::from_utf8_lossy(&Command::new("bash").args(["-c", "ulimit -Hn"]).output().unwrap().stdout)
        .trim()
        .parse()
        .unwrap_or(u64::MAX);
    if hard < 2000 {
        assert!(std::env::var_os("CI").is_none(), "under CI this test must run: the hard open-file limit is {hard}");
        crate::harness::skipped(&format!("the hard open-file limit here ({hard}) cannot hold 120 tasks"));
        return;
    }
    let (code, stdout, stderr) = under_ulimit(dir.path(), "-Sn 256", "-j 120 --progress none");
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("Too many open files"), "{stderr}");
    assert_eq!(stdout.lines().filter(|l| *l == "256").count(), 120, "each task has the original soft limit:\n{stdout}");
}

/// When even the hard limit cannot hold the concurrency asked for, fewer tasks run at once.
#[test]
fn a_low_hard_limit_runs_fewer_tasks_at_once_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.yaml"), MANY).unwrap();
    let (code, _, stderr) = under_ulimit(dir.path(), "-n 200", "-j 120 --progress none");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("running at most 17 tasks at once, not 120: the open-file limit (ulimit -n) is 200; batchrun keeps 64 for itself and each running task needs up to 8, which leaves room for 17;"),
        "{stderr}"
    );
    // No room at all: one task runs, and the message says why the sum gives none.
    std::fs::write(dir.path().join("job.yaml"), "jobs:\n  a:\n    range: {from: 1, to: 3}\n    command: 'true'\n")
        .unwrap();
    let (code, _, stderr) = under_ulimit(dir.path(), "-n 64", "-j 120 --progress none");
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("running at most 1 task at once, not 120"), "{stderr}");
    assert!(stderr.contains("room for 0 (one task runs all the same)"), "{stderr}");
}
