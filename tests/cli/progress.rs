//! Progress off a terminal: plain lines and no escape codes.

use crate::harness::batchrun;

const JOB: &str = "jobs:\n  p:\n    commands: ['true', 'false', 'echo hi']\n";

#[test]
fn not_a_terminal_means_plain_lines_without_escape_codes() {
    let ran = batchrun().job(JOB).run();
    ran.code(1);
    assert!(
        !ran.stderr.contains('\x1b') && !ran.stderr.contains('\r'),
        "escape codes: {:?}",
        ran.stderr
    );
    ran.stderr_has("ok p[0]")
        .stderr_has("FAILED p[1] exit 1")
        .stderr_has("ok p[2]");
    ran.stderr_has("Summary: 3 tasks: 2 succeeded, 1 failed, 0 skipped");
}

#[test]
fn ci_gets_plain_lines_even_when_asked_for_auto() {
    let ran = batchrun()
        .job(JOB)
        .env("CI", "true")
        .args(&["--progress", "auto"])
        .run();
    ran.code(1);
    assert!(!ran.stderr.contains('\x1b'), "{:?}", ran.stderr);
    ran.stderr_has("ok p[0]");
}

#[test]
fn progress_none_prints_only_the_summary() {
    let ran = batchrun().job(JOB).args(&["--progress", "none"]).run();
    ran.code(1);
    assert!(!ran.stderr.contains("ok p[0]"), "{}", ran.stderr);
    ran.stderr_has("Summary:");
}

#[test]
fn the_summary_shows_each_failure_with_its_stderr() {
    let yaml = "jobs:\n  f:\n    command: sh -c 'echo first >&2; echo the reason >&2; exit 3'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.code(1)
        .stderr_has("FAILED f: exit 3")
        .stderr_has("stderr | the reason");
}

#[test]
fn a_missing_command_is_a_failed_task_not_a_crash() {
    let ran = batchrun()
        .job("jobs:\n  m:\n    command: no-such-command-xyz arg\n")
        .args(&["--progress", "plain"])
        .run();
    ran.code(1)
        .stderr_has("not started: command not found: `no-such-command-xyz`");
}
