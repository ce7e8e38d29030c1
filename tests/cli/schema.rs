//! `batchrun schema`: every job file we ship validates against it, and the invalid fixtures
//! whose fault is one of shape fail it.

use std::path::{Path, PathBuf};

use crate::harness::batchrun;

fn schema() -> jsonschema::Validator {
    let ran = batchrun().arg("schema").run();
    ran.success();
    let schema: serde_json::Value = serde_json::from_str(&ran.stdout).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

fn yaml_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            found.push(path);
        }
    }
}

/// YAML 1.2 booleans only (`y` is text), as the loader and yaml-language-server read them.
fn parse_yaml(text: &str) -> Result<serde_json::Value, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, serde_saphyr::options! { strict_booleans: true })
}

fn as_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    parse_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_shipped_job_file_validates() {
    let validator = schema();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    yaml_files(&root.join("jobs"), &mut files);
    yaml_files(&root.join("examples"), &mut files);
    assert!(files.len() >= 4, "{files:?}");
    for file in files {
        let errors: Vec<String> = validator.iter_errors(&as_json(&file)).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
}

/// Faults of shape: unknown keys, wrong types and values, missing keys.
const SCHEMA_ERRORS: &[&str] = &[
    "bad_duration",
    "bad_job_name",
    "bad_shell",
    "chunks_zero",
    "command_and_commands",
    "concurrency_zero",
    "empty",
    "empty_matrix",
    "missing_command",
    "negative_retries",
    "no_jobs",
    "not_a_map",
    "step_zero",
    "unknown_key",
];

/// Faults of meaning that only the loader sees; their shape is fine.
const LOADER_ONLY: &[&str] = &[
    "cyclic_needs",
    "failing_computed_var",
    "from_after_to",
    "missing_items_file",
    "unclosed_template",
    "undefined_name",
    "unknown_needs",
];

#[test]
fn invalid_fixtures_of_shape_fail_the_schema_and_the_others_pass_it() {
    let validator = schema();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    for name in SCHEMA_ERRORS {
        let text = std::fs::read_to_string(fixtures.join(format!("{name}.yaml"))).unwrap();
        let doc: serde_json::Value = parse_yaml(&text).unwrap_or(serde_json::Value::Null);
        assert!(!validator.is_valid(&doc), "{name} should fail the schema");
    }
    for name in LOADER_ONLY {
        let doc = as_json(&fixtures.join(format!("{name}.yaml")));
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn the_schema_describes_keys_for_editors() {
    let ran = batchrun().arg("schema").run();
    let schema: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    let job = &schema["$defs"]["RawJob"]["properties"];
    assert!(job["needs"]["description"].as_str().unwrap().contains("succeed"));
    assert_eq!(schema["$defs"]["Shell"]["oneOf"].as_array().map(Vec::len), Some(4), "{}", schema["$defs"]["Shell"]);
}

/// The copy in `docs/` (which the job files in `jobs/` point their editors at) is current.
#[test]
fn the_committed_schema_is_what_batchrun_prints() {
    let ran = batchrun().arg("schema").run();
    let committed = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/batchrun.schema.json"))
        .expect("docs/batchrun.schema.json");
    assert!(
        committed == ran.stdout,
        "docs/batchrun.schema.json is stale: run `batchrun schema > docs/batchrun.schema.json`"
    );
}
