//! Jinja templates (minijinja), with every output of a command template escaped for the
//! shell context it lands in.
//!
//! Command templates are registered under names ending in [`COMMAND_SUFFIX`], after
//! [`quoting::analyze`] has given each output its context and routed it through the escaping
//! filter; the formatter of those templates writes only what that filter returned, so an
//! output that missed its context fails instead of going out unescaped. `{{ x | raw }}` opts
//! out. Other templates (env values, range bounds) are rendered as plain text.

use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};

use crate::plan::quoting::{self, Analyzed, Dialect, Quoted};

/// Template names ending in this are commands and get shell quoting.
pub const COMMAND_SUFFIX: &str = ":cmd";
const SHELL_ESCAPE: AutoEscape = AutoEscape::Custom(std::borrow::Cow::Borrowed("shell"));

/// The most work one rendering may do, in minijinja's steps: far more than any command needs,
/// and it stops a template that loops for ever (or for 10^10 steps) with a clear error.
pub const FUEL: u64 = 10_000_000;

/// The one template environment of a plan.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|name| if name.ends_with(COMMAND_SUFFIX) { SHELL_ESCAPE } else { AutoEscape::None });
    env.set_formatter(|out, state, value| {
        if *state.auto_escape() != SHELL_ESCAPE {
            return minijinja::escape_formatter(out, state, value);
        }
        match value.downcast_object_ref::<Quoted>() {
            Some(quoted) => out.write_str(&quoted.0).map_err(Error::from),
            None => {
                Err(Error::new(ErrorKind::InvalidOperation, "an output of a command template missed its shell context"))
            }
        }
    });
    env.add_filter("raw", quoting::raw);
    env.add_filter(quoting::FILTER, quoting::shell_filter);
    env
}

/// Reads a command template for `dialect` and registers it under `name` (which must end in
/// [`COMMAND_SUFFIX`]); the contexts of its outputs are returned for the fast path. `made`
/// are the names holding values batchrun makes (see [`quoting::analyze()`]).
pub fn add_command(
    env: &mut Environment<'static>,
    name: String,
    source: &str,
    dialect: Dialect,
    made: &[&str],
) -> Result<Analyzed, CommandError> {
    let analyzed = quoting::analyze(source, dialect, made).map_err(|e| match e {
        quoting::analyze::AnalyzeError::Syntax(e) => CommandError::Template(describe(&e)),
        quoting::analyze::AnalyzeError::Refused(r) => CommandError::Refused(r),
    })?;
    env.add_template_owned(name, analyzed.source.clone()).map_err(|e| CommandError::Template(describe(&e)))?;
    Ok(analyzed)
}

/// Why a command template was not accepted.
#[derive(Debug)]
pub enum CommandError {
    /// Not a valid template.
    Template(String),
    /// A value would land where it cannot be escaped.
    Refused(quoting::Refusal),
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
    /// `job`, `index`, `count`, and `product` in a job that declares one (a name of `""`
    /// otherwise, which no template can read).
    pub extra: [(Arc<str>, Value); 4],
}

impl Scope {
    /// A scope of the vars alone (for range bounds).
    pub fn of_vars(vars: Arc<Vec<(Arc<str>, Value)>>) -> Scope {
        let none = || (Arc::from(""), Value::UNDEFINED);
        Scope { vars, own: Vec::new(), extra: [none(), none(), none(), none()] }
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
    if error.kind() == ErrorKind::OutOfFuel {
        return format!(
            "the template does too much work (more than {FUEL} steps in one rendering): loop over less, or compute the values before (`vars`, an items file)"
        );
    }
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
        let name = format!("t{COMMAND_SUFFIX}");
        add_command(&mut env, name.clone(), source, Dialect::Posix, &[]).unwrap();
        let scope = Scope {
            own: bindings.into_iter().map(|(k, v)| (Arc::from(k), v)).collect(),
            ..Scope::of_vars(Arc::new(vec![]))
        };
        env.get_template(&name).unwrap().render(Value::from_object(scope))
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
    fn values_are_escaped_for_the_quotes_they_sit_in() {
        let x = || vec![("x", Value::from("it's $(touch PWNED)"))];
        assert_eq!(render("echo \"v {{ x }} e\"", x()).unwrap(), "echo \"v it's \\$(touch PWNED) e\"");
        assert_eq!(render("echo 'v {{ x }} e'", x()).unwrap(), "echo 'v it'\\''s $(touch PWNED) e'");
    }

    #[test]
    fn raw_opts_out_and_undefined_is_an_error() {
        assert_eq!(render("{{ x | raw }}", vec![("x", Value::from("a|b"))]).unwrap(), "a|b");
        assert_eq!(render("\"{{ x | raw }}\"", vec![("x", Value::from("$y"))]).unwrap(), "\"$y\"");
        let e = render("echo {{ strat }}", vec![]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UndefinedError);
    }

    #[test]
    fn safe_strings_of_other_filters_are_still_escaped() {
        let x = vec![("x", Value::from_safe_string("$(touch PWNED)".into()))];
        assert_eq!(render("echo \"{{ x }}\"", x).unwrap(), "echo \"\\$(touch PWNED)\"");
    }

    #[test]
    fn nul_bytes_are_refused() {
        assert!(render("echo {{ x }}", vec![("x", Value::from("a\0b"))]).is_err());
    }
}
