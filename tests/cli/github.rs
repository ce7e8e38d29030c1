//! Under GitHub Actions: failed tasks' output folded, an error annotation per failure, and a
//! Markdown summary in the step summary file.

use crate::harness::batchrun;

const JOB: &str =
    "jobs:\n  t:\n    commands: ['echo fine', \"sh -c 'echo out-of-bad; echo cause: 50% gone >&2; exit 3'\"]\n";

#[test]
fn failures_are_folded_annotated_and_summarised() {
    let ran = batchrun()
        .job(JOB)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", "summary.md")
        .args(&["-j", "1", "--progress", "plain"])
        .run();
    ran.code(1);
    let out = &ran.stdout;
    let group = out.find("::group::t[1] failed").expect("the failed task's output is folded");
    let inside = out.find("out-of-bad").unwrap();
    let end = out.find("::endgroup::").unwrap();
    assert!(group < inside && inside < end, "{out}");
    assert!(!out[..group].contains("::group::"), "the successful task is not folded: {out}");
    ran.stdout_has("::error title=batchrun%3A t[1] failed::exit 3%0Acause: 50%25 gone");
    let summary = ran.read("summary.md");
    assert!(summary.contains("### batchrun: job"), "{summary}");
    assert!(summary.contains("| 2 | 1 | 1 | 0 | 0 |"), "{summary}");
    assert!(summary.contains("| t\\[1\\] | exit 3 | 1 | cause: 50% gone |"), "{summary}");
}

#[test]
fn other_ci_systems_get_plain_output_unchanged() {
    let ran = batchrun().job(JOB).env("CI", "true").args(&["-j", "1"]).run();
    ran.code(1);
    assert!(!ran.stdout.contains("::"), "{}", ran.stdout);
}

/// GitHub shows 10 annotations of a level per step: past 8 failures one by one (the tenth
/// error is kept for an interrupt), the rest are one annotation that names them; 9 failures
/// exactly are 9 annotations. A step summary that would pass GitHub's 1 MiB is cut, with a note.
#[test]
fn annotations_and_the_step_summary_stay_within_github_s_limits() {
    let failing = |n: u32| format!("jobs:\n  t:\n    range: {{from: 1, to: {n}}}\n    command: sh -c 'exit 1'\n");
    let errors = |out: &str| out.lines().filter(|l| l.starts_with("::error ")).map(str::to_owned).collect::<Vec<_>>();

    let ran = batchrun().job(&failing(25)).env("GITHUB_ACTIONS", "true").args(&["-j", "1", "--progress", "none"]).run();
    ran.code(1);
    let shown = errors(&ran.stdout);
    assert_eq!(shown.len(), 9, "{shown:#?}");
    assert!(shown[..8].iter().all(|l| l.contains("failed::exit 1")), "{shown:#?}");
    assert!(
        shown[8].starts_with("::error title=batchrun%3A and 17 more failed tasks%3A see the step summary::"),
        "{}",
        shown[8]
    );
    assert!(shown[8].contains("t[8] failed%0At[9] failed"), "the rest by name: {}", shown[8]);

    let ran = batchrun().job(&failing(9)).env("GITHUB_ACTIONS", "true").args(&["-j", "1", "--progress", "none"]).run();
    let shown = errors(&ran.stdout);
    assert_eq!(shown.len(), 9);
    assert!(shown.iter().all(|l| l.contains("failed::exit 1")), "nine failures, each its own: {shown:#?}");

    // The step wrote almost 1 MiB to its summary before: batchrun's part is cut to fit.
    let b = batchrun().job(&failing(3)).env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", "summary.md");
    let before = "x".repeat(1024 * 1024 - 300) + "\n";
    std::fs::write(b.path().join("summary.md"), &before).unwrap();
    let ran = b.args(&["-j", "1", "--progress", "none"]).run();
    let summary = ran.read("summary.md");
    assert!(summary.len() <= 1024 * 1024, "{}", summary.len());
    assert!(summary.starts_with(&before) && summary.ends_with("hold every task.\n"), "{}", &summary[before.len()..]);
}

/// A task batchrun stopped is cancelled, not failed: no annotation of its own, and one for the
/// interrupt that stopped it.
#[test]
fn an_interrupt_is_one_annotation_and_cancelled_tasks_none() {
    // The task interrupts batchrun, its parent, and waits to be stopped.
    let yaml = "jobs:\n  t:\n    command: sh -c 'echo waiting; kill -INT $PPID; sleep 30'\n";
    let ran = batchrun().job(yaml).env("GITHUB_ACTIONS", "true").args(&["--progress", "plain"]).run();
    ran.code(130).stderr_has("CANCELLED t").stderr_has("0 failed, 1 cancelled");
    // Its output is folded as what it is.
    assert!(ran.stdout.contains("::group::t cancelled\nwaiting\n"), "{}", ran.stdout);
    let errors: Vec<&str> = ran.stdout.lines().filter(|l| l.starts_with("::error")).collect();
    assert_eq!(errors, ["::error title=batchrun%3A interrupted by SIGINT::1 task cancelled"], "{}", ran.stdout);
}
