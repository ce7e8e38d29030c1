//! Every kind of source expands to the right tasks, and runs them.

use crate::harness::batchrun;

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

/// A job that waits for its needs and reads an items file one of them rewrites must not run
/// the wrong number of tasks without a word.
#[test]
fn an_items_file_rewritten_by_a_needed_job_is_not_run_silently() {
    let yaml = "jobs:\n  write:\n    command: sh -c 'seq 1 10 > items.txt'\n  use:\n    needs: [write]\n    items: {file: items.txt}\n    command: echo {{ item }}\n";
    let ran = batchrun().job(yaml).file("items.txt", "a\nb\nc\n").run();
    ran.code(1)
        .stderr_has("NOT RUN use (3 tasks): its items file")
        .stderr_has("held 3 items when the run was planned and holds 10 now");
    assert_eq!(ran.stdout, "", "no task of `use` ran");
}

/// An items file that shrinks while its job runs: the tasks it no longer holds are not run, and
/// counted so.
#[test]
fn an_items_file_that_shrinks_mid_run_is_reported() {
    let lines: String = (0..5000).map(|i| format!("{i:0100}\n")).collect();
    let yaml = "jobs:\n  a:\n    items: {file: items.txt}\n    command: \"sh -c ': > items.txt'\"\n";
    let ran = batchrun()
        .job(yaml)
        .file("items.txt", &lines)
        .args(&["-j", "1", "--progress", "plain", "--output", "none"])
        .run();
    ran.code(1).stderr_has("items fewer than when the run was planned (it changed while the run went on)");
    let summary = ran.stderr.lines().find(|l| l.starts_with("Summary:")).unwrap_or_default().to_owned();
    assert!(summary.contains("not run"), "{summary}");
}
