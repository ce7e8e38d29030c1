//! The corpus of malformed job files in `tests/fixtures/invalid/`: one per error class. Each
//! must exit 2 with a clear message (and file:line:column where there is a place), never
//! panic, and finish quickly.

use std::path::PathBuf;
use std::time::Duration;

use crate::harness::batchrun;

/// File, a piece of the expected message, and the expected `file:line:column` (or none).
const CASES: &[(&str, &str, Option<&str>)] = &[
    ("empty.yaml", "the job file is empty", None),
    ("not_a_map.yaml", "must be a map with a `jobs` key", Some(":1:1")),
    ("tabs.yaml", "a tab in the indentation: YAML indents with spaces only", Some(":2:2")),
    ("unknown_key.yaml", "unknown key `comand` in job `export`; did you mean `command`?", Some(":3:5")),
    ("missing_command.yaml", "job `export` has no `command` or `commands`", Some(":3:5")),
    ("command_and_commands.yaml", "both `command` and `commands`", Some(":3:14")),
    ("step_zero.yaml", "`range.step` must be at least 1, got 0", Some(":3:36")),
    ("from_after_to.yaml", "`from` (10) is greater than `to` (1)", Some(":3:19")),
    ("chunks_zero.yaml", "`range.chunks` must be at least 1", Some(":3:38")),
    ("empty_matrix.yaml", "the matrix is empty", Some(":3:13")),
    ("unknown_needs.yaml", "needs unknown job `prepar`; did you mean `prepare`?", Some(":3:13")),
    ("cyclic_needs.yaml", "`needs` forms a cycle: a → c → b → a", Some(":3:13")),
    ("bad_duration.yaml", "`10 parsecs` is not a duration", Some(":2:12")),
    ("bad_shell.yaml", "unknown shell `zsh`", Some(":3:12")),
    ("concurrency_zero.yaml", "`concurrency` must be at least 1", Some(":1:14")),
    ("missing_items_file.yaml", "no-such-list.txt` does not exist", Some(":3:12")),
    ("binary_garbage.yaml", "not UTF-8 text", None),
    ("deeply_nested.yaml", "nested too deeply", Some(":2:")),
    ("alias_bomb.yaml", "expands to too many nodes", Some(":")),
    ("unclosed_template.yaml", "syntax error", Some(":3:14")),
    ("bad_job_name.yaml", "invalid job name `export table`", Some(":2:3")),
    ("negative_retries.yaml", "`retries` must be 0 or more, got -1", Some(":3:14")),
    ("failing_computed_var.yaml", "computed var `max_id`: `echo no database >&2; exit 3` failed", Some(":2:3")),
    ("undefined_name.yaml", "undefined name `strat`; did you mean `start`?", Some(":3:22")),
    ("no_jobs.yaml", "`jobs` is empty", None),
    ("duplicate_job.yaml", "job `a` is defined twice (lines 2 and 4)", Some(":4:3")),
];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid")
}

#[test]
fn every_fixture_has_a_case_and_every_case_a_fixture() {
    let mut files: Vec<String> =
        std::fs::read_dir(fixtures()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    let mut cases: Vec<String> = CASES.iter().map(|(f, _, _)| f.to_string()).collect();
    cases.sort();
    assert_eq!(files, cases);
}

#[test]
fn every_malformed_file_exits_2_with_a_clear_message() {
    for (file, message, place) in CASES {
        let path = fixtures().join(file);
        for command in [&["validate"][..], &["run"], &["plan"]] {
            if *file == "failing_computed_var.yaml" && command == ["validate"] {
                // validate runs nothing, so it cannot see the command fail.
                let ran = batchrun().args(command).arg(path.to_str().unwrap()).run();
                ran.success().stderr_has(
                    "computed vars `max_id` were not run: a uses them, so it is counted or rendered when run",
                );
                continue;
            }
            let ran = batchrun().args(command).arg(path.to_str().unwrap()).run();
            assert_eq!(ran.code, 2, "{file} ({command:?}): {}", ran.stderr);
            assert!(ran.stderr.contains(message), "{file}: expected {message:?} in\n{}", ran.stderr);
            if let Some(place) = place {
                let located = format!("{file}{place}");
                assert!(ran.stderr.contains(&located), "{file}: expected {located:?} in\n{}", ran.stderr);
            }
            assert!(!ran.stderr.contains("panicked"), "{file}: {}", ran.stderr);
            assert!(ran.elapsed < Duration::from_secs(10), "{file} took {:?}", ran.elapsed);
            assert_eq!(ran.stdout, "", "{file}: nothing may run or print");
        }
    }
}
