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
    assert!(xml.contains("<failure message=\"exit 4 (1 attempt)\" type=\"Failed\">command: sh -c &apos;echo"), "{xml}");
    assert!(xml.contains("\n&lt;bad&gt; &amp; worse</failure>"), "the last lines of stderr: {xml}");
    assert!(xml.contains("<system-err>&lt;bad&gt; &amp; worse</system-err>"), "its stderr excerpt: {xml}");
    assert_eq!(xml.matches("<testcase").count(), 4);
    assert!(ran.path("r.json").exists(), "several reports may be asked for");
}

#[test]
fn a_report_needs_a_known_extension() {
    let ran = batchrun().job(JOB).args(&["--report", "r.txt"]).run();
    ran.code(2).stderr_has("must end in .json, .xml or .html");
}

#[test]
fn report_paths_are_checked_before_anything_runs() {
    let job = "jobs:\n  a:\n    command: touch RAN\n";
    let cases = [
        ("nodir/r.json", "the folder nodir does not exist"),
        ("folder.json", "it is a folder"),
        ("afile/r.json", "afile is a file, not a folder"),
        ("afile/sub/r.json", "afile is a file, not a folder"),
        ("new.json/", "it ends in /, as a folder does"),
    ];
    for (path, says) in cases {
        let ran = batchrun().job(job).file("folder.json/keep", "").file("afile", "").args(&["--report", path]).run();
        ran.code(2).stderr_has(&format!("--report {path}: {says}"));
        assert!(!ran.path("RAN").exists(), "{path}: a task ran before the report path was checked");
    }
    let no_tmp = batchrun().job(job).env("TMPDIR", "/nonexistent-batchrun-tmp").args(&["--report", "r.json"]).run();
    no_tmp.code(2).stderr_has("--report r.json: cannot make its working file in /nonexistent-batchrun-tmp (TMPDIR)");
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

/// Every planned task is in the reports, in plan order however they finished: a skipped job's
/// tasks as `skipped` (JSON) and `<skipped/>` (JUnit), each with attempt 0 and the key the plan
/// gives it (two identical commands get two keys).
#[test]
fn reports_list_skipped_tasks_too_in_plan_order() {
    let yaml = "jobs:\n  slow_first:\n    range: {from: 1, to: 4}\n    command: sh -c 'sleep 0.$(( 4 - {{ start }} ))'\n  bad:\n    command: 'false'\n  after:\n    needs: [bad]\n    items: [x, x]\n    command: echo {{ item }}\n";
    let ran =
        batchrun().job(yaml).args(&["-j", "4", "--report", "r.json", "--report", "r.xml", "--progress", "none"]).run();
    ran.code(1);
    let report: serde_json::Value = serde_json::from_str(&ran.read("r.json")).unwrap();
    let tasks = report["tasks"].as_array().unwrap();
    let labels: Vec<&str> = tasks.iter().map(|t| t["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        ["slow_first[0]", "slow_first[1]", "slow_first[2]", "slow_first[3]", "bad", "after[x]", "after[x]"]
    );
    let skipped: Vec<&serde_json::Value> = tasks.iter().filter(|t| t["status"] == "skipped").collect();
    assert_eq!(skipped.len(), 2);
    assert_eq!(skipped[0]["reason"], "it needs `bad`, which failed");
    let xml = ran.read("r.xml");
    let planned = crate::harness::Batchrun::in_dir(ran.dir).args(&["plan", "--format", "json", "job.yaml"]).run();
    let keys: Vec<&serde_json::Value> = skipped.iter().map(|t| &t["key"]).collect();
    let plan = planned.json_lines();
    let expected: Vec<&serde_json::Value> = plan.iter().filter(|t| t["job"] == "after").map(|t| &t["key"]).collect();
    assert_eq!(keys, expected, "the keys the plan gives");
    assert_ne!(keys[0], keys[1]);
    assert!(skipped.iter().all(|t| t["attempt"] == 0), "{skipped:?}");
    assert_eq!(xml.matches("<skipped message=\"skipped: it needs `bad`, which failed\"/>").count(), 2, "{xml}");
    assert!(xml.contains(r#"<testsuite name="after" tests="2" failures="0" skipped="2""#), "{xml}");
    let first = xml.find("slow_first[0]").unwrap();
    assert!(xml.find("slow_first[3]").unwrap() > first, "testcases in plan order: {xml}");
}

/// Every way a report path can name what the run reads or keeps: the job file under other
/// spellings and links, items files (one not written yet), the state folder, another report.
#[test]
fn a_report_is_never_written_over_an_input() {
    let job = "name: j\njobs:\n  make:\n    command: touch RAN\n  a:\n    items: {file: list.json}\n    command: echo {{ item }}\n  b:\n    needs: [make]\n    items: {file: later.json}\n    command: echo {{ item }}\n";
    let cases: [(&[&str], &str); 9] = [
        (&["--report", "job.json"], "it is the job file"),
        (&["--report", "./sub/../job.json"], "it is the job file"),
        (&["--report", "hard.json"], "it is the job file"),
        (&["--report", "link.json"], "it is the job file"),
        (&["--report", "list.json"], "it is the items file of job `a`"),
        (&["--report", "later.json"], "it is the items file of job `b`"),
        (&["--report", ".batchrun/j/r.json"], "it is in the state folder"),
        (&["--state-dir", "st", "--report", "st/logs/r.html"], "it is in the state folder"),
        (&["--report", "r.json", "--report", "./r.json"], "it is the same file as --report r.json"),
    ];
    for (args, says) in cases {
        let dir = batchrun().file("job.json", job).file("list.json", "x\n").file("sub/keep", "");
        let list = std::fs::read_to_string(dir.path().join("list.json")).unwrap();
        std::fs::hard_link(dir.path().join("job.json"), dir.path().join("hard.json")).unwrap();
        std::os::unix::fs::symlink("job.json", dir.path().join("link.json")).unwrap();
        let ran = dir.arg("job.json").args(args).run();
        ran.code(2).stderr_has(says).stderr_has("a report is never written over what a run reads or keeps");
        assert_eq!(ran.read("job.json"), job, "{args:?}");
        assert_eq!(ran.read("list.json"), list, "{args:?}");
        assert!(!ran.path("RAN").exists(), "{args:?}: a task ran");
    }
}

#[test]
fn a_report_s_working_file_never_replaces_a_file_of_the_user_s() {
    let ran = batchrun().job(JOB).file("r.json.partial", "mine").args(&["--report", "r.json"]).run();
    ran.code(1);
    assert!(ran.read("r.json").contains("\"tasks\""));
    assert_eq!(ran.read("r.json.partial"), "mine");
    let names: Vec<String> = std::fs::read_dir(ran.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with(".r.json.")), "a working file was left: {names:?}");
}

#[test]
fn a_report_is_not_written_through_a_link_an_items_file_is_named_by() {
    let job = "jobs:\n  gen:\n    command: sh -c 'echo x > gen.json'\n  b:\n    needs: [gen]\n    items: {file: glink.json}\n    command: echo {{ item }}\n";
    let dir = batchrun().job(job);
    std::os::unix::fs::symlink("gen.json", dir.path().join("glink.json")).unwrap();
    let ran = dir.args(&["--report", "gen.json"]).run();
    ran.code(2).stderr_has("--report gen.json: it is the items file of job `b`");
}

/// A task that failed and then passed on a retry is flaky: the summary counts it among the
/// succeeded, the JSON report and `--events json` mark it and keep its failed attempts, and
/// JUnit writes each failed attempt as a `flakyFailure` inside its passing testcase (and a
/// `rerunFailure` in a testcase that failed again).
#[test]
fn a_flaky_task_is_marked_with_its_failed_attempts_in_every_format() {
    let yaml = "defaults:\n  retries: 2\n  retry_delay: 0s\njobs:\n  t:\n    items: [flaky, broken]\n    command: >-\n      sh -c 'echo x >> \"n-$1\"; test \"$1\" = flaky -a \"$(wc -l < \"n-$1\")\" -ge 2 || { echo \"boom $1\" >&2; exit 3; }' sh {{ item }}\n";
    let ran = batchrun()
        .job(yaml)
        .args(&["--progress", "none", "--report", "r.json", "--report", "r.xml", "--events", "json"])
        .run();
    ran.code(1).stderr_has("1 succeeded (1 flaky), 1 failed").stderr_has("FLAKY t[flaky]: succeeded on attempt 2");
    let report: serde_json::Value = serde_json::from_str(&ran.read("r.json")).unwrap();
    assert_eq!(report["counts"]["flaky"], 1);
    let flaky = &report["tasks"][0];
    assert_eq!(flaky["flaky"], true, "{flaky}");
    assert_eq!(flaky["failed_attempts"][0]["exit"], 3);
    assert_eq!(flaky["failed_attempts"][0]["stderr_tail"][0], "boom flaky");
    assert_eq!(report["tasks"][1]["failed_attempts"].as_array().map(Vec::len), Some(2), "{}", report["tasks"][1]);
    let events = ran.json_lines();
    let finished = events.iter().find(|e| e["event"] == "task_finished" && e["label"] == "t[flaky]").unwrap();
    assert_eq!(finished["flaky"], true, "{finished}");
    let junit = ran.read("r.xml");
    assert!(junit.contains(r#"<flakyFailure message="attempt 1: exit 3" type="Failed">"#), "{junit}");
    assert!(junit.contains("<system-err>boom flaky</system-err>\n      </flakyFailure>"), "{junit}");
    assert_eq!(junit.matches("<rerunFailure").count(), 2, "{junit}");
}

/// The JUnit report as a real consumer reads it: junitparser's xunit2 reader (Surefire's and
/// nextest's `flakyFailure`) finds the flaky task passed, with its failed attempt. It runs in
/// the Python that `BATCHRUN_JUNIT_PYTHON` names (`.ci/run` makes one with junitparser).
#[test]
fn junitparser_reads_a_flaky_task_s_failed_attempts() {
    let Some(python) = std::env::var_os("BATCHRUN_JUNIT_PYTHON") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("BATCHRUN_JUNIT_PYTHON must name a Python with junitparser under CI=true (.ci/run makes one)");
        }
        crate::harness::skipped("BATCHRUN_JUNIT_PYTHON is not set (a Python with junitparser; .ci/run makes one)");
        return;
    };
    let yaml = "defaults:\n  retries: 1\n  retry_delay: 0s\njobs:\n  t:\n    command: >-\n      sh -c 'echo x >> n; test \"$(wc -l < n)\" -ge 2 || { echo boom >&2; exit 3; }'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none", "--report", "r.xml"]).run();
    ran.success();
    let read = "from junitparser.xunit2 import JUnitXml\nfor suite in JUnitXml.fromfile('r.xml'):\n    for case in suite:\n        print(case.name, case.is_passed, [(f.message, f.system_err) for f in case.flaky_failures()])\n";
    let out = std::process::Command::new(python).arg("-c").arg(read).current_dir(ran.path(".")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t True [('attempt 1: exit 3', 'boom')]\n");
}

/// Every failed attempt carries its evidence: the command, its log files, and the head and tail
/// of its stdout and stderr, with what was left out between them counted; a cause printed first
/// and followed by pages of cleanup survives. JUnit holds the same as `<system-out>` and
/// `<system-err>`, for the last attempt and each one before it.
#[test]
fn every_failed_attempt_carries_its_command_logs_and_output() {
    let yaml = "jobs:\n  t:\n    retries: 1\n    retry_delay: 0s\n    command: >-\n      sh -c 'echo \"FATAL: no table\" >&2; seq -f \"cleanup %g\" 1 100 >&2; echo rows 0; exit 5'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none", "--report", "r.json", "--report", "r.xml"]).run();
    ran.code(1);
    let report: serde_json::Value = serde_json::from_str(&ran.read("r.json")).unwrap();
    let task = &report["tasks"][0];
    for (attempt, which) in [(&task["failed_attempts"][0], "1"), (task, "2")] {
        let stderr = &attempt["evidence"]["stderr"];
        assert_eq!(stderr["head"][0], "FATAL: no table", "{attempt}");
        assert_eq!(stderr["tail"].as_array().unwrap().last().unwrap(), "cleanup 100");
        assert_eq!(stderr["omitted_lines"], 21, "101 lines, 20 + 60 shown: {stderr}");
        assert_eq!(attempt["evidence"]["stdout"]["head"], serde_json::json!(["rows 0"]));
        let log = attempt["logs"]["stderr"].as_str().unwrap();
        assert!(log.ends_with(&format!("logs/t/0.{which}.err")), "{log}");
        assert!(std::fs::read_to_string(log).unwrap().starts_with("FATAL: no table\n"), "the log holds it whole");
    }
    assert!(task["command"].as_str().unwrap().starts_with("sh -c"));
    let junit = ran.read("r.xml");
    assert!(junit.contains("<system-err>FATAL: no table\ncleanup 1\n"), "{junit}");
    assert!(junit.contains("\n… 21 lines (231 B) not shown …\ncleanup 41\n"), "{junit}");
    assert!(junit.contains("<system-out>rows 0</system-out>"), "{junit}");
    assert_eq!(junit.matches("<system-err>").count(), 2, "the rerun's too: {junit}");
}

/// Failures are listed in plan order wherever they are listed, whatever order they ended in:
/// here each task waits for the next one's mark, so they end last first.
#[test]
fn failures_are_listed_in_plan_order_everywhere() {
    let yaml = "jobs:\n  t:\n    items: [0, 1, 2]\n    command: >-\n      sh -c 'case $1 in 0) n=1;; 1) n=2;; *) n=;; esac; until test -z \"$n\" -o -e \"done.$n\"; do sleep 0.01; done; touch \"done.$1\"; exit 1' sh {{ item }}\n";
    let ran = batchrun()
        .job(yaml)
        .args(&["-j", "3", "--progress", "plain", "--report", "r.json", "--report", "r.html"])
        .env("GITHUB_ACTIONS", "true")
        .run();
    ran.code(1);
    let finished: Vec<&str> =
        ran.stderr.lines().filter(|l| l.starts_with("FAILED ")).map(|l| l.split_whitespace().nth(1).unwrap()).collect();
    assert_eq!(finished, ["t[item=2]", "t[item=1]", "t[item=0]"], "they ended last first");
    let summary: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.starts_with("  FAILED "))
        .map(|l| l.split_whitespace().nth(1).unwrap().trim_end_matches(':'))
        .collect();
    assert_eq!(summary, ["t[item=0]", "t[item=1]", "t[item=2]"], "{}", ran.stderr);
    let annotations: Vec<&str> = ran.stdout.lines().filter(|l| l.starts_with("::error")).collect();
    assert!(annotations[0].contains("t[item=0]") && annotations[2].contains("t[item=2]"), "{annotations:?}");
}

/// A matrix or items task is named by its values wherever it is shown (the summary, JUnit,
/// the annotations); `label:` names it otherwise. Labels are for display only: the same tasks
/// are recognised by `--resume` under new labels, and `BATCHRUN_TASK` keeps the place. A value
/// holding a newline and `::error` is shown escaped, so it cannot become a workflow command.
#[test]
fn labels_say_what_ran_and_change_nothing_else() {
    let yaml = "jobs:\n  test:\n    matrix: {python: ['3.12'], db: [postgres, sqlite]}\n    command: sh -c 'echo \"$BATCHRUN_TASK\" >> places; test \"$1\" = postgres' sh {{ db }}\n  fetch:\n    items: [\"x\\n::error::forged|\"]\n    command: 'false'\n";
    let run = batchrun().job(yaml);
    let step_summary = run.path().join("step-summary.md").display().to_string();
    let ran = run
        .args(&["--progress", "plain", "--report", "r.xml"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &step_summary)
        .run();
    ran.code(1)
        .stderr_has("ok test[python=3.12,db=postgres]")
        .stderr_has("FAILED test[python=3.12,db=sqlite]: exit 1")
        .stderr_has("FAILED fetch[x\\n::error::forged|]: exit 1");
    let md = ran.read("step-summary.md");
    assert!(
        md.contains(r"| fetch\[x\\n\:\:error\:\:forged\|\] | exit 1 |"),
        "a label holding `|` stays in its cell: {md}"
    );
    assert!(ran.read("r.xml").contains(r#"<testcase name="test[python=3.12,db=sqlite]" classname="test""#));
    for (name, text) in [("stdout", &ran.stdout), ("stderr", &ran.stderr)] {
        assert!(!text.lines().any(|l| l.starts_with("::error::forged")), "a forged command on {name}:\n{text}");
    }
    let mut places: Vec<String> = ran.read("places").lines().map(str::to_owned).collect();
    places.sort();
    assert_eq!(places, ["test[0]", "test[1]"], "BATCHRUN_TASK names the place");

    // A label of its own; the tasks done are still recognised.
    let labelled = yaml.replace("    command: sh -c", "    label: '{{ db }} on {{ python }}'\n    command: sh -c");
    let resumed =
        crate::harness::Batchrun::in_dir(ran.dir).job(&labelled).args(&["--resume", "--progress", "plain"]).run();
    resumed.code(1).stderr_has("FAILED test[sqlite on 3.12]: exit 1").stderr_has("1 already done");
}

/// A `label` template that cannot be read is refused before anything runs, where it is written;
/// one that cannot be rendered for a task leaves that task its default label, with a warning:
/// a label never keeps a task from running.
#[test]
fn a_broken_label_template_is_refused_with_its_place() {
    let yaml = "jobs:\n  t:\n    items: [{n: a}, {m: 1}]\n    label: '{{ item.n }}'\n    command: echo ran\n";
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.success()
        .stderr_has("ok t[a]")
        .stderr_has("ok t[m=1]")
        .stderr_has("warning: job `t`, task t[m=1]: `label`: undefined value: `item.n` is undefined; such tasks are shown by their default label");
    assert_eq!(ran.stdout.matches("ran").count(), 2);

    let yaml = "jobs:\n  t:\n    items: [a]\n    label: '{{ item '\n    command: 'true'\n";
    let ran = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    ran.code(2).stderr_has("job.yaml:4:12").stderr_has("label");
}

/// Two tasks with the same values have the same label; in JUnit each testcase keeps a name of
/// its own (renderers merge testcases of one name), the later ones told by their index.
#[test]
fn testcases_of_one_label_keep_names_of_their_own() {
    let yaml = "jobs:\n  dup:\n    items: [same, same, other]\n    command: 'true'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none", "--report", "r.xml"]).run();
    ran.success();
    let junit = ran.read("r.xml");
    let names: Vec<&str> = junit.split("<testcase name=\"").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    assert_eq!(names, ["dup[same]", "dup[same] #1", "dup[other]"], "{junit}");
}

/// A generated command can be megabytes: JUnit and the HTML page show its start for each
/// failed attempt, and the JSON report has it whole.
#[test]
fn a_long_command_is_cut_in_junit_and_the_page_and_whole_in_json() {
    let long = "x".repeat(5000);
    let yaml = format!("jobs:\n  t:\n    command: sh -c 'exit 1' sh {long}\n");
    let ran = batchrun()
        .job(&yaml)
        .args(&["--progress", "none", "--report", "r.xml", "--report", "r.json", "--report", "r.html"])
        .run();
    ran.code(1);
    let whole = format!("sh -c 'exit 1' sh {long}");
    let report: serde_json::Value = serde_json::from_str(&ran.read("r.json")).unwrap();
    assert_eq!(report["tasks"][0]["command"], whole.as_str());
    for page in ["r.xml", "r.html"] {
        let text = ran.read(page);
        assert!(!text.contains(&whole), "{page} holds the whole command");
        assert!(text.contains(&format!("(cut: {} bytes in all; the JSON report has it whole)", whole.len())), "{page}");
    }
}
