//! Values placed safely wherever a command template puts them.
//!
//! The place a value lands is read from the template, never from the value: [`analyze`] lexes
//! each command template once per job (literal text is shell syntax, every `{{ … }}` is data)
//! and gives each output a [`Context`]; [`push`] escapes a value for its context when a task is
//! rendered. Escaping is not enough where the shell reads a word again (as a name, a number or
//! code), so `place` holds each output to an allowlist of places that read it once as plain
//! text, and every other place is refused before anything runs. A value that cannot be placed
//! (a here-document line equal to the delimiter) fails its task before it runs.
//! `{{ x | raw }}` is the one way to write a value as it is.

pub mod analyze;
mod lexer;
mod place;

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind};

pub use analyze::{Analyzed, Refusal, analyze};
pub use lexer::Dialect;
pub use place::Names;

use crate::config::Shell;

impl Dialect {
    /// The shell a job's commands are read for: `shell: auto` and `none` may go to `sh`.
    pub fn of(shell: Shell) -> Dialect {
        match shell {
            Shell::Bash => Dialect::Bash,
            Shell::Auto | Shell::Sh | Shell::None => Dialect::Posix,
        }
    }
}

/// Where a value lands in a command, as far as escaping goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// A bare word: quoted with shlex, so a value renders byte for byte as it always has.
    Word,
    /// Inside `"…"`: `\`, `"`, `$` and `` ` `` get a backslash.
    Double,
    /// Inside `'…'`: a `'` closes, is escaped and reopens.
    Single,
    /// Inside bash's `$'…'`: `\` and `'` get a backslash.
    AnsiC,
    /// A here-document body with an unquoted delimiter: `\`, `$` and `` ` `` get a backslash,
    /// and a value that would make a line equal to the delimiter is refused.
    HereDoc(Arc<HereDocSpot>),
}

/// A value's place on a here-document line, for the delimiter check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HereDocSpot {
    pub delimiter: String,
    /// The line's text before the value, when the template fixes it; `None` when the line is
    /// already known not to be able to become the delimiter.
    pub prefix: Option<String>,
    /// The line's text after the value, when the template fixes it up to the line's end.
    pub suffix: Option<String>,
    /// Inside `$(…)` or `(…)`, where bash ends the body at a line that begins with the delimiter.
    pub nested: bool,
}

impl Context {
    /// The filter call that escapes an output for this context in a rewritten template.
    fn filter_call(&self) -> String {
        let text = |s: &Option<String>| match s {
            Some(s) => serde_json::to_string(s).unwrap_or_else(|_| "none".into()),
            None => "none".into(),
        };
        match self {
            Context::Word => format!("{FILTER}(\"word\")"),
            Context::Double => format!("{FILTER}(\"double\")"),
            Context::Single => format!("{FILTER}(\"single\")"),
            Context::AnsiC => format!("{FILTER}(\"ansi-c\")"),
            Context::HereDoc(spot) => format!(
                "{FILTER}(\"{}\", {}, {}, {})",
                if spot.nested { "heredoc-nested" } else { "heredoc" },
                text(&Some(spot.delimiter.clone())),
                text(&spot.prefix),
                text(&spot.suffix)
            ),
        }
    }

    fn from_filter_args(kind: &str, args: [Option<String>; 3]) -> Option<Context> {
        Some(match kind {
            "word" => Context::Word,
            "double" => Context::Double,
            "single" => Context::Single,
            "ansi-c" => Context::AnsiC,
            "heredoc" | "heredoc-nested" => {
                let [delimiter, prefix, suffix] = args;
                let nested = kind == "heredoc-nested";
                Context::HereDoc(Arc::new(HereDocSpot { delimiter: delimiter?, prefix, suffix, nested }))
            }
            _ => return None,
        })
    }
}

/// Why a value could not be written into its command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("a value contains a NUL byte")]
    Nul,
    /// The value itself cannot be placed where the template puts it: its task fails, unrun,
    /// and the rest of the job goes on.
    #[error("{0}")]
    Unplaceable(String),
}

/// The name of the filter that every output of a rewritten command template goes through.
pub const FILTER: &str = "__batchrun_shell";

/// What `{{ x | raw }}` makes: written into the command as it is. A type of its own, so that
/// no other filter's "safe" string (`safe`, `tojson`, `escape`) can skip the escaping.
#[derive(Debug)]
pub struct Raw(pub String);

impl Object for Raw {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An output already escaped for its context: the only thing a command template's formatter
/// writes, so an output that missed its context fails instead of going out unescaped.
#[derive(Debug)]
pub struct Quoted(pub String);

impl Object for Quoted {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `raw` filter.
pub fn raw(value: Value) -> Value {
    match value.downcast_object_ref::<Raw>() {
        Some(_) => value,
        None => Value::from_object(Raw(value.to_string())),
    }
}

/// The filter every output of a command template goes through (see [`Context::filter_call`]).
pub fn shell_filter(
    value: Value,
    kind: &str,
    delimiter: Option<String>,
    prefix: Option<String>,
    suffix: Option<String>,
) -> Result<Value, Error> {
    if value.is_undefined() {
        // Strict undefined: a filter's argument is not checked by the engine as output is.
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    let context = Context::from_filter_args(kind, [delimiter, prefix, suffix])
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("unknown shell context `{kind}`")))?;
    let mut out = String::new();
    push(&mut out, &context, &value).map_err(|e| Error::from(ErrorKind::InvalidOperation).with_source(e))?;
    Ok(Value::from_object(Quoted(out)))
}

/// Appends `value` escaped for `context`.
pub fn push(out: &mut String, context: &Context, value: &Value) -> Result<(), QuoteError> {
    use std::fmt::Write as _;
    if let Some(raw) = value.downcast_object_ref::<Raw>() {
        out.push_str(&raw.0);
        return Ok(());
    }
    if *context == Context::Word && matches!(value.kind(), ValueKind::Number | ValueKind::Bool) {
        let _ = write!(out, "{value}");
        return Ok(());
    }
    let text = value.to_string();
    if text.contains('\0') {
        return Err(QuoteError::Nul);
    }
    match context {
        // In a locale such as GBK, BIG5 or SJIS a multibyte character can swallow a backslash
        // after it, but no such character ends in `'`: a value with a non-ASCII character right
        // before one that would get a backslash goes out as `'…'` instead.
        Context::Word => {
            let quoted = shlex::try_quote(&text).map_err(|_| QuoteError::Nul)?;
            if quoted.starts_with('"') && multibyte_before(&text, DOUBLE_SPECIAL) {
                single_quoted(out, &text);
            } else {
                out.push_str(&quoted);
            }
        }
        // Closed, single-quoted and reopened there: `"a"'中$(x)'"b"`.
        Context::Double if multibyte_before(&text, DOUBLE_SPECIAL) => {
            out.push('"');
            single_quoted(out, &text);
            out.push('"');
        }
        Context::Double => escape(out, &text, DOUBLE_SPECIAL),
        Context::Single => {
            for c in text.chars() {
                match c {
                    '\'' => out.push_str("'\\''"),
                    c => out.push(c),
                }
            }
        }
        Context::AnsiC => {
            check_multibyte(&text, &['\\', '\''])?;
            escape(out, &text, &['\\', '\'']);
        }
        Context::HereDoc(spot) => {
            check_delimiter(spot, &text)?;
            check_multibyte(&text, &['\\', '$', '`'])?;
            escape(out, &text, &['\\', '$', '`']);
        }
    }
    Ok(())
}

fn single_quoted(out: &mut String, text: &str) {
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

const DOUBLE_SPECIAL: &[char] = &['\\', '"', '$', '`'];

/// Whether a non-ASCII character stands right before one of `special`.
fn multibyte_before(text: &str, special: &[char]) -> bool {
    text.chars().zip(text.chars().skip(1)).any(|(a, b)| !a.is_ascii() && special.contains(&b))
}

/// Where escaping needs a backslash and nothing else will do (a here-document, `$'…'`), a
/// non-ASCII character right before an escaped one is refused: under a GBK, BIG5 or SJIS
/// locale the shell could read the character's last byte and the backslash as one character,
/// and the escape would be lost.
fn check_multibyte(text: &str, special: &[char]) -> Result<(), QuoteError> {
    if multibyte_before(text, special) {
        return Err(QuoteError::Unplaceable(
            "the value has a non-ASCII character right before a `\\`, `$`, `'` or backtick: in a multibyte locale such as GBK the shell may read the escaping backslash as part of that character; put the value in a word or in quotes instead".into(),
        ));
    }
    Ok(())
}

fn escape(out: &mut String, text: &str, special: &[char]) {
    out.reserve(text.len());
    for c in text.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Refuses a value that would give its here-document a line equal to the delimiter: the shell
/// would end the body there and run what follows as commands.
fn check_delimiter(spot: &HereDocSpot, text: &str) -> Result<(), QuoteError> {
    let delimiter = spot.delimiter.as_str();
    let lines: Vec<&str> = text.split('\n').collect();
    let last = lines.len() - 1;
    let forms = lines.iter().enumerate().any(|(i, line)| {
        // The line as the shell will see it, where the template fixes its text.
        let before = if i == 0 { spot.prefix.as_deref() } else { Some("") };
        let after = if i == last { spot.suffix.as_deref() } else { Some("") };
        match (before, after) {
            // Inside `$(…)` bash ends the body at a line that only begins with the delimiter.
            (Some(before), Some(after)) if spot.nested => format!("{before}{line}{after}").starts_with(delimiter),
            (Some(before), Some(after)) => format!("{before}{line}{after}") == delimiter,
            // Text may follow: refuse while the line could still grow into the delimiter.
            (Some(before), None) => {
                let line = format!("{before}{line}");
                delimiter.starts_with(&line) || (spot.nested && line.starts_with(delimiter))
            }
            // The line before the value is known not to be able to become the delimiter.
            (None, _) => false,
        }
    });
    if forms {
        return Err(QuoteError::Unplaceable(format!(
            "the value would put a line `{delimiter}` into its here-document, which ends it there{}: it cannot be placed there (pass it through `env:` and use `$NAME` in the here-document instead)",
            if spot.nested { " (inside `$(…)` bash ends it at a line that begins with the delimiter)" } else { "" }
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pushed(context: &Context, value: &str) -> Result<String, QuoteError> {
        let mut out = String::new();
        push(&mut out, context, &Value::from(value)).map(|()| out)
    }

    #[test]
    fn each_context_has_its_escaping() {
        assert_eq!(pushed(&Context::Word, "a b").unwrap(), "'a b'");
        assert_eq!(pushed(&Context::Double, "$(x) `y` \\ \"").unwrap(), "\\$(x) \\`y\\` \\\\ \\\"");
        assert_eq!(pushed(&Context::Single, "it's").unwrap(), "it'\\''s");
        assert_eq!(pushed(&Context::AnsiC, "it's \\n").unwrap(), "it\\'s \\\\n");
        let here = Context::HereDoc(Arc::new(HereDocSpot {
            delimiter: "EOF".into(),
            prefix: Some(String::new()),
            suffix: Some(String::new()),
            nested: false,
        }));
        assert_eq!(pushed(&here, "$x `y` \\ \"q\"").unwrap(), "\\$x \\`y\\` \\\\ \"q\"");
        assert!(pushed(&Context::Double, "a\0b").is_err());
    }

    #[test]
    fn a_value_that_forms_the_delimiter_is_refused() {
        let spot = |prefix: Option<&str>, suffix: Option<&str>| {
            Context::HereDoc(Arc::new(HereDocSpot {
                delimiter: "EOF".into(),
                prefix: prefix.map(str::to_owned),
                suffix: suffix.map(str::to_owned),
                nested: false,
            }))
        };
        let whole_line = spot(Some(""), Some(""));
        assert!(pushed(&whole_line, "EOF").is_err());
        assert!(pushed(&whole_line, "a\nEOF\nb").is_err());
        assert!(pushed(&whole_line, "a\nEOF").is_err());
        assert!(pushed(&whole_line, "EOF \nb").is_ok());
        assert!(pushed(&whole_line, "select 1;\n").is_ok());
        assert!(pushed(&spot(Some("E"), Some("F")), "O").is_err());
        assert!(pushed(&spot(Some("x"), Some("")), "EOF").is_ok());
        assert!(pushed(&spot(Some(""), None), "EO").is_err(), "the rest of the line is not fixed");
        assert!(pushed(&spot(Some(""), None), "EOFX").is_ok());
        assert!(pushed(&spot(None, None), "EO").is_ok(), "the line already cannot be the delimiter");
        assert!(pushed(&spot(None, Some("")), "a\nEOF").is_err());
    }

    #[test]
    fn raw_is_written_as_it_is_and_other_safe_strings_are_not() {
        let mut out = String::new();
        push(&mut out, &Context::Double, &raw(Value::from("$(x)"))).unwrap();
        assert_eq!(out, "$(x)");
        assert_eq!(push_value(&Context::Double, Value::from_safe_string("$(x)".into())), "\\$(x)");
    }

    fn push_value(context: &Context, value: Value) -> String {
        let mut out = String::new();
        push(&mut out, context, &value).unwrap();
        out
    }
}
