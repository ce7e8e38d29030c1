//! Jinja templates (minijinja) with shell quoting of every substituted value.
//!
//! Command templates are registered under names ending in [`COMMAND_SUFFIX`]; for those, the
//! formatter quotes each `{{ value }}` with `shlex::try_quote`, so an item such as
//! `https://x/?a=1&b=2` or `; touch PWNED` arrives as one literal word whether the command then
//! goes through `sh -c` or is split and executed directly. `{{ x | raw }}` opts out. Other
//! templates (env values, range bounds) are rendered as plain text.

use std::sync::Arc;

use minijinja::value::{Object, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};

/// Template names ending in this are commands and get shell quoting.
pub const COMMAND_SUFFIX: &str = ":cmd";
const SHELL_ESCAPE: AutoEscape = AutoEscape::Custom(std::borrow::Cow::Borrowed("shell"));

/// The one template environment of a plan.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| if name.ends_with(COMMAND_SUFFIX) { SHELL_ESCAPE } else { AutoEscape::None });
    env.set_formatter(|out, state, value| {
        if *state.auto_escape() != SHELL_ESCAPE {
            return minijinja::escape_formatter(out, state, value);
        }
        let mut text = String::new();
        format_for_shell(&mut text, value).map_err(|e| Error::new(ErrorKind::InvalidOperation, e))?;
        out.write_str(&text).map_err(Error::from)
    });
    env.add_filter("raw", |value: Value| Value::from_safe_string(value.to_string()));
    env
}

/// Appends `value` as a command template shows it: one shell word. Numbers and booleans never
/// need quoting; `raw` values are written as they are; everything else goes through shlex.
pub fn format_for_shell(out: &mut String, value: &Value) -> Result<(), String> {
    use std::fmt::Write as _;
    if value.is_safe() || matches!(value.kind(), ValueKind::Number | ValueKind::Bool) {
        let _ = write!(out, "{value}");
        return Ok(());
    }
    let text = value.to_string();
    let quoted = shlex::try_quote(&text).map_err(|_| "a value contains a NUL byte".to_string())?;
    out.push_str(&quoted);
    Ok(())
}

/// A YAML/JSON value as a template value.
pub fn json_value(value: &serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// The names a task's templates can see: its own bindings first, then the file's vars.
/// An object rather than a merged map so the vars are shared, not copied, per task.
#[derive(Debug)]
pub struct Scope {
    pub vars: Arc<Vec<(Arc<str>, Value)>>,
    /// The task's own bindings (`start`, `item`, …).
    pub own: Vec<(Arc<str>, Value)>,
    /// `job`, `index`, `count`.
    pub extra: [(Arc<str>, Value); 3],
}

impl Scope {
    /// A scope of the vars alone (for range bounds).
    pub fn of_vars(vars: Arc<Vec<(Arc<str>, Value)>>) -> Scope {
        let none = || (Arc::from(""), Value::UNDEFINED);
        Scope { vars, own: Vec::new(), extra: [none(), none(), none()] }
    }

    /// The task's own bindings back, once rendering is over (without a copy, as the engine
    /// holds no reference to the scope by then).
    pub fn into_own(scope: Value) -> Vec<(Arc<str>, Value)> {
        match scope.downcast_object::<Scope>() {
            Some(scope) => Arc::try_unwrap(scope).map_or_else(|shared| shared.own.clone(), |s| s.own),
            None => Vec::new(),
        }
    }
}

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        self.own.iter().chain(&self.extra).chain(self.vars.iter()).find(|(k, _)| &**k == key).map(|(_, v)| v.clone())
    }
}

/// A one-line description of a template error, without minijinja's debug dump.
pub fn describe(error: &Error) -> String {
    let mut text = match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    };
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, bindings: Vec<(&str, Value)>) -> Result<String, Error> {
        let mut env = environment();
        env.add_template_owned(format!("t{COMMAND_SUFFIX}"), source.to_owned()).unwrap();
        let scope = Scope {
            own: bindings.into_iter().map(|(k, v)| (Arc::from(k), v)).collect(),
            ..Scope::of_vars(Arc::new(vec![]))
        };
        env.get_template(&format!("t{COMMAND_SUFFIX}")).unwrap().render(Value::from_object(scope))
    }

    #[test]
    fn values_are_quoted_as_one_word() {
        let out = render("echo {{ x }}", vec![("x", Value::from("; touch PWNED"))]).unwrap();
        assert_eq!(out, "echo '; touch PWNED'");
        let out = render("curl {{ u }}", vec![("u", Value::from("https://x/?a=1&b=2"))]).unwrap();
        assert_eq!(shlex::split(&out).unwrap(), ["curl", "https://x/?a=1&b=2"]);
        assert_eq!(render("echo {{ n * 2 }}", vec![("n", Value::from(21))]).unwrap(), "echo 42");
    }

    #[test]
    fn raw_opts_out_and_undefined_is_an_error() {
        assert_eq!(render("{{ x | raw }}", vec![("x", Value::from("a|b"))]).unwrap(), "a|b");
        let e = render("{{ strat }}", vec![]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UndefinedError);
    }

    #[test]
    fn nul_bytes_are_refused() {
        assert!(render("{{ x }}", vec![("x", Value::from("a\0b"))]).is_err());
    }
}
