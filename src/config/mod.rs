//! Reading a job file: YAML text → [`raw`] serde structs → the validated [`model::JobFile`].
//!
//! Parsing is serde-saphyr's (pure Rust, line and column for every error); our own checks live
//! in `validate`. Both report through [`Diagnostics`], so every error names file:line:column.

mod graph;
pub mod model;
pub mod raw;
pub mod schema;
mod sources;
pub mod validate;
mod written;
mod wrong_type;

pub use sources::not_readable_as_items;
pub use written::{json as json_as_written, scalar_text};

use std::path::Path;

pub use model::*;

/// The longest duration a job file or `--timeout` may give (365 days): far past any batch
/// task, and far from the overflow of the clock arithmetic a larger one would reach.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// Parses a duration (`500ms`, `10s`, `1h30m`) within [`MAX_DURATION`]; the error says what to
/// write instead.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d <= MAX_DURATION => Ok(d),
        Ok(_) => Err(format!("`{text}` is longer than the longest duration batchrun takes (365 days)")),
        Err(e) => Err(format!("`{text}` is not a duration ({e}); write e.g. 500ms, 10s, 5m, 1h30m")),
    }
}

use crate::diagnostic::{Diagnostic, Diagnostics, Pos, did_you_mean};

/// Reads, parses and validates a job file.
pub fn load(path: &Path) -> Result<JobFile, Diagnostics> {
    complete(check(path))
}

/// Reads, parses and validates a job file as far as its errors allow: the file so far (with a
/// part that has an error left in a form later checks pass over) and every error found. What
/// `validate` plans, so that template errors come in the same pass as the file's shape errors.
pub fn check(path: &Path) -> (Option<JobFile>, Vec<Diagnostic>) {
    let text = match read_job_file(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => return (None, vec![Diagnostic::new(path, None, "the job file is not UTF-8 text")]),
        },
        Err(message) => return (None, vec![Diagnostic::new(path, None, message)]),
    };
    check_text(path, &text)
}

/// The most a job file may hold: more than the YAML parser accepts in its values, so that a
/// value too large is reported where it is.
pub const MAX_JOB_FILE: u64 = 128 << 20;

/// Reads a job file as items files are read: a regular file, a FIFO or a pipe on stdin, up to
/// [`MAX_JOB_FILE`] bytes; a device (`/dev/zero` never ends), a folder or a socket is refused
/// before anything is read.
pub fn read_job_file(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    use std::os::unix::fs::FileTypeExt as _;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the job file: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read the job file: {e}"))?;
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err("the job file is a folder: name a YAML file".into());
    }
    if !kind.is_file() && !kind.is_fifo() {
        return Err("the job file is a device or a socket, not a file or a FIFO".into());
    }
    // Sized for a regular file, so it is read in one call rather than in growing pieces.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(MAX_JOB_FILE) + 1).unwrap_or(0));
    file.take(MAX_JOB_FILE + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read the job file: {e}"))?;
    if bytes.len() as u64 > MAX_JOB_FILE {
        let most = MAX_JOB_FILE >> 20;
        return Err(format!("the job file holds more than {most} MiB: keep large data in an items file"));
    }
    Ok(bytes)
}

/// Parses and validates job-file text; `path` is used for messages and relative paths.
pub fn parse(path: &Path, text: &str) -> Result<JobFile, Diagnostics> {
    complete(check_text(path, text))
}

/// The file, when nothing was found wrong with it.
fn complete((file, errors): (Option<JobFile>, Vec<Diagnostic>)) -> Result<JobFile, Diagnostics> {
    match file {
        Some(file) if errors.is_empty() => Ok(file),
        _ => Err(Diagnostics(errors)),
    }
}

/// [`check`] on text already read.
fn check_text(path: &Path, text: &str) -> (Option<JobFile>, Vec<Diagnostic>) {
    if text.trim().is_empty() {
        return (None, vec![Diagnostic::new(path, None, "the job file is empty: it needs at least `jobs:`")]);
    }
    // An unknown key, or an optional key with a value of the wrong type, stops the parser, so the
    // key is blanked out (in a copy, keeping every line and column) and the file read again: one
    // pass reports every such key, and then what the rest of the file gets wrong, rather than one
    // error per run of batchrun.
    let mut errors = Vec::new();
    let mut working = std::borrow::Cow::Borrowed(text);
    // Keys that were misspelt, already said: that they are missing is no news.
    let mut misspelt = Vec::new();
    let raw = loop {
        match serde_saphyr::from_str_with_options::<raw::RawJobFile>(&working, parse_options()) {
            Ok(mut raw) => {
                written::restore(&working, &mut raw);
                break Some(raw);
            }
            Err(e) => {
                let diagnostic = parse_error(path, text, &e);
                misspelt.extend(meant_key(&diagnostic.message, diagnostic.pos, text));
                let blanked = diagnostic.pos.and_then(|p| {
                    if is_unknown_key(&e) {
                        blank_key(&working, p)
                    } else if let Some(colon) = stray_colon(&e, p, &working) {
                        // Read on as if the colon were a space: the rest of the file is checked too.
                        let mut next = working.to_string();
                        next.replace_range(colon..=colon, " ");
                        Some(next)
                    } else if wrong_type::wanted(&e).is_some() {
                        wrong_type::droppable_key(&working, p).and_then(|key| blank_key(&working, key))
                    } else {
                        None
                    }
                });
                errors.push(diagnostic);
                match blanked {
                    Some(next) if errors.len() < MAX_KEYS_LEFT_OUT => working = std::borrow::Cow::Owned(next),
                    _ => break None,
                }
            }
        }
    };
    let Some(raw) = raw else {
        return (None, errors);
    };
    let (file, mut more) = validate::validate(path, text, raw, &misspelt);
    errors.append(&mut more);
    (file, errors)
}

/// The key an unknown key was probably meant to be, where: a job's key, or the file's.
fn meant_key(message: &str, pos: Option<Pos>, text: &str) -> Option<validate::Misspelt> {
    let meant = message.strip_prefix("unknown key `")?.split_once("did you mean `")?.1.split('`').next()?;
    let job = match enclosing_keys(text, pos?.line)?.as_slice() {
        [jobs, job] if jobs == "jobs" => Some(job.clone()),
        [] => None,
        _ => return None,
    };
    Some(validate::Misspelt { job, meant: meant.to_owned() })
}

/// The byte offset of the `: ` that made the parser read a key inside what was meant as one
/// line of text (`command: echo rows: 1`, or `- echo rows: 1` in a list of commands).
fn stray_colon(error: &serde_saphyr::Error, pos: Pos, text: &str) -> Option<usize> {
    let line_start: usize = text.split_inclusive('\n').take(pos.line.checked_sub(1)? as usize).map(str::len).sum();
    let line = text[line_start..].lines().next()?;
    let col = pos.col.checked_sub(1)? as usize;
    if error.to_string().starts_with("mapping values are not allowed") {
        return (line.as_bytes().get(col) == Some(&b':')).then_some(line_start + col);
    }
    // A one-line list item read as a one-key map where text was wanted.
    let item = line.trim_start().starts_with("- ") && wrong_type::wanted(error).as_deref() == Some("a single value");
    let rest = line.get(col..)?;
    let colon = rest.find(": ")?;
    (item && !rest.trim_start().starts_with(['"', '\'', '{', '['])).then_some(line_start + col + colon)
}

/// How job files are read. A non-finite float (`1e400`) is kept as text rather than refused;
/// [`written::restore`] then puts back what the file wrote.
fn parse_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
        non_finite_float_policy: serde_saphyr::options::NonFiniteFloatPolicy::AsString,
    }
}

/// Keys left out to go on, at most (each costs a parse of the file).
const MAX_KEYS_LEFT_OUT: usize = 50;

fn is_unknown_key(error: &serde_saphyr::Error) -> bool {
    error.to_string().starts_with("unknown field `")
}

/// `text` with the key at `pos` and its value (the lines indented below it) turned into spaces,
/// so the parser skips it and every other line keeps its place; `None` when there is nothing
/// there to blank.
fn blank_key(text: &str, pos: Pos) -> Option<String> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let first = pos.line.checked_sub(1)? as usize;
    let key_indent = indent(lines.get(first)?);
    // Only a key that starts its line (block style): in a flow map, blanking the line would
    // break what surrounds it.
    if pos.col.checked_sub(1)? as usize != key_indent {
        return None;
    }
    // The key's line, then its value's: blank lines, lines indented deeper than the key, and a
    // list written at the key's own indent (`needs:` then `- a` below it).
    let value_below = lines[first].trim_end().ends_with(':');
    let mut last = first;
    for (i, l) in lines.iter().enumerate().skip(first + 1) {
        if l.trim().is_empty() {
            continue;
        }
        let list_item = value_below && indent(l) == key_indent && l.trim_start().starts_with('-');
        if indent(l) <= key_indent && !list_item {
            break;
        }
        last = i;
    }
    // An anchor defined in there may be used elsewhere: blanking it would make a false error.
    if lines[first..=last].iter().any(|l| defines_anchor(l)) {
        return None;
    }
    // The map's other keys: above it back to its parent, below it to the next line indented less.
    let content = |l: &&&str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let siblings_above = lines[..first].iter().rev().filter(content).take_while(|l| indent(l) >= key_indent).count();
    let siblings_below = lines[last + 1..].iter().filter(content).take_while(|l| indent(l) >= key_indent).count();
    // Left empty, the map would read as nothing at all (and be said to be the wrong type): it
    // is written `{}` instead.
    let empty_map = key_indent > 0 && siblings_above + siblings_below == 0;
    let mut out = String::with_capacity(text.len());
    for (i, l) in lines.iter().enumerate() {
        if (first..=last).contains(&i) {
            let start = out.len();
            out.extend(l.chars().map(|c| if c == '\n' { c } else { ' ' }));
            if i == first && empty_map {
                out.replace_range(start + key_indent..start + key_indent + 2, "{}");
            }
        } else {
            out.push_str(l);
        }
    }
    (out != text).then_some(out)
}

/// Whether `line` defines a YAML anchor (`&name` where a node starts).
fn defines_anchor(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'&'
            && (i == 0 || matches!(bytes[i - 1], b' ' | b'[' | b'{' | b','))
            && bytes.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
    })
}

fn parse_error(path: &Path, text: &str, error: &serde_saphyr::Error) -> Diagnostic {
    let pos = error.location().as_ref().and_then(Pos::from_location);
    let mut message = error.to_string();
    // serde-saphyr appends the place; we show it in the `-->` line instead.
    if let Some(cut) = message.rfind(" at line ") {
        message.truncate(cut);
    }
    if let Some(better) = unknown_key_message(&message, pos, text) {
        message = better;
    } else if let Some(breach) = message.strip_prefix("budget breached: ") {
        message = budget_message(breach);
    } else if message.starts_with("recursion limit exceeded") {
        message = "the YAML is nested too deeply".into();
    } else if message.starts_with("expected mapping start") && pos.is_some_and(|p| p.line == 1 && p.col == 1) {
        message = "the job file must be a map with a `jobs` key".into();
    } else if let Some(better) = wrong_type::message(error, text, pos) {
        message = better;
        if pos.and_then(|p| stray_colon(error, p, text)).is_some() {
            message
                .push_str(": `: ` inside an unquoted item starts a key: quote the whole item (`- 'echo \"rows: 1\"'`)");
        }
    } else if let Some(better) = common_mistake(&message, pos, text) {
        message = better;
    }
    Diagnostic::new(path, pos, message).with_source(text)
}

/// The parser's words for the commonest YAML mistakes, with what to do about them.
fn common_mistake(message: &str, pos: Option<Pos>, text: &str) -> Option<String> {
    if message.starts_with("mapping values are not allowed") {
        return Some(
            "`: ` inside an unquoted value starts a new key here: quote the whole value \
             (`command: 'echo \"rows: {{ n }}\"'`) or write it as a block (`command: >-` and the value on the next line)"
                .into(),
        );
    }
    if message.starts_with("tabs disallowed") || message.contains("found character that cannot start any token") {
        let line = pos.and_then(|p| text.lines().nth(p.line.saturating_sub(1) as usize)).unwrap_or_default();
        if line.contains('\t') {
            return Some("a tab in the indentation: YAML indents with spaces only".into());
        }
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key).trim();
        let indent = pos.map_or(0, |p| p.col.saturating_sub(1) as usize);
        let map = pos.map_or(0..usize::MAX, |p| enclosing_block(text, p.line, indent));
        let lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(i, _)| map.contains(i))
            .filter(|(_, l)| l.len() - l.trim_start().len() == indent)
            .filter(|(_, l)| l.trim_start().strip_prefix(key).is_some_and(|rest| rest.starts_with(':')))
            .map(|(i, _)| i + 1)
            .collect();
        let parents = pos.and_then(|p| enclosing_keys(text, p.line)).unwrap_or_default();
        let within_jobs = parents == ["jobs"];
        let (what, fix) = if within_jobs {
            (format!("job `{key}`"), "give each its own name")
        } else {
            (format!("the key `{key}`"), "keep one")
        };
        return Some(match lines.as_slice() {
            [first, .., last] => format!("{what} is defined twice (lines {first} and {last}): {fix}"),
            _ => format!("{what} is defined twice: {fix}"),
        });
    }
    if message.starts_with("while parsing a block mapping, did not find expected key") {
        return Some(
            "the indentation does not match the lines above: keys of one map must start in the same column".into(),
        );
    }
    None
}

/// The lines (0-based) of the block map that holds a key indented by `indent` on line `line`
/// (1-based): from below its parent's line to the next line indented less.
fn enclosing_block(text: &str, line: u32, indent: usize) -> std::ops::Range<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let outside =
        |l: &&str| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.len() - l.trim_start().len() < indent;
    let at = (line as usize).saturating_sub(1).min(lines.len());
    let start = lines[..at].iter().rposition(&outside).map_or(0, |p| p + 1);
    let end = lines[at..].iter().position(outside).map_or(lines.len(), |p| at + p);
    start..end
}

/// What a breached parser budget (serde-saphyr's `BudgetBreach`, as its debug text) means
/// for the person who wrote the file.
fn budget_message(breach: &str) -> String {
    let kind = breach.split([' ', '{']).next().unwrap_or_default();
    match kind {
        "Depth" => "the YAML is nested too deeply".into(),
        "ScalarBytes" | "InputBytes" => {
            "the job file holds too much text (a value of many megabytes?): keep large data in an items file".into()
        }
        "Aliases" | "Anchors" | "AliasAnchorRatio" | "MergeKeys" => {
            "the YAML uses too many aliases (aliases that multiply?)".into()
        }
        "Nodes" | "Events" => {
            "the YAML expands to too many nodes (aliases that multiply?); a job file may hold 250,000".into()
        }
        _ => format!("the YAML is too large for a job file ({breach})"),
    }
}

/// Rewrites serde's "unknown field `x`, expected one of a, b" into a sentence that says where
/// the key is and which key was probably meant.
fn unknown_key_message(message: &str, pos: Option<Pos>, text: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest
        .split_once("expected one of ")
        .or_else(|| rest.split_once("expected "))
        .map(|(_, list)| list.split(", ").map(|s| s.trim_matches('`')).collect())
        .unwrap_or_default();
    let place = pos.and_then(|p| enclosing_keys(text, p.line)).map(describe_place).unwrap_or_default();
    let other_tools = other_tools_word(key).filter(|(meant, _)| expected.contains(meant));
    let hint = match other_tools.or_else(|| did_you_mean(key, expected.iter().copied()).map(|s| (s, ""))) {
        Some((s, also)) => format!("; did you mean `{s}`{also}?"),
        None if !expected.is_empty() => format!("; expected one of {}", expected.join(", ")),
        None => String::new(),
    };
    Some(format!("unknown key `{key}`{place}{hint}"))
}

/// The key batchrun uses for a word other tools use (GitHub Actions, Taskfile, just, GNU
/// parallel, docker compose), with a remark to add; offered where that key belongs.
fn other_tools_word(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key.to_ascii_lowercase().replace('-', "_").as_str() {
        "cmd" | "run" | "script" | "exec" | "shell_command" => ("command", ""),
        "cmds" | "scripts" => ("command", " (or `commands` for a list)"),
        "steps" => ("commands", ""),
        "depends_on" | "dependson" | "depends" | "deps" | "after" | "requires" | "dependencies" => ("needs", ""),
        "parallel" | "parallelism" | "jobs" | "max_parallel" | "max_jobs" | "workers" | "threads" => {
            ("concurrency", "")
        }
        "tasks" => ("jobs", ""),
        "environment" => ("env", ""),
        "dir" | "workdir" | "working_directory" | "chdir" => ("cwd", ""),
        "timeout_minutes" => ("timeout", " (a duration: `30m`)"),
        "retry" | "attempts" => ("retries", ""),
        "continue_on_error" | "fail_fast" => ("on_failure", " (`continue`, `stop` or `kill`)"),
        _ => return None,
    })
}

fn describe_place(parents: Vec<String>) -> String {
    match parents.as_slice() {
        [jobs, job, ..] if jobs == "jobs" && parents.len() == 2 => format!(" in job `{job}`"),
        [jobs, job, key, ..] if jobs == "jobs" => format!(" in `{key}` of job `{job}`"),
        [top] => format!(" in `{top}`"),
        _ => String::new(),
    }
}

/// The keys that enclose line `line` (1-based), outermost first, found by indentation. Good
/// enough for block-style YAML, which is what people write; flow style just gets no context.
fn enclosing_keys(text: &str, line: u32) -> Option<Vec<String>> {
    let lines: Vec<&str> = text.lines().collect();
    let target = lines.get(line.checked_sub(1)? as usize)?;
    let mut indent = target.len() - target.trim_start().len();
    let mut parents = Vec::new();
    for l in lines[..line as usize - 1].iter().rev() {
        let trimmed = l.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('-') {
            continue;
        }
        let this_indent = l.len() - trimmed.len();
        if this_indent < indent {
            let key = trimmed.split(':').next()?.trim().trim_matches(['"', '\'']).to_owned();
            parents.push(key);
            indent = this_indent;
            if indent == 0 {
                break;
            }
        }
    }
    parents.reverse();
    Some(parents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        parse(Path::new("t.yaml"), text).unwrap_err().to_string()
    }

    #[test]
    fn misspelt_key_in_a_job_names_the_job_and_suggests() {
        let e = error_of("jobs:\n  export:\n    comand: echo hi\n");
        assert!(e.contains("unknown key `comand` in job `export`; did you mean `command`?"), "{e}");
        assert!(e.contains("t.yaml:3:5"), "{e}");
    }

    #[test]
    fn the_commonest_yaml_mistakes_say_what_to_do() {
        let colon = error_of("jobs:\n  a:\n    command: echo \"rows: {{ n }}\"\n");
        assert!(colon.contains("quote the whole value") && colon.contains(">-"), "{colon}");
        let tab = error_of("jobs:\n  a:\n\tcommand: echo hi\n");
        assert!(tab.contains("YAML indents with spaces only"), "{tab}");
        let twice = error_of("jobs:\n  a:\n    command: echo a\n  b:\n    command: b\n  a:\n    command: c\n");
        assert!(twice.contains("job `a` is defined twice (lines 2 and 6)"), "{twice}");
        let keys = error_of("jobs:\n  a:\n    command: echo a\n  c:\n    command: x\n    command: y\n");
        assert!(keys.contains("the key `command` is defined twice (lines 5 and 6)"), "{keys}");
        assert!(!twice.contains("DuplicateKeyPolicy"), "{twice}");
        let indent = error_of("jobs:\n  a:\n    command: echo a\n   b: 1\n");
        assert!(indent.contains("keys of one map must start in the same column"), "{indent}");
        let own = error_of("jobs:\n  a:\n    needs: [c]\n    command: echo a\n");
        assert!(own.contains("needs unknown job `c`") && !own.contains("did you mean `a`"), "{own}");
    }

    #[test]
    fn every_unknown_key_and_the_rest_of_the_file_in_one_pass() {
        let yaml = "jobs:\n  a:\n    comand: echo a\n    command: echo a\n  b:\n    retires: 2\n    command: >-\n      echo b\n  c:\n    timeout: soon\n    command: echo c\n";
        let all = error_of(yaml);
        assert!(all.contains("unknown key `comand` in job `a`") && all.contains("t.yaml:3:5"), "{all}");
        assert!(all.contains("unknown key `retires` in job `b`") && all.contains("t.yaml:6:5"), "{all}");
        assert!(all.contains("timeout") && all.contains("t.yaml:10:"), "the rest of the file is checked too: {all}");
    }

    #[test]
    fn a_blanked_key_takes_its_block_and_keeps_every_place() {
        let text = "a:\n  bad:\n    x: 1\n\n    y: 2\n  good: 3\n";
        let blanked = blank_key(text, Pos { line: 2, col: 3, len: 3 }).unwrap();
        assert_eq!(blanked.lines().count(), text.lines().count());
        assert_eq!(blanked.lines().last(), Some("  good: 3"));
        assert!(blanked.lines().nth(1).unwrap().trim().is_empty() && blanked.lines().nth(4).unwrap().trim().is_empty());
    }

    #[test]
    fn a_blanked_key_takes_a_list_at_its_own_indent_and_never_an_anchor() {
        let text = "a:\n  nedds:\n  - b\n  - c\n  good: 3\n";
        let blanked = blank_key(text, Pos { line: 2, col: 3, len: 5 }).unwrap();
        assert_eq!(blanked.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>(), ["a:", "  good: 3"]);
        let anchored = "base: &b {command: x}\njobs:\n  a: *b\n";
        assert_eq!(blank_key(anchored, Pos { line: 1, col: 1, len: 4 }), None);
        assert!(!defines_anchor("command: echo a && b") && defines_anchor("- &x 1"));
    }

    #[test]
    fn an_unknown_key_in_a_flow_map_is_reported_alone() {
        let all = error_of("jobs: {a: {comand: x, command: y}}\n");
        assert!(all.contains("unknown key `comand`"), "{all}");
        assert_eq!(all.matches("error:").count(), 1, "{all}");
    }

    #[test]
    fn misspelt_top_level_key() {
        let e = error_of("concurency: 2\njobs:\n  a:\n    command: x\n");
        assert!(e.contains("did you mean `concurrency`?"), "{e}");
        assert!(e.contains("t.yaml:1:1"), "{e}");
    }

    #[test]
    fn empty_and_non_map_files() {
        assert!(error_of("").contains("empty"));
        assert!(error_of("- 1\n").contains("must be a map"));
    }

    #[test]
    fn needs_cycles_and_unknown_names() {
        let e = error_of("jobs:\n  a:\n    command: x\n    needs: [b]\n  b:\n    command: y\n    needs: [a]\n");
        assert!(e.contains("cycle: a → b → a"), "{e}");
        let into = error_of(
            "jobs:\n  x: {needs: [a], command: x}\n  a: {needs: [b], command: a}\n  b: {needs: [a], command: b}\n",
        );
        assert!(into.contains("cycle: a → b → a") && into.contains("t.yaml:3:15"), "at the cycle, not at x: {into}");
        let two = error_of(
            "jobs:\n  a: {needs: [b], command: a}\n  b: {needs: [a], command: b}\n  c: {needs: [d], command: c}\n  d: {needs: [c], command: d}\n",
        );
        assert!(two.contains("cycle: a → b → a") && two.contains("cycle: c → d → c"), "every cycle: {two}");
        let e = error_of("jobs:\n  a:\n    command: x\n    needs: [bb]\n  b:\n    command: y\n");
        assert!(e.contains("unknown job `bb`"), "{e}");
    }

    #[test]
    fn jobs_are_ordered_after_their_needs() {
        let f = parse(
            Path::new("t.yaml"),
            "jobs:\n  last:\n    command: x\n    needs: [first]\n  first:\n    command: y\n",
        )
        .unwrap();
        let names: Vec<_> = f.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["first", "last"]);
        assert_eq!(f.jobs[1].needs, [0]);
    }

    #[test]
    fn collects_several_errors() {
        let e = parse(Path::new("t.yaml"), "jobs:\n  a:\n    command: x\n    shell: zsh\n    concurrency: 0\n")
            .unwrap_err();
        assert_eq!(e.0.len(), 2, "{e}");
    }
}
