//! The values of the file's `vars`: literals, `--set` overrides and `{sh: CMD}` commands.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use minijinja::Value;

use crate::plan::quoting::Dialect;
use crate::plan::template::{self, json_value};
use serde_json::Value as Json;

use crate::config::{JobFile, Var};
use crate::diagnostic::Diagnostic;

/// Resolves every var; `overrides` (`--set KEY=VALUE`) win over the file and skip its commands,
/// and `fixed` (exact values, as a Slurm element receives them) win over both.
/// With `run_commands` false (`validate`), a computed var's command is checked but not run, and
/// its value is left undefined.
///
/// A var that fails is left undefined too, beside its error, so that what uses it is treated as
/// what uses an unknown value (not checked further, not reported again) while the rest of the
/// file is still checked in the same pass. Undefined is an error wherever it is rendered, so a
/// computed var that uses a failed one fails rather than run with a hole in its command.
/// Each var's value, in the file's order; undefined where it could not be had.
pub type Resolved = Vec<(Arc<str>, Value)>;

/// Each computed var that ran is told in [`Computed`], for the errors and warnings that depend on
/// its value.
pub fn resolve(
    file: &JobFile,
    overrides: &[(String, String)],
    fixed: &[(String, Json)],
    run_commands: bool,
) -> (Resolved, Vec<Diagnostic>, Vec<Computed>) {
    let mut errors = Vec::new();
    let mut computed = Vec::new();
    for (key, _) in overrides {
        if !file.vars.contains_key(key) {
            let hint = crate::diagnostic::hint(key, file.vars.keys().map(String::as_str));
            errors.push(Diagnostic::new(
                &file.path,
                None,
                format!("--set {key}: the job file has no var `{key}`{hint}"),
            ));
        }
    }
    let mut vars = Vec::with_capacity(file.vars.len());
    for (name, var) in &file.vars {
        let value = if let Some((_, json)) = fixed.iter().find(|(k, _)| k == name) {
            Ok(json_value(json))
        } else if let Some((_, text)) = overrides.iter().rev().find(|(k, _)| k == name) {
            Ok(json_value(&yaml_scalar(text)))
        } else {
            match &var.value {
                Var::Literal(json) => Ok(json_value(json)),
                Var::Command(cmd) if !run_commands => check_command(cmd)
                    .map(|()| Value::UNDEFINED)
                    .map_err(|e| Diagnostic::new(&file.path, var.pos, format!("computed var `{name}`: {e}"))),
                Var::Command(cmd) => render_command(cmd, &vars)
                    .and_then(|cmd| cmd.map(|cmd| run_computed(name, &cmd, &file.dir)).transpose())
                    .map(|ran| {
                        ran.map_or(Value::UNDEFINED, |ran| {
                            let value = integer_or_string(&ran.value);
                            computed.push(ran);
                            value
                        })
                    })
                    .map_err(|e| Diagnostic::new(&file.path, var.pos, format!("computed var `{name}`: {e}"))),
            }
        };
        match value {
            Ok(v) => vars.push((Arc::from(name.as_str()), v)),
            Err(d) => {
                errors.push(d);
                vars.push((Arc::from(name.as_str()), Value::UNDEFINED));
            }
        }
    }
    (vars, errors, computed)
}

/// What a computed var's command did: told beside an error that depends on its value (a
/// `0` from a command that could not read its file explains `from (1) is greater than to (0)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computed {
    pub name: String,
    /// As it ran, its vars filled in.
    pub command: String,
    /// What it printed, trimmed.
    pub value: String,
    /// Its exit status, in words.
    pub status: String,
    /// The last lines it wrote to stderr.
    pub stderr_tail: Vec<String>,
}

impl Computed {
    /// "`n` is `0` from `cmd`, which exited 0 and wrote to stderr: …"
    pub fn story(&self) -> String {
        let (name, command, value, status) = (&self.name, &self.command, &self.value, &self.status);
        let stderr = match self.stderr_tail.as_slice() {
            [] => "wrote nothing to stderr".to_owned(),
            tail => format!("wrote to stderr: {}", tail.join(" / ")),
        };
        format!("`{name}` is `{value}` from `{command}`, which {status} and {stderr}")
    }
}

/// A computed var's command is a command template over the vars above it, its values escaped
/// for where they land as in any command (it runs with `/bin/sh`), so
/// `{sh: "sqlite3 {{ db }} 'select max(id) from orders'"}` follows `--set db=…`.
/// `None` when it uses a var that failed: it is not run, and that var's error says why.
pub(crate) fn render_command(cmd: &str, vars_above: &[(Arc<str>, Value)]) -> Result<Option<String>, String> {
    if !cmd.contains("{{") && !cmd.contains("{%") {
        return Ok(Some(cmd.to_owned()));
    }
    let name = format!("var{}", template::COMMAND_SUFFIX);
    let mut env = template::environment();
    template::add_command(&mut env, name.clone(), cmd, Dialect::Posix, &[]).map_err(|e| match e {
        template::CommandError::Template(e) => e,
        template::CommandError::Refused(r) => format!("in `{cmd}`: {}", r.message),
    })?;
    let template = env.get_template(&name).map_err(|e| format!("in `{cmd}`: {}", template::describe(&e)))?;
    let failed = template
        .undeclared_variables(false)
        .iter()
        .any(|used| vars_above.iter().any(|(name, value)| **name == **used && value.is_undefined()));
    if failed {
        return Ok(None);
    }
    let scope = template::Scope::of_vars(Arc::new(vars_above.to_vec()));
    template.render(Value::from_object(scope)).map(Some).map_err(|e| format!("in `{cmd}`: {}", template::describe(&e)))
}

/// Checks a computed var's command as a command template (syntax, quoting) without running or
/// rendering it.
pub(crate) fn check_command(cmd: &str) -> Result<(), String> {
    let mut env = template::environment();
    template::add_command(&mut env, format!("var{}", template::COMMAND_SUFFIX), cmd, Dialect::Posix, &[])
        .map(drop)
        .map_err(|e| match e {
            template::CommandError::Template(e) => format!("in `{cmd}`: {e}"),
            template::CommandError::Refused(r) => format!("in `{cmd}`: {}", r.message),
        })
}

/// `--set` values are YAML scalars: `3` is a number, `true` a boolean, anything else a string;
/// a number written in another form than it prints as (`007`) is the string it was written as.
pub fn yaml_scalar(text: &str) -> Json {
    match serde_saphyr::from_str::<Json>(text) {
        Ok(v @ (Json::Number(_) | Json::Bool(_) | Json::String(_))) => crate::config::scalar_text(v, text.trim()),
        _ => Json::String(text.to_owned()),
    }
}

/// Command output that is exactly an integer becomes a number (so `{{ max_id + 1 }}` works);
/// anything else, `007` included, stays text.
fn integer_or_string(text: &str) -> Value {
    match text.parse::<i64>() {
        Ok(n) if n.to_string() == text => Value::from(n),
        _ => Value::from(text),
    }
}

fn run_computed(name: &str, cmd: &str, dir: &Path) -> Result<Computed, String> {
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run `{cmd}`: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail: Vec<String> = tail[tail.len().saturating_sub(3)..].iter().map(|l| l.trim_end().to_owned()).collect();
    if !output.status.success() {
        return Err(format!(
            "`{cmd}` failed ({}){}",
            output.status,
            if tail.is_empty() { String::new() } else { format!(": {}", tail.join(" / ")) }
        ));
    }
    let value = String::from_utf8(output.stdout)
        .map(|s| s.trim().to_owned())
        .map_err(|_| format!("`{cmd}` printed something that is not UTF-8"))?;
    let status = match output.status.code() {
        Some(code) => format!("exited {code}"),
        None => output.status.to_string(),
    };
    Ok(Computed { name: name.to_owned(), command: cmd.to_owned(), value, status, stderr_tail: tail })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(yaml_scalar("3"), Json::from(3));
        assert_eq!(yaml_scalar("true"), Json::from(true));
        assert_eq!(yaml_scalar("a b"), Json::from("a b"));
        assert_eq!(yaml_scalar("[1"), Json::from("[1"));
        assert_eq!(integer_or_string("42"), Value::from(42));
        assert_eq!(integer_or_string("007"), Value::from("007"));
    }

    #[test]
    fn computed_commands_see_the_vars_above_them_quoted() {
        let above = vec![(Arc::from("db"), Value::from("my file.db")), (Arc::from("n"), Value::from(3))];
        assert_eq!(render_command("wc -l {{ db }} {{ n }}", &above).unwrap().as_deref(), Some("wc -l 'my file.db' 3"));
        assert_eq!(render_command("echo '{x}'", &[]).unwrap().as_deref(), Some("echo '{x}'"));
        assert!(render_command("echo {{ later }}", &above).unwrap_err().contains("undefined"));
        assert_eq!(
            render_command("echo \"{{ db }}\"", &[(Arc::from("db"), Value::from("$(x)"))]).unwrap().as_deref(),
            Some("echo \"\\$(x)\"")
        );
        assert!(render_command("echo `{{ db }}`", &above).unwrap_err().contains("backticks"));
    }

    #[test]
    fn a_command_that_uses_a_failed_var_is_not_run() {
        let above = vec![(Arc::from("failed"), Value::UNDEFINED), (Arc::from("n"), Value::from(3))];
        assert_eq!(render_command("touch {{ failed }}", &above), Ok(None));
        assert_eq!(render_command("echo {{ n }}", &above).unwrap().as_deref(), Some("echo 3"));
    }
}
