//! Validation of the richer task sources: `matrix` and `items`.

use std::path::Path;

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::model::{Axis, ItemsFormat, ItemsSpec, MatrixSpec};
use super::raw::Spanned;
use super::validate::{Checker, pos};

pub(super) fn matrix(
    ck: &mut Checker,
    job: &str,
    raw: Spanned<IndexMap<Spanned<String>, Spanned<Json>>>,
) -> Option<MatrixSpec> {
    let mut spec = MatrixSpec { axes: Vec::new(), include: Vec::new(), exclude: Vec::new() };
    let errors_before = ck.errors.len();
    for (key, value) in &raw.value {
        match key.value.as_str() {
            "include" | "exclude" => {
                let Some(maps) = list_of_maps(&value.value) else {
                    ck.error(pos(value), format!("job `{job}`: matrix `{}` must be a list of maps", key.value));
                    continue;
                };
                if key.value == "include" { spec.include = maps } else { spec.exclude = maps }
            }
            name => {
                if !super::validate::is_identifier(name) {
                    ck.error(
                        pos(key),
                        format!("job `{job}`: invalid matrix key `{name}`: use letters, digits and `_`"),
                    );
                } else if super::validate::EVERY_TASK_HAS.contains(&name) {
                    ck.error(pos(key), super::validate::every_task_has(&format!("job `{job}`: matrix key `{name}`")));
                }
                match axis(&value.value) {
                    Ok(Axis::List(list)) if list.is_empty() => {
                        ck.error(pos(value), format!("job `{job}`: matrix key `{name}` has no values"));
                    }
                    Ok(a) => spec.axes.push((name.to_owned(), a)),
                    Err(e) => ck.error(pos(value), format!("job `{job}`: matrix key `{name}`: {e}")),
                }
            }
        }
    }
    if spec.axes.is_empty() && spec.include.is_empty() && ck.errors.len() == errors_before {
        ck.error(pos(&raw), format!("job `{job}`: the matrix is empty: give at least one key with values"));
    }
    (ck.errors.len() == errors_before).then_some(spec)
}

/// The names a matrix binds, read from what was written even when it has an error: its keys,
/// and the keys of its `include` entries.
pub(super) fn matrix_names(raw: &IndexMap<Spanned<String>, Spanned<Json>>) -> Vec<String> {
    let mut names = Vec::new();
    for (key, value) in raw {
        match key.value.as_str() {
            "exclude" => {}
            "include" => {
                let maps = value.value.as_array().into_iter().flatten().filter_map(Json::as_object);
                names.extend(maps.flat_map(|m| m.keys().cloned()));
            }
            name => names.push(name.to_owned()),
        }
    }
    names
}

fn list_of_maps(value: &Json) -> Option<Vec<IndexMap<String, Json>>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
        .collect()
}

fn axis(value: &Json) -> Result<Axis, String> {
    match value {
        Json::Array(list) => Ok(Axis::List(list.clone())),
        Json::Object(map) => {
            for key in map.keys() {
                if !["from", "to", "step"].contains(&key.as_str()) {
                    return Err(format!("unknown range key `{key}`: use from, to, step"));
                }
            }
            let int = |k: &str| map.get(k).map(|v| v.as_i64().ok_or_else(|| format!("`{k}` must be an integer")));
            let from = int("from").ok_or("a range needs `from`")??;
            let to = int("to").ok_or("a range needs `to`")??;
            let step = int("step").transpose()?.unwrap_or(1);
            if step < 1 {
                return Err(format!("`step` must be at least 1, got {step}"));
            }
            if from > to {
                return Err(format!("`from` ({from}) is greater than `to` ({to})"));
            }
            Ok(Axis::Range { from, to, step: step as u64 })
        }
        _ => Err("expected a list of values or a range {from, to, step}".into()),
    }
}

/// `needs_something`: a job it needs may write the file, so it need not exist yet.
pub(super) fn items(
    ck: &mut Checker,
    dir: &Path,
    job: &str,
    raw: Spanned<Json>,
    needs_something: bool,
) -> Option<ItemsSpec> {
    match &raw.value {
        Json::Array(list) => Some(ItemsSpec::Inline(list.clone())),
        Json::Object(map) => {
            if let Some(key) = map.keys().find(|k| !["file", "sh", "format"].contains(&k.as_str())) {
                ck.error(
                    pos(&raw),
                    format!("job `{job}`: unknown items key `{key}`: use `file` or `sh`, and `format`"),
                );
                return None;
            }
            let (file, command) = match (map.get("file"), map.get("sh")) {
                (Some(Json::String(file)), None) => (Some(file), None),
                (None, Some(Json::String(command))) if !command.trim().is_empty() => (None, Some(command)),
                (Some(_), Some(_)) => {
                    ck.error(pos(&raw), format!("job `{job}`: `items` takes `file` or `sh`, not both"));
                    return None;
                }
                _ => {
                    ck.error(
                        pos(&raw),
                        format!("job `{job}`: `items` needs `file: PATH`, `sh: COMMAND` (or a list of items)"),
                    );
                    return None;
                }
            };
            let format = match map.get("format").map(|f| f.as_str()) {
                None | Some(Some("lines")) => ItemsFormat::Lines,
                Some(Some("csv")) => ItemsFormat::Csv,
                Some(Some("jsonl")) => ItemsFormat::Jsonl,
                Some(other) => {
                    let shown = other.unwrap_or("a non-string");
                    ck.error(
                        pos(&raw),
                        format!("job `{job}`: unknown items format `{shown}`: use lines, csv or jsonl"),
                    );
                    return None;
                }
            };
            if let Some(command) = command {
                return Some(ItemsSpec::Command { command: command.clone(), format, pos: pos(&raw) });
            }
            let path = dir.join(file.map(String::as_str).unwrap_or_default());
            let what = match std::fs::metadata(&path) {
                // A job it needs may write it: checked when the job is planned.
                Err(_) if needs_something => None,
                Err(_) => Some("does not exist"),
                Ok(m) => not_readable_as_items(&m.file_type()),
            };
            if let Some(what) = what {
                ck.error(pos(&raw), format!("job `{job}`: items file `{}` {what}", path.display()));
                return None;
            }
            Some(ItemsSpec::File { path, format, pos: pos(&raw) })
        }
        _ => {
            ck.error(
                pos(&raw),
                format!("job `{job}`: `items` must be a list or `{{file: PATH, format: lines|csv|jsonl}}`"),
            );
            None
        }
    }
}

/// Why a file of this kind cannot be items: a device never ends (`/dev/zero`), a folder is not
/// read; regular files and FIFOs are.
pub fn not_readable_as_items(kind: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_file() || kind.is_fifo() {
        None
    } else if kind.is_dir() {
        Some("is a folder")
    } else {
        Some("is a device, not a file or a FIFO")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn axes() {
        assert_eq!(axis(&json!([1, 2])), Ok(Axis::List(vec![json!(1), json!(2)])));
        assert_eq!(axis(&json!({"from": 1, "to": 9})), Ok(Axis::Range { from: 1, to: 9, step: 1 }));
        assert!(axis(&json!({"from": 1, "to": 9, "step": 0})).is_err());
        assert!(axis(&json!({"from": 5, "to": 1})).is_err());
        assert!(axis(&json!("x")).is_err());
    }
}
