//! A value of the wrong type (`retries: abc`, `needs: b`): what the key takes, in words, and
//! whether the check can go on without it.
//!
//! The parser stops at such a value, naming only the Rust type it wanted (`invalid i64`). The
//! message here names the key, what it takes and what it found. When leaving the key out is
//! itself valid (an optional setting), the key is blanked out like an unknown key and the file
//! read again, so the rest of it is checked in the same pass; a key whose absence would be an
//! error of its own (`command`, a range's `from`) is not, as that error would be a false one.

use super::enclosing_keys;
use crate::diagnostic::Pos;

/// Keys that cannot be left out without another error taking the place of this one.
const NEEDED: &[&str] = &["jobs", "command", "commands", "range", "matrix", "items", "from", "to", "file"];
/// Maps whose entries are named elsewhere (a job by `needs`, a limit by `uses`).
const NAMED_ELSEWHERE: &[&str] = &["jobs", "limits"];

/// "`retries` takes a whole number, not `abc`", when `error` is a value of the wrong type.
pub(super) fn message(error: &serde_saphyr::Error, text: &str, pos: Option<Pos>) -> Option<String> {
    let wanted = wanted(error)?;
    let pos = pos?;
    let line = text.lines().nth(pos.line.checked_sub(1)? as usize)?;
    let rest = line.get(pos.col.checked_sub(1)? as usize..)?;
    if key_of(rest).is_some() || rest.trim_start().starts_with(['~', ':']) && rest.contains(':') {
        // The parser stopped at a key: the first key of a map where something else was wanted,
        // or a key that is not text at all (`~:`).
        if matches!(error, serde_saphyr::Error::NullIntoString { .. }) {
            return Some("a key cannot be empty: give it a name".into());
        }
        let owner = value_key(text, pos).map_or_else(|| "this value".into(), |k| format!("`{k}`"));
        return Some(format!("{owner} takes {wanted}, not a map"));
    }
    let found = found(rest);
    Some(match value_key(text, pos) {
        Some(key) => format!("`{key}` takes {wanted}, not {found}"),
        None => format!("expected {wanted} here, not {found}"),
    })
}

/// What the value should have been, when `error` is a value of the wrong type.
pub(super) fn wanted(error: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::Error as E;
    Some(match error {
        E::InvalidScalar { ty, .. } => scalar(ty).to_owned(),
        E::Unexpected { expected, .. } => match *expected {
            "string scalar" => "a single value".to_owned(),
            "sequence start" => "a list".to_owned(),
            "mapping start" => "a map of keys to values".to_owned(),
            other => other.to_owned(),
        },
        E::NullIntoString { .. } => "text".to_owned(),
        E::SerdeInvalidType { expected, .. } => expected.clone(),
        _ => return None,
    })
}

/// Where the key whose value is wrong starts its line, when it may be left out; `None` when the
/// check must stop here.
pub(super) fn droppable_key(text: &str, pos: Pos) -> Option<Pos> {
    let (line, indent) = owning_line(text, pos)?;
    let key = key_of(text.lines().nth(line)?)?;
    let parents = enclosing_keys(text, line as u32 + 1)?;
    let named_elsewhere = parents.len() == 1 && NAMED_ELSEWHERE.contains(&parents[0].as_str());
    if NEEDED.contains(&key) || named_elsewhere {
        return None;
    }
    Some(Pos { line: line as u32 + 1, col: indent as u32 + 1, len: key.len() as u32 })
}

fn scalar(ty: &str) -> &'static str {
    match ty {
        "f32" | "f64" => "a number",
        "bool" => "true or false",
        "char" => "one character",
        _ => "a whole number",
    }
}

/// The value the parser stopped at, as the message shows it.
fn found(rest: &str) -> String {
    match rest.chars().next() {
        Some('[' | '-') => "a list".into(),
        Some('{') => "a map".into(),
        None | Some('#') => "nothing".into(),
        _ => {
            let token = rest.split([',', '}', ']', '#']).next().unwrap_or(rest).trim();
            match token {
                "" | "~" | "null" => "nothing".into(),
                t => format!("`{}`", t.chars().take(40).collect::<String>()),
            }
        }
    }
}

/// The key written just before `pos` (`retries` in `retries: abc`, `M` in `env: {M: [1]}`),
/// or, for a value that starts a line of its own, the key above it.
fn value_key(text: &str, pos: Pos) -> Option<String> {
    let line = text.lines().nth(pos.line.checked_sub(1)? as usize)?;
    let before = line.get(..pos.col.checked_sub(1)? as usize)?;
    if before.trim().is_empty() {
        let (owner, _) = owning_line(text, pos)?;
        return key_of(text.lines().nth(owner)?).map(str::to_owned);
    }
    let before = before.trim_end().strip_suffix(':')?;
    let key = before.rsplit(['{', ',', ' ']).next()?.trim_matches(['"', '\'']);
    (!key.is_empty()).then(|| key.to_owned())
}

/// The line (0-based) and indent of the key that holds the value at `pos`: the key on the same
/// line when the value follows it there, else the nearest key above that is indented less.
fn owning_line(text: &str, pos: Pos) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let at = pos.line.checked_sub(1)? as usize;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let line = lines.get(at)?;
    if (pos.col.checked_sub(1)? as usize) > indent(line) {
        return key_of(line).map(|_| (at, indent(line)));
    }
    let own = indent(line);
    (0..at)
        .rev()
        .find(|&i| !lines[i].trim().is_empty() && indent(lines[i]) < own && key_of(lines[i]).is_some())
        .map(|i| (i, indent(lines[i])))
}

/// `key` of a line `key: …` in block style (not a list item).
fn key_of(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    if trimmed.starts_with(['-', '#', '{', '[']) {
        return None;
    }
    let (key, _) = trimmed.split_once(':')?;
    let key = key.trim().trim_matches(['"', '\'']);
    (!key.is_empty() && !key.contains(' ')).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u32, col: u32) -> Pos {
        Pos { line, col, len: 1 }
    }

    #[test]
    fn the_key_and_what_was_found() {
        let text = "jobs:\n  a:\n    retries: abc\n    env: {M: [1]}\n    needs:\n      x: 1\n";
        assert_eq!(value_key(text, at(3, 14)).as_deref(), Some("retries"));
        assert_eq!(value_key(text, at(4, 14)).as_deref(), Some("M"));
        assert_eq!(value_key(text, at(6, 7)).as_deref(), Some("needs"));
        assert_eq!(found("abc"), "`abc`");
        assert_eq!(found("[1]}"), "a list");
        assert_eq!(found("~"), "nothing");
    }

    #[test]
    fn only_keys_that_may_be_left_out_are_dropped() {
        let text = "jobs:\n  a:\n    retries: abc\n    command: [x]\n    env: {M: [1]}\n  b: 5\nlimits:\n  db: x\n";
        assert_eq!(droppable_key(text, at(3, 14)), Some(Pos { line: 3, col: 5, len: 7 }));
        assert_eq!(droppable_key(text, at(4, 14)), None, "a job needs its command");
        assert_eq!(droppable_key(text, at(5, 14)).map(|p| p.line), Some(5), "the whole env line");
        assert_eq!(droppable_key(text, at(6, 6)), None, "a job is named by other jobs' needs");
        assert_eq!(droppable_key(text, at(8, 7)), None, "a limit is named by uses");
    }
}
