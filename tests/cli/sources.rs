//! Every kind of source expands to the right tasks, and runs them.

use crate::harness::{Batchrun, batchrun};

#[test]
fn commands_list_runs_each_entry() {
    let ran = batchrun().job("jobs:\n  a:\n    commands: [echo one, echo two, echo three]\n").run();
    ran.success();
    assert_eq!(ran.sorted_stdout(), ["one", "three", "two"]);
}

#[test]
fn range_by_step_cuts_the_last_partition() {
    let ran = batchrun()
        .job("jobs:\n  r:\n    range: {from: 1, to: 10, step: 4}\n    command: echo {{ index }} {{ start }} {{ end }} {{ count }}\n")
        .args(&["--output", "ordered"])
        .run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["0 1 4 3", "1 5 8 3", "2 9 10 3"]);
}

#[test]
fn range_by_chunks_with_templated_bounds() {
    let ran = batchrun()
        .job("vars:\n  top: 10\njobs:\n  r:\n    range: {from: 1, to: \"{{ top * 2 }}\", chunks: 3}\n    command: echo {{ start }}-{{ end }}\n")
        .args(&["--output", "ordered"])
        .run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["1-7", "8-14", "15-20"]);
}

#[test]
fn computed_var_feeds_a_range_bound() {
    let ran = batchrun()
        .job("vars:\n  max_id: {sh: 'echo 6'}\njobs:\n  r:\n    range: {from: 1, to: \"{{ max_id }}\", step: 3}\n    command: echo {{ start }}-{{ end }}\n")
        .args(&["--output", "ordered"])
        .run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["1-3", "4-6"]);
}

/// A range bound that came from a computed var tells the var's story: its command, how it
/// exited and what it wrote to stderr, even when it exited 0; and a computed var that wrote to
/// stderr is warned of before anything runs, even when the plan is sound.
#[test]
fn a_computed_var_tells_what_its_command_did() {
    let yaml = "vars:\n  rows: {sh: 'tail -n +2 data/orders.csv | wc -l'}\njobs:\n  export:\n    range: {from: 1, to: \"{{ rows }}\", chunks: 4}\n    command: echo {{ start }}\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.code(2)
        .stderr_has("range: `from` (1) is greater than `to` (0); `rows` is `0` from `tail -n +2 data/orders.csv | wc -l`, which exited 0 and wrote to stderr: tail: ")
        .stderr_has("data/orders.csv");
    let yaml = "vars:\n  n: {sh: 'echo careful >&2; echo 2'}\njobs:\n  a:\n    range: {from: 1, to: \"{{ n }}\"}\n    command: echo {{ start }}\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.success().stderr_has(
        "warning: computed var `n` is `2` from `echo careful >&2; echo 2`, which exited 0 and wrote to stderr: careful",
    );
    let quiet = batchrun().job("vars:\n  n: {sh: 'echo 2'}\njobs:\n  a:\n    command: echo {{ n }}\n").run();
    assert!(!quiet.stderr.contains("warning"), "{}", quiet.stderr);
}

#[test]
fn matrix_with_exclude_and_include() {
    let yaml = r#"
jobs:
  m:
    matrix:
      os: [linux, mac]
      v: {from: 1, to: 3}
      exclude: [{os: mac, v: 2}]
      include: [{os: bsd, v: 9}]
    command: echo {{ os }}-{{ v }}
"#;
    let ran = batchrun().job(yaml).args(&["--output", "ordered"]).run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["linux-1", "linux-2", "linux-3", "mac-1", "mac-3", "bsd-9"]);
}

#[test]
fn inline_items_scalars_and_maps() {
    let yaml = "jobs:\n  i:\n    items: [{name: a, n: 1}, {name: b, n: 2}]\n    command: echo {{ item.name }}={{ item.n * 10 }}\n";
    let ran = batchrun().job(yaml).args(&["--output", "ordered"]).run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["a=10", "b=20"]);
}

#[test]
fn items_from_a_file_of_lines_skip_blank_lines() {
    let ran = batchrun()
        .file("data/list.txt", "alpha\n\nbeta\r\n  \ngamma")
        .job("jobs:\n  i:\n    items: {file: data/list.txt}\n    command: echo [{{ item }}]\n")
        .args(&["--output", "ordered"])
        .run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["[alpha]", "[beta]", "[gamma]"]);
}

#[test]
fn items_from_csv_with_a_header() {
    let ran = batchrun()
        .file("rows.csv", "id,name\n1,\"Smith, J\"\n2,Doe\n")
        .job("jobs:\n  i:\n    items: {file: rows.csv, format: csv}\n    command: echo {{ item.id }}:{{ item.name }}\n")
        .args(&["--output", "ordered"])
        .run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["1:Smith, J", "2:Doe"]);
}

#[test]
fn items_from_json_lines() {
    let ran = batchrun()
        .file("rows.jsonl", "{\"a\": 1, \"b\": [1, 2]}\n\n{\"a\": 2, \"b\": []}\n")
        .job("jobs:\n  i:\n    items: {file: rows.jsonl, format: jsonl}\n    command: echo {{ item.a }} {{ item.b | length }}\n")
        .args(&["--output", "ordered"])
        .run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["1 2", "2 0"]);
}

#[test]
fn a_bad_json_line_is_a_plan_error_with_its_line() {
    let ran = batchrun()
        .file("rows.jsonl", "{\"a\": 1}\n{oops\n")
        .job("jobs:\n  i:\n    items: {file: rows.jsonl, format: jsonl}\n    command: echo {{ item.a }}\n")
        .run();
    ran.code(2).stderr_has("rows.jsonl:2: not a JSON value");
    assert_eq!(ran.stdout, "");
}

#[test]
fn tasks_see_batchrun_variables_env_and_cwd() {
    let yaml = r#"
defaults:
  env: {GREETING: "hi {{ job }}"}
jobs:
  e:
    cwd: sub
    commands: ['sh -c "echo $BATCHRUN_JOB $BATCHRUN_INDEX $BATCHRUN_TASK $BATCHRUN_ATTEMPT $GREETING; pwd"']
"#;
    let ran = batchrun().file("sub/.keep", "").job(yaml).run();
    ran.success();
    let lines = ran.stdout_lines();
    assert_eq!(lines[0], "e 0 e[0] 1 hi e");
    assert!(lines[1].ends_with("/sub"), "{lines:?}");
}

#[test]
fn relative_paths_resolve_against_the_job_file_folder() {
    let b = batchrun()
        .file("jobs/names.txt", "x\ny\n")
        .file("jobs/j.yaml", "jobs:\n  i:\n    items: {file: names.txt}\n    command: cat {{ item }}.txt\n");
    let b = b.file("jobs/x.txt", "X\n").file("jobs/y.txt", "Y\n").arg("jobs/j.yaml").args(&["--output", "ordered"]);
    let ran = b.run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["X", "Y"]);
}

/// A job that waits for its needs reads its items file after they ran (one of them writes it),
/// is planned then, and its tasks come after them in the run's order and in every count.
#[test]
fn an_items_file_written_by_a_needed_job_is_read_after_it_ran() {
    let yaml = "jobs:\n  write:\n    command: sh -c 'seq 1 10 > items.txt'\n  use:\n    needs: [write]\n    items: {file: items.txt}\n    command: echo {{ item }} of {{ count }}\n  after:\n    needs: [use]\n    command: echo after\n";
    let ran = batchrun()
        .job(yaml)
        .file("items.txt", "a\nb\nc\n")
        .args(&["--output", "ordered", "--events", "json", "-j", "2"])
        .run();
    ran.success();
    let lines: Vec<String> = (1..=10).map(|i| format!("{i} of 10")).chain(["after".to_owned()]).collect();
    let shown: Vec<&str> = ran.stderr.lines().filter(|l| l.ends_with("of 10") || *l == "after").collect();
    assert_eq!(shown, lines, "every item of the new file, in order, then the job after it");
    let events: Vec<serde_json::Value> = ran.json_lines();
    let first = &events[0];
    assert_eq!(first["counts"]["total"], 2, "at the start: `write` and `after`");
    let planned = events.iter().find(|e| e["event"] == "job_planned").expect("a job_planned event");
    assert_eq!((planned["job"].as_str(), planned["tasks"].as_u64()), (Some("use"), Some(10)));
    assert_eq!(planned["counts"]["total"], 12);
    let last = events.last().unwrap();
    assert_eq!((last["counts"]["total"].as_u64(), last["counts"]["succeeded"].as_u64()), (Some(12), Some(12)));

    let status = Batchrun::in_dir(ran.dir).args(&["status", "job.yaml"]).run();
    let row = status.stdout.lines().find(|l| l.starts_with("use")).unwrap_or_default().to_owned();
    assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["use", "10", "0", "0", "0"], "{}", status.stdout);
}

/// `plan` and `validate` do not read a file that a needed job may write, and say when it is read.
#[test]
fn plan_shows_a_job_planned_when_its_needs_have_run() {
    let yaml = "jobs:\n  write:\n    command: sh -c 'seq 1 10 > items.txt'\n  use:\n    needs: [write]\n    items: {file: items.txt}\n    command: echo {{ item }}\n";
    let ran = batchrun().arg("plan").job(yaml).run();
    ran.success()
        .stdout_has("1 task in 2 jobs (1 of them planned when it runs)")
        .stdout_has("use (planned when `write` has run, needs write)");
    let ran = batchrun().arg("validate").job(yaml).run();
    ran.success().stderr_has("use is planned when it runs");
}

/// An items file that changes while its job runs does not change the job's tasks: they come
/// from the snapshot taken when the job was planned.
#[test]
fn an_items_file_that_changes_mid_run_does_not_change_the_tasks() {
    let items: Vec<String> = (0..50).map(|i| format!("item{i}")).collect();
    let yaml = "jobs:\n  a:\n    items: {file: items.txt}\n    command: \"sh -c 'echo \\\"$1\\\"; : > items.txt' sh {{ item }}\"\n";
    let ran = batchrun()
        .job(yaml)
        .file("items.txt", &(items.join("\n") + "\n"))
        .args(&["-j", "1", "--progress", "none", "--output", "ordered"])
        .run();
    ran.success();
    assert_eq!(ran.stdout_lines(), items);
    assert!(!ran.path(".batchrun/job/inputs").exists(), "the run's snapshots are removed when it ends");
}

/// A FIFO, or `/dev/stdin`, is read once into the snapshot, so it works as an items file.
#[test]
fn a_fifo_works_as_an_items_file() {
    let b = batchrun().job("jobs:\n  a:\n    items: {file: items.fifo}\n    command: echo {{ item }} of {{ count }}\n");
    let fifo = b.path().join("items.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // Opening for writing waits for batchrun to open it for reading.
    let writer = std::thread::spawn(move || std::fs::write(fifo, "x\ny\nz\n").unwrap());
    let ran = b.args(&["--output", "ordered", "--progress", "none"]).run();
    writer.join().unwrap();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["x of 3", "y of 3", "z of 3"]);

    std::fs::write(ran.path("job.yaml"), "jobs:\n  a:\n    items: {file: /dev/stdin}\n    command: echo {{ item }}\n")
        .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .args(["run", "job.yaml", "--output", "ordered", "--progress", "none"])
        .current_dir(ran.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"p\nq\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "p\nq\n");
}

/// A job planned when it becomes ready whose items cannot be read fails as one task, with
/// why; what needs it is skipped; one whose need failed is never planned, and says so.
#[test]
fn a_job_that_cannot_be_planned_when_ready_fails_and_says_why() {
    let yaml = "jobs:\n  write:\n    command: sh -c 'echo \"{bad\" > items.jsonl'\n  use:\n    needs: [write]\n    items: {file: items.jsonl, format: jsonl}\n    command: echo {{ item }}\n  after:\n    needs: [use]\n    command: echo after\n";
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.code(1)
        .stderr_has("FAILED use not started: cannot plan the job: ")
        .stderr_has("items.jsonl:1: not a JSON value");
    ran.stderr_has("SKIPPED after (1 task): it needs `use`, which failed");
    let summary = ran.stderr.lines().find(|l| l.starts_with("Summary:")).unwrap_or_default().to_owned();
    assert!(summary.starts_with("Summary: 3 tasks: 1 succeeded, 1 failed, 1 skipped"), "{summary}");

    let yaml = "jobs:\n  write:\n    command: 'false'\n  use:\n    needs: [write]\n    items: {file: items.txt}\n    command: echo {{ item }}\n";
    let ran = batchrun().job(yaml).run();
    ran.code(1).stderr_has("SKIPPED use (not planned): it needs `write`, which failed");
}

/// A job planned later runs on as many workers as asked, though the run started with fewer
/// tasks planned than workers: its two tasks can only end together.
#[test]
fn a_job_planned_later_gets_every_worker() {
    let yaml = "jobs:\n  write:\n    command: sh -c 'printf \"a\\nb\\n\" > items.txt'\n  meet:\n    needs: [write]\n    timeout: 30s\n    items: {file: items.txt}\n    command: sh -c 'touch \"$1.here\"; while [ ! -e a.here ] || [ ! -e b.here ]; do sleep 0.01; done' sh {{ item }}\n";
    let ran = batchrun().job(yaml).args(&["-j", "2", "--progress", "none"]).run();
    ran.success();
}

#[test]
fn values_arrive_as_written_and_plain_numbers_stay_numbers() {
    let yaml = "vars:\n  v: 007\n  s: x\njobs:\n  yaml:\n    items: [18446744073709551617, -0, 007, 1.0, 1e400, 0x10, 42, 1.5]\n    command: printf '[%s]' {{ item }}\n  matrix:\n    matrix: {n: [007, 1e3]}\n    command: printf '<%s>' {{ n }} {{ v }}\n  sum:\n    matrix: {n: [41, 1.5]}\n    command: printf '(%s)' {{ n + 1 }}\n  jsonl:\n    items: {file: items.jsonl, format: jsonl}\n    command: printf '/%s/' {{ item.n }}\n  csv:\n    items: {file: items.csv, format: csv}\n    command: printf '|%s|' {{ item.n }}\n  set:\n    command: printf '=%s=' {{ s }}\n";
    let ran = batchrun()
        .file("items.jsonl", "{\"n\": 18446744073709551617}\n{\"n\": -0}\n{\"n\": 1e400}\n{\"n\": 5}\n")
        .file("items.csv", "n\n007\n1.0\n")
        .job(yaml)
        .args(&["--output", "ordered", "--set", "s=0x1F"])
        .run();
    ran.success();
    let printed: String = ran.stdout.clone();
    for expected in [
        "[18446744073709551617][-0][007][1.0][1e400][0x10][42][1.5]",
        "<007><007><1e3><007>",
        "(42)(2.5)",
        "/18446744073709551617//-0//1e400//5/",
        "|007||1.0|",
        "=0x1F=",
    ] {
        assert!(printed.contains(expected), "{expected} not in {printed}");
    }
}

/// An items file a job it needs replaces with a device is refused when the job is planned, as
/// one there from the start is.
#[test]
fn an_items_file_that_became_a_device_is_refused_when_planned() {
    let job = "jobs:\n  b:\n    command: ln -sf /dev/zero z\n  a:\n    needs: [b]\n    items: {file: z}\n    command: echo {{ item }}\n";
    let ran = batchrun().job(job).run();
    ran.code(1).stderr_has("is a device, not a file or a FIFO");
    assert!(ran.elapsed < std::time::Duration::from_secs(30), "took {:?}", ran.elapsed);
}

/// `items: {sh: …}`: a job fans out over what a command prints, run once when the job becomes
/// ready, so over what a job it needs wrote; a command that fails fails its job with its
/// stderr; `plan` and `validate` run none.
#[test]
fn items_from_a_command_fan_out_over_what_a_needed_job_wrote() {
    let yaml = r#"
jobs:
  list:
    command: sh -c 'seq 3 > ids.txt; touch LIST_RAN'
  fan:
    needs: [list]
    items: {sh: "cat ids.txt"}
    command: echo id {{ item }}
  rows:
    items: {sh: "printf '{\"a\":1}\\n{\"a\":2}\\n'", format: jsonl}
    command: echo a {{ item.a }}
  broken:
    items: {sh: "echo no such table >&2; exit 3"}
    command: echo {{ item }}
"#;
    let b = batchrun().file("job.yaml", yaml);
    let dir = b.path().to_path_buf();
    let planned = b.args(&["plan", "job.yaml"]).run();
    planned.success().stdout_has("fan (planned when `list` has run").stdout_has("its items are a command's output");
    assert!(!dir.join("LIST_RAN").exists() && !dir.join("ids.txt").exists(), "plan ran nothing");
    let checked = crate::harness::Batchrun::in_dir(planned.dir).args(&["validate", "job.yaml"]).run();
    checked.success().stderr_has("fan, rows, broken are planned when they run");
    let ran = crate::harness::Batchrun::in_dir(checked.dir)
        .args(&["job.yaml", "--output", "ordered", "--progress", "plain"])
        .run();
    ran.code(1)
        .stderr_has("FAILED broken not started: cannot plan the job: `echo no such table >&2; exit 3` failed")
        .stderr_has(": no such table");
    let out = ran.stdout_lines();
    for line in ["id 1", "id 2", "id 3", "a 1", "a 2"] {
        assert!(out.contains(&line), "{line} in {out:?}");
    }
}

/// An items command ends with its process group (a background child it left does not hold the
/// run), and the job's `timeout` bounds it.
#[test]
fn an_items_command_is_bounded_by_its_group_and_the_job_s_timeout() {
    let yaml = "jobs:\n  bg:\n    items: {sh: 'echo a; sleep 30 &'}\n    command: echo {{ item }}\n  slow:\n    timeout: 1s\n    items: {sh: 'sleep 30'}\n    command: echo {{ item }}\n";
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.code(1)
        .stderr_has("ok bg")
        .stderr_has("FAILED slow not started: cannot plan the job: `sleep 30`: timed out after 1s");
    assert!(ran.elapsed < std::time::Duration::from_secs(15), "{:?}", ran.elapsed);
}

/// An items command runs beside the pool: while it runs, other jobs' tasks start (here the one
/// it waits for), and an interrupt stops it at once, its job not run rather than failed.
#[test]
fn an_items_command_runs_beside_other_tasks_and_stops_with_the_run() {
    let yaml = "jobs:\n  list:\n    timeout: 30s\n    items: {sh: 'while [ ! -e ready ]; do sleep 0.05; done; echo a'}\n    command: echo {{ item }}\n  other:\n    command: touch ready\n";
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.success().stderr_has("ok other").stderr_has("ok list[a]");
    assert!(ran.elapsed < std::time::Duration::from_secs(20), "{:?}", ran.elapsed);

    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let slow = "jobs:\n  list:\n    items: {sh: 'touch planning; sleep 60; echo a'}\n    command: echo {{ item }}\n";
    std::fs::write(dir.path().join("job.yaml"), slow).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir.path())
        .args(["job.yaml", "--progress", "plain"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.path().join("planning").exists() {
        assert!(Instant::now() < deadline, "the items command should start within a minute");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::INT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "stopped promptly: {:?}", started.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("1 not run"), "{stderr}");
    assert!(!stderr.contains("FAILED"), "{stderr}");
}

/// An items command's template is checked before the run, as a computed var's is: where a
/// value would be read as code, or a broken template, `validate` says so with the place.
#[test]
fn an_items_command_template_is_checked_before_the_run() {
    for (sh, why) in [("echo $(( {{ t }} + 1 ))", "a value inside arithmetic"), ("echo {{ t }", "syntax error")] {
        let yaml =
            format!("vars:\n  t: x\njobs:\n  a:\n    items: {{sh: \"{sh}\"}}\n    command: echo {{{{ item }}}}\n");
        let refused = batchrun().file("job.yaml", &yaml).args(&["validate", "job.yaml"]).run();
        refused.code(2).stderr_has(&format!("job `a`: items command in `{sh}`: {why}")).stderr_has("job.yaml:5:12");
    }
}

/// `range: {bounds: {sh: …}}`: the partitions are what the command's bounds say, a repeated
/// bound counted once; out-of-order bounds fail the job with the line; `plan` does not run it;
/// `bounds` with another range key is refused.
#[test]
fn a_range_takes_its_bounds_from_a_command() {
    // Its bounds are batchrun's integers, placed even in a `-c` script as a range's are.
    let yaml = "jobs:\n  parts:\n    range: {bounds: {sh: \"printf '1\\\\n5\\\\n5\\\\n9\\\\n20\\\\n'\"}}\n    command: sh -c 'echo {{ start }}-{{ end }} of {{ count }}'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.success();
    assert_eq!(ran.sorted_stdout(), ["1-4 of 3", "5-8 of 3", "9-20 of 3"]);
    let planned = Batchrun::in_dir(ran.dir).args(&["plan", "job.yaml"]).run();
    planned.success().stdout_has("its range's bounds are a command's output, which `plan` does not run");

    let unsorted =
        "jobs:\n  parts:\n    range: {bounds: {sh: \"printf '3\\\\n2\\\\n'\"}}\n    command: echo {{ start }}\n";
    batchrun()
        .job(unsorted)
        .args(&["--progress", "plain"])
        .run()
        .code(1)
        .stderr_has(":2: the bounds are not ascending: 2 comes after 3 (line 1)");
    let both = "jobs:\n  parts:\n    range: {from: 1, bounds: {sh: 'echo 1'}}\n    command: echo {{ start }}\n";
    batchrun()
        .file("job.yaml", both)
        .args(&["validate", "job.yaml"])
        .run()
        .code(2)
        .stderr_has("`range.bounds` takes every bound from its command: not with from, to, step or chunks")
        .stderr_has("job.yaml:3:19");
}
