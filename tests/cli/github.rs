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
    assert!(summary.contains("| `t[1]` | exit 3 | 1 | cause: 50% gone |"), "{summary}");
}

#[test]
fn other_ci_systems_get_plain_output_unchanged() {
    let ran = batchrun().job(JOB).env("CI", "true").args(&["-j", "1"]).run();
    ran.code(1);
    assert!(!ran.stdout.contains("::"), "{}", ran.stdout);
}
