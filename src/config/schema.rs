//! `batchrun schema`: the JSON Schema of a job file, for editors (yaml-language-server) and CI.
//!
//! The schema is derived from the loader's own structs in `raw.rs`, so a key the loader
//! accepts is a key the schema knows, and both reject unknown keys. The raw structs keep every
//! value `Spanned` (for line and column in errors) and some as loose JSON (vars, matrix,
//! items) that `validate.rs` checks by hand; the leaf types and functions here describe those
//! values. The schema checks shapes, not meaning: a cycle in `needs`, an undefined template
//! name or a missing items file pass the schema and fail `batchrun validate`.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::raw::RawJob;

/// The schema's identity (not an address: editors are pointed at a file, see the README).
pub const ID: &str = "urn:batchrun:job-file:v1";

/// The job file's schema, as printed by `batchrun schema`.
pub fn job_file() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(super::raw::RawJobFile)).unwrap_or_default();
    if let Some(map) = schema.as_object_mut() {
        map.insert("$id".into(), ID.into());
    }
    schema
}

/// A duration in humantime syntax.
pub struct DurationText;

impl JsonSchema for DurationText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: a number and a unit (ms, s, m, h, d), e.g. 500ms, 10s, 5m, 1h30m.",
            "type": "string",
            "pattern": DURATION,
            "examples": ["500ms", "30s", "5m", "1h30m"]
        })
    }
}

/// `on_failure`: a word, or a threshold for a stop.
pub struct OnFailureValue;

impl JsonSchema for OnFailureValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OnFailure".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let threshold = json_schema!({
            "description": "N failed tasks, or \"N%\" of the finished ones (once 10 have finished).",
            "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*%\\s*$"}]
        });
        json_schema!({
            "description": "What a failed task does to the rest: continue, stop (start nothing new), kill (also stop the running tasks); {stop: N} or {kill: \"N%\"} once that many failed.",
            "oneOf": [
                {"enum": ["continue", "stop", "kill"]},
                {"type": "object", "properties": {"stop": threshold}, "required": ["stop"], "additionalProperties": false},
                {"type": "object", "properties": {"kill": threshold}, "required": ["kill"], "additionalProperties": false}
            ]
        })
    }
}

/// One entry of `retry_on`.
pub struct RetryOn;

impl JsonSchema for RetryOn {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RetryOn".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An exit code (2), a range of them (\"75-78\"), or timeout, signal, verify.",
            "oneOf": [
                {"type": "integer", "minimum": 1, "maximum": 255},
                {"type": "string", "pattern": "^\\s*[0-9]+\\s*-\\s*[0-9]+\\s*$"},
                {"enum": ["timeout", "signal", "verify"]}
            ]
        })
    }
}

/// A range bound: an integer or a template rendering to one.
pub struct Bound;

impl JsonSchema for Bound {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bound".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An integer, or a template that renders to one, e.g. \"{{ max_id }}\".",
            "type": ["integer", "string"]
        })
    }
}

/// humantime's units; a bare `0` is allowed too.
const DURATION: &str = r"^\s*(0|([0-9]+\s*(nsec|ns|usec|us|µs|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|w|months|month|M|years|year|y)\s*)+)$";
const NAME: &str = "^[A-Za-z0-9_-]+$";
const IDENTIFIER: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

pub fn jobs(generator: &mut SchemaGenerator) -> Schema {
    let job = generator.subschema_for::<RawJob>();
    json_schema!({
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": NAME},
        "additionalProperties": job
    })
}

pub fn vars(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "propertyNames": {"pattern": IDENTIFIER},
        "additionalProperties": {
            "description": "A value (text, number, list, map), or {sh: COMMAND}: the command's trimmed stdout, computed once before planning.",
            "if": {"type": "object", "required": ["sh"]},
            "then": {
                "properties": {"sh": {"type": "string", "description": "A shell command run once before planning."}},
                "additionalProperties": false
            }
        }
    })
}

pub fn limits(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "propertyNames": {"pattern": NAME},
        "additionalProperties": {"type": "integer", "minimum": 1}
    })
}

pub fn matrix(_: &mut SchemaGenerator) -> Schema {
    let combinations = json_schema!({"type": "array", "items": {"type": "object"}});
    json_schema!({
        "description": "Keys with their values: a list, or a range {from, to, step}. `include` adds combinations, `exclude` drops those that match.",
        "type": "object",
        "minProperties": 1,
        "properties": {"include": combinations, "exclude": combinations},
        "propertyNames": {"pattern": IDENTIFIER},
        "additionalProperties": {
            "anyOf": [
                {"type": "array", "minItems": 1},
                {
                    "type": "object",
                    "properties": {
                        "from": {"type": "integer"},
                        "to": {"type": "integer"},
                        "step": {"type": "integer", "minimum": 1}
                    },
                    "required": ["from", "to"],
                    "additionalProperties": false
                }
            ]
        }
    })
}

pub fn items(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "The items: a list (scalars or maps), a file, or what a command prints, read one item per line, CSV row or JSON line.",
        "anyOf": [
            {"type": "array"},
            {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "description": "Relative to the job file's folder."},
                    "format": {"enum": ["lines", "csv", "jsonl"], "description": "Default: lines."}
                },
                "required": ["file"],
                "additionalProperties": false
            },
            {
                "type": "object",
                "properties": {
                    "sh": {"type": "string", "description": "A command (a template over the vars), run once when the job becomes ready; its output is the items."},
                    "format": {"enum": ["lines", "csv", "jsonl"], "description": "Default: lines."}
                },
                "required": ["sh"],
                "additionalProperties": false
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_rejects_unknown_keys_at_every_level() {
        let schema = job_file();
        assert_eq!(schema["additionalProperties"], false);
        let defs = &schema["$defs"];
        for def in ["RawJob", "RawSettings", "RawRange"] {
            assert_eq!(defs[def]["additionalProperties"], false, "{def}");
        }
        assert!(defs["RawJob"]["properties"]["command"]["description"].as_str().unwrap().contains("Jinja"));
        assert_eq!(schema["$id"], ID);
    }
}
