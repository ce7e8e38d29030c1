//! Bad job files and bad usage: exit 2, a clear message with file:line:column, nothing run.

use crate::harness::batchrun;

#[test]
fn a_misspelt_key_names_its_place_and_a_suggestion() {
    let ran = batchrun().job("jobs:\n  export:\n    comand: touch ran\n").run();
    ran.code(2).stderr_has("unknown key `comand` in job `export`; did you mean `command`?").stderr_has("job.yaml:3:5");
    assert!(!ran.path("ran").exists());
}

#[test]
fn an_undefined_template_name_stops_everything_before_it_runs() {
    let yaml = "jobs:\n  first:\n    command: touch ran\n  second:\n    range: {from: 1, to: 3}\n    command: echo {{ strat }}\n";
    let ran = batchrun().job(yaml).run();
    ran.code(2).stderr_has("undefined name `strat`; did you mean `start`?").stderr_has("job.yaml:6:22");
    assert!(!ran.path("ran").exists(), "nothing may run when the plan is bad");
}

#[test]
fn an_unclosed_template_is_reported_at_its_line() {
    let ran = batchrun().job("jobs:\n  a:\n    command: echo {{ x\n").run();
    ran.code(2).stderr_has("job.yaml:3:14").stderr_has("syntax error");
}

#[test]
fn a_missing_field_in_the_first_item_is_caught_at_plan_time() {
    let ran = batchrun().job("jobs:\n  a:\n    items: [{x: 1}]\n    command: echo {{ item.y }}\n").run();
    ran.code(2).stderr_has("job `a`");
}

#[test]
fn validate_reports_every_error_of_every_file() {
    let ran = batchrun()
        .file("a.yaml", "jobs:\n  a:\n    command: x\n    shell: zsh\n    concurrency: 0\n")
        .file("b.yaml", "jobs:\n  b:\n    command: x\n    needs: [nope]\n")
        .file("ok.yaml", "jobs:\n  fine:\n    command: 'true'\n")
        .args(&["validate", "a.yaml", "b.yaml", "ok.yaml"])
        .run();
    ran.code(2)
        .stderr_has("a.yaml:4:12")
        .stderr_has("unknown shell `zsh`")
        .stderr_has("`concurrency` must be at least 1")
        .stderr_has("b.yaml:4:13")
        .stderr_has("unknown job `nope`")
        .stderr_has("ok.yaml: ok");
}

/// One pass of `validate` reports the file's shape errors and its templates' errors together,
/// and a part with an error is not reported again by the checks that follow it.
#[test]
fn validate_reports_template_errors_beside_the_rest() {
    let yaml = "vars:\n  bad: {sh: 1, x: 2}\nlimits:\n  db: 0\njobs:\n  a:\n    comand: echo a\n    command: echo {{ nosuch }}\n    timeout: soon\n  b:\n    uses: [db]\n    range: {from: 1}\n    command: echo {{ start }}\n  c:\n    command: echo {{ bad }}\n  d:\n    needs: [e]\n    command: echo d\n  e:\n    needs: [d]\n    command: echo {{ undefined_thing }}\n";
    let ran = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    ran.code(2)
        .stderr_has("unknown key `comand`")
        .stderr_has("job.yaml:9:14")
        .stderr_has("`limits.db` must be at least 1")
        .stderr_has("`range` needs both `from` and `to`")
        .stderr_has("`needs` forms a cycle")
        .stderr_has("job `a`, command: undefined name `nosuch`")
        .stderr_has("job `e`, command: undefined name `undefined_thing`");
    for repeated in ["unknown limit", "undefined name `start`", "undefined name `bad`"] {
        assert!(!ran.stderr.contains(repeated), "reported again as `{repeated}`: {}", ran.stderr);
    }
    assert_eq!(ran.stderr.matches("error:").count(), 8, "{}", ran.stderr);
}

/// A computed var that fails stops the run before anything starts, and in the same pass the
/// rest of the plan is checked; what uses the failed var is neither run nor reported again.
#[test]
fn a_failed_computed_var_and_the_rest_of_the_plan_in_one_pass() {
    let yaml = "vars:\n  a: {sh: 'exit 3'}\n  b: {sh: 'echo {{ a }}'}\njobs:\n  x:\n    command: echo {{ a }} {{ b }}\n  y:\n    command: echo {{ undefined_y }}\n";
    let ran = batchrun().job(yaml).run();
    ran.code(2).stderr_has("computed var `a`").stderr_has("job `y`, command: undefined name `undefined_y`");
    assert!(!ran.stderr.contains("computed var `b`") && !ran.stderr.contains("job `x`"), "{}", ran.stderr);
}

/// A job whose first task cannot run (`shell: none` with shell syntax) is reported beside
/// another job's undefined name; a `defaults` env value that no job can render is one error.
#[test]
fn first_tasks_and_inherited_values_in_one_pass_without_repeats() {
    let yaml = "defaults:\n  shell: none\njobs:\n  a: {command: echo 1 | cat}\n  b: {command: 'echo {{ yy }}'}\n";
    let ran = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    ran.code(2)
        .stderr_has("job `a`, task a: `shell: none` cannot run `echo 1 | cat`")
        .stderr_has("job `b`, command: undefined name `yy`");
    let yaml = "defaults:\n  env: {A: '{{ zz }}'}\njobs:\n  a: {command: echo a}\n  b: {command: echo b}\n  c: {command: echo c}\n";
    let ran = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    ran.code(2).stderr_has("jobs `a`, `b`, `c`, env `A`: undefined name `zz`");
    assert_eq!(ran.stderr.matches("error:").count(), 1, "{}", ran.stderr);
}

/// A value of the wrong type names its key and what it takes; when the key may be left out, the
/// rest of the file is still checked, and when it may not (a job's command), the check stops
/// there rather than report that the command is missing.
#[test]
fn values_of_the_wrong_type_say_what_the_key_takes() {
    let yaml = "jobs:\n  a:\n    retries: abc\n    command: echo {{ nope }}\n  b:\n    concurrency: [1]\n    needs: a\n    command: echo {{ nope2 }}\n";
    let ran = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    ran.code(2)
        .stderr_has("`retries` takes a whole number, not `abc`")
        .stderr_has("job.yaml:3:14")
        .stderr_has("`concurrency` takes a single value, not a list")
        .stderr_has("`needs` takes a list, not `a`")
        .stderr_has("undefined name `nope`")
        .stderr_has("undefined name `nope2`");
    let ran = batchrun().file("job.yaml", "jobs:\n  a:\n    command: [x]\n").args(&["validate", "job.yaml"]).run();
    ran.code(2).stderr_has("`command` takes a single value, not a list");
    assert_eq!(ran.stderr.matches("error:").count(), 1, "{}", ran.stderr);
}

/// A job whose source has an error still has its command checked, against the names that
/// source binds: a typo beside a missing items file, an unknown name beside a reversed range.
#[test]
fn a_broken_source_and_its_command_in_one_pass() {
    let yaml = "jobs:\n  a:\n    items: {file: missing.txt}\n    command: echo {{ itme }}\n  b:\n    range: {from: 5, to: 1}\n    command: echo {{ start }} {{ zz }}\n  c:\n    matrix: {p: [], include: [{r: 1}]}\n    command: echo {{ p }} {{ r }}\n";
    let ran = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    ran.code(2)
        .stderr_has("items file")
        .stderr_has("job `a`, command: undefined name `itme`; did you mean `item`?")
        .stderr_has("`from` (5) is greater than `to` (1)")
        .stderr_has("job `b`, command: undefined name `zz`")
        .stderr_has("matrix key `p` has no values");
    assert_eq!(ran.stderr.matches("error:").count(), 5, "no name the source binds is reported: {}", ran.stderr);
}

/// In a `|` block, an undefined name is pointed at where it is, lines below the key.
#[test]
fn an_undefined_name_in_a_block_is_pointed_at_its_line() {
    let yaml = "jobs:\n  a:\n    command: |\n      echo {{ index }} typo\n      echo {{ typo }}\n";
    let ran = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    ran.code(2).stderr_has("undefined name `typo`").stderr_has("job.yaml:5:15");
}

/// A value of `env` that cannot be rendered for the first task is pointed at, not the command.
#[test]
fn an_env_value_that_cannot_render_is_pointed_at() {
    let yaml = "jobs:\n  a:\n    items: ['x']\n    env: {Q: '{{ item + 1 }}'}\n    command: echo {{ item }}\n";
    let ran = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    ran.code(2).stderr_has("env Q: invalid operation").stderr_has("job.yaml:4:14");
}

#[test]
fn structural_errors() {
    for (yaml, message) in [
        ("", "empty"),
        ("- a\n- b\n", "must be a map"),
        ("jobs:\n\ta: 1\n", "a tab in the indentation"),
        ("jobs:\n  a: {}\n", "no `command` or `commands`"),
        ("jobs:\n  a: {command: x, commands: [y]}\n", "both `command` and `commands`"),
        ("jobs:\n  a: {command: x, range: {from: 1, to: 5, step: 0}}\n", "`range.step` must be at least 1"),
        ("jobs:\n  a: {command: x, range: {from: 5, to: 1}}\n", "greater than `to`"),
        ("jobs:\n  a: {command: x, range: {from: 1, to: 5, chunks: 0}}\n", "`range.chunks` must be at least 1"),
        ("jobs:\n  a: {command: x, matrix: {}}\n", "matrix is empty"),
        ("jobs:\n  a: {command: x, needs: [a]}\n", "cycle: a → a"),
        ("jobs:\n  a: {command: x, start_gap: soon}\n", "not a duration"),
        ("jobs:\n  a: {command: x, items: {file: missing.txt}}\n", "does not exist"),
        ("jobs:\n  'bad name': {command: x}\n", "invalid job name"),
        ("vars:\n  v: {sh: 'exit 3'}\njobs:\n  a: {command: x}\n", "computed var `v`"),
        ("jobs:\n  a: {command: x, uses: [db]}\n", "unknown limit `db`"),
        ("vars: {index: 1}\njobs:\n  a: {command: x}\n", "var `index` has the name of a value every task has"),
        ("jobs:\n  a: {command: x, matrix: {job: [1]}}\n", "matrix key `job` has the name of a value every task has"),
        (
            "vars: {item: 1}\njobs:\n  a: {command: x, items: [1]}\n",
            "var `item` is hidden by the `item` each of its tasks has",
        ),
        ("jobs:\n  a: {command: x, retries: 4294967296}\n", "`retries` must be at most 4294967295"),
    ] {
        let ran = batchrun().job(yaml).run();
        ran.code(2).stderr_has(message);
        assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    }
}

#[test]
fn a_missing_file_and_bad_usage_exit_2() {
    batchrun().arg("nope.yaml").run().code(2).stderr_has("cannot read the job file");
    batchrun().job("jobs:\n  a: {command: x}\n").args(&["--output", "sideways"]).run().code(2);
    batchrun().job("jobs:\n  a: {command: x}\n").args(&["-j", "0"]).run().code(2);
    // A dry run runs nothing, so it has nothing to report: asked for both, say so.
    let dry = batchrun().job("jobs:\n  a: {command: x}\n").args(&["--dry-run", "--report", "r.json"]).run();
    dry.code(2).stderr_has("--dry-run");
    batchrun().job("jobs:\n  a: {command: x}\n").args(&["--dry-run", "--events", "json"]).run().code(2);
}

/// `validate` checks shape and meaning without running anything: a computed var is checked
/// (its template, its quoting) but not run, and what depends on it is counted when run.
#[test]
fn validate_runs_no_computed_var() {
    let yaml = "vars:\n  n: {sh: 'touch VAR_RAN; echo 5'}\njobs:\n  a:\n    range: {from: 1, to: \"{{ n }}\"}\n    command: echo {{ start }}\n  b:\n    command: echo {{ n }}\n  c:\n    command: echo fixed\n";
    let ran = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    ran.success()
        .stderr_has("ok (2 tasks in 3 jobs; validate runs no command, so computed vars `n` were not run: a, b use them, so they are counted or rendered when run)");
    assert!(!ran.path("VAR_RAN").exists(), "validate ran a computed var");

    let bad = "vars:\n  m: x\n  n: {sh: 'echo `echo {{ m }}`'}\njobs:\n  a:\n    command: echo {{ n }}\n";
    let ran = batchrun().file("job.yaml", bad).args(&["validate", "job.yaml"]).run();
    ran.code(2).stderr_has("computed var `n`").stderr_has("inside backticks");
}

/// A duration past the stated bound is refused where it is written, never a panic.
#[test]
fn huge_durations_are_refused_with_the_bound() {
    for key in ["timeout", "kill_grace", "start_gap", "retry_delay"] {
        let yaml = format!("defaults:\n  {key}: 18446744073709551615s\njobs:\n  a:\n    command: 'true'\n");
        let ran = batchrun().job(&yaml).run();
        ran.code(2).stderr_has(&format!(
            "`{key}`: `18446744073709551615s` is longer than the longest duration batchrun takes (365 days)"
        ));
        ran.stderr_has("job.yaml:2:");
    }
    let ran = batchrun().job("jobs:\n  a:\n    command: 'true'\n").args(&["--timeout", "18446744073709551615s"]).run();
    ran.code(2).stderr_has("365 days");
    let ran =
        batchrun().job("defaults:\n  timeout: 365d\n  retry_delay: 365d\njobs:\n  a:\n    command: 'true'\n").run();
    ran.success();
}

/// A template that would loop for 10^10 steps stops with a clear error instead of spinning.
#[test]
fn template_work_is_bounded() {
    let yaml = "jobs:\n  a:\n    command: \"echo {% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x\"\n";
    let ran = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    ran.code(2).stderr_has("the template does too much work").stderr_has("job.yaml:3:14");
    assert!(ran.elapsed < std::time::Duration::from_secs(60), "took {:?}", ran.elapsed);
}

/// Messages that name the real problem: an items file that is a device or a folder, a `cwd`
/// that is a file.
#[test]
fn items_files_and_cwd_that_are_not_what_they_should_be_say_so() {
    let ran = batchrun().job("jobs:\n  a:\n    items: {file: /dev/zero}\n    command: echo {{ item }}\n").run();
    ran.code(2).stderr_has("items file `/dev/zero` is a device, not a file or a FIFO");
    let ran =
        batchrun().job("jobs:\n  a:\n    items: {file: sub}\n    command: echo {{ item }}\n").file("sub/x", "").run();
    ran.code(2).stderr_has("items file").stderr_has("sub` is a folder");
    let ran = batchrun().job("jobs:\n  a:\n    cwd: afile\n    command: 'true'\n").file("afile", "").run();
    ran.code(2).stderr_has("`cwd`: ").stderr_has("afile` is a file, not a folder").stderr_has("job.yaml:3:10");
}

/// A failed task with a huge command shows its start in the summary, and says where the rest is.
#[test]
fn a_huge_command_is_cut_in_the_summary() {
    let yaml = format!("jobs:\n  a:\n    command: \"sh -c 'exit 3' {}\"\n", "x".repeat(1_000_000));
    let ran = batchrun().job(&yaml).run();
    ran.code(1).stderr_has("… (cut: 1000015 bytes in all; `batchrun plan FILE` or `--report run.json` has it whole)");
    assert!(ran.stderr.len() < 10_000, "the summary printed {} bytes", ran.stderr.len());
}

/// A file past the parser's budgets says which budget, and its line is not copied whole.
#[test]
fn oversized_yaml_says_what_is_too_large() {
    let big = format!("jobs:\n  a:\n    command: \"{}\"\n", "y".repeat(65 << 20));
    let ran = batchrun().job(&big).run();
    ran.code(2).stderr_has("the job file holds too much text").stderr_has("job.yaml:3:14");
    assert!(ran.stderr.len() < 2_000, "the error copied {} bytes", ran.stderr.len());
    let deep = format!("jobs:\n  a:\n    command: x\n    items: {}{}\n", "[".repeat(70), "]".repeat(70));
    batchrun().job(&deep).run().code(2).stderr_has("the YAML is nested too deeply");
}

/// The slips people make first, all in one file: each is reported once, in one pass, in the
/// words they used (other tools' keys point at batchrun's), with no follow-up that says
/// something else went wrong where nothing did; a `: ` in a command is pointed at in a list
/// item as in a value, and every such item is reported.
#[test]
fn validate_goes_on_after_every_slip_and_speaks_other_tools_words() {
    let yaml = "\
parallel: 3
jobs:
  a:
    comand: echo a
  b:
    cmd: echo b
  c:
    run: echo c
    depends_on: [a]
  d:
    commands:
      - echo rows: 1
      - echo ok
      - echo cols: 2
  e:
    command: echo rows: 1
  f:
    jobs: 2
    dependsOn: [e]
    script: echo f
    retries: many
";
    let ran = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    ran.code(2)
        .stderr_has("unknown key `parallel`; did you mean `concurrency`?")
        .stderr_has("unknown key `comand` in job `a`; did you mean `command`?")
        .stderr_has("unknown key `cmd` in job `b`; did you mean `command`?")
        .stderr_has("unknown key `run` in job `c`; did you mean `command`?")
        .stderr_has("unknown key `depends_on` in job `c`; did you mean `needs`?")
        .stderr_has("job.yaml:12:9")
        .stderr_has("job.yaml:14:9")
        .stderr_has("`: ` inside an unquoted item starts a key")
        .stderr_has("job.yaml:16:23")
        .stderr_has("unknown key `jobs` in job `f`; did you mean `concurrency`?")
        .stderr_has("unknown key `dependsOn` in job `f`; did you mean `needs`?")
        .stderr_has("unknown key `script` in job `f`; did you mean `command`?")
        .stderr_has("`retries` takes a whole number, not `many`");
    for wrong in ["not a map", "has no `command`", "cwd"] {
        assert!(!ran.stderr.contains(wrong), "no misleading follow-up ({wrong}): {}", ran.stderr);
    }
    assert_eq!(ran.stderr.matches("error:").count(), 12, "each slip once: {}", ran.stderr);
}
