//! `--report`: JSON and JUnit reports of a run.

use crate::harness::batchrun;

const JOB: &str = r#"
jobs:
  a:
    commands: ['true', "sh -c 'echo \"<bad> & worse\" >&2; exit 4'"]
  b:
    range: {from: 1, to: 2}
    command: echo {{ start }}
"#;

#[test]
fn a_json_report_lists_every_finished_task() {
    let ran = batchrun().job(JOB).args(&["--report", "out/r.json", "--progress", "none"]).file("out/.keep", "").run();
    ran.code(1);
    let report: serde_json::Value = serde_json::from_str(&ran.read("out/r.json")).unwrap();
    assert_eq!(report["version"], 1);
    assert_eq!(report["name"], "job");
    assert_eq!(report["counts"]["total"], 4);
    assert_eq!(report["counts"]["failed"], 1);
    let tasks = report["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 4);
    let failed = tasks.iter().find(|t| t["status"] == "failed").unwrap();
    assert_eq!(failed["label"], "a[1]");
    assert_eq!(failed["exit"], 4);
    assert_eq!(failed["attempts"], 1);
    assert_eq!(failed["stderr_tail"][0], "<bad> & worse");
    assert!(failed["log"].as_str().unwrap().ends_with("logs/a/1.1"));
    assert_eq!(failed["key"].as_str().unwrap().len(), 16);
    assert!(tasks.iter().filter(|t| t["job"] == "b").all(|t| t["status"] == "ok"));
}

#[test]
fn a_junit_report_has_a_suite_per_job_and_escaped_failures() {
    let ran = batchrun().job(JOB).args(&["--report", "r.xml", "--report", "r.json", "--progress", "none"]).run();
    ran.code(1);
    let xml = ran.read("r.xml");
    assert!(
        xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"job\" tests=\"4\" failures=\"1\""
        ),
        "{xml}"
    );
    assert!(xml.contains("<testsuite name=\"a\" tests=\"2\" failures=\"1\""), "{xml}");
    assert!(xml.contains("<testsuite name=\"b\" tests=\"2\" failures=\"0\""), "{xml}");
    assert!(xml.contains("<testcase name=\"b[1]\" classname=\"b\""), "{xml}");
    assert!(xml.contains("<failure message=\"exit 4 (1 attempts)\" type=\"Failed\">&lt;bad&gt; &amp; worse"), "{xml}");
    assert_eq!(xml.matches("<testcase").count(), 4);
    assert!(ran.path("r.json").exists(), "several reports may be asked for");
}

#[test]
fn a_report_needs_a_known_extension() {
    let ran = batchrun().job(JOB).args(&["--report", "r.txt"]).run();
    ran.code(2).stderr_has("must end in .json or .xml");
}

#[test]
fn report_paths_are_checked_before_anything_runs() {
    let job = "jobs:\n  a:\n    command: touch RAN\n";
    for (path, says) in [("nodir/r.json", "the folder nodir does not exist"), ("folder.json", "it is a folder")] {
        let ran = batchrun().job(job).file("folder.json/keep", "").args(&["--report", path]).run();
        ran.code(2).stderr_has(&format!("--report {path}: {says}"));
        assert!(!ran.path("RAN").exists(), "{path}: a task ran before the report path was checked");
    }
}

#[test]
fn a_report_that_cannot_be_written_at_the_end_makes_the_run_fail() {
    // The task removes the report's folder, so writing the report at the end fails.
    let ran = batchrun()
        .job("jobs:\n  a:\n    command: rm -r out\n")
        .file("out/keep", "")
        .args(&["--report", "out/r.json"])
        .run();
    ran.code(3).stderr_has("cannot write the report out/r.json");
}
