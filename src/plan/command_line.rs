//! How a rendered command runs: directly (argv) or through a shell.
//!
//! `shell: auto` saves a shell process per task when the command is a plain list of words: no
//! shell syntax outside quotes and no builtin or keyword in front. The words are then split the
//! way `sh` would split them (shlex), so behaviour is the same either way.

use crate::config::Shell;

/// What the runner executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// `program -c script`.
    Shell { program: &'static str, script: String },
    /// Executed directly; `argv[0]` is looked up in `PATH`.
    Argv(Vec<String>),
}

impl CommandLine {
    pub fn resolve(rendered: &str, shell: Shell) -> Result<CommandLine, String> {
        if rendered.trim().is_empty() {
            return Err("the command is empty".into());
        }
        let sh = || CommandLine::Shell { program: "/bin/sh", script: rendered.to_owned() };
        match shell {
            Shell::Sh => Ok(sh()),
            Shell::Bash => Ok(CommandLine::Shell { program: "bash", script: rendered.to_owned() }),
            Shell::Auto => Ok(match plain_words(rendered) {
                Some(words) => CommandLine::Argv(words),
                None => sh(),
            }),
            Shell::None => plain_words(rendered).map(CommandLine::Argv).ok_or_else(|| {
                format!("`shell: none` cannot run `{rendered}`: it uses shell syntax; use `shell: sh` or remove it")
            }),
        }
    }
}

/// Builtins and keywords that only a shell can run (or that behave differently outside one).
const SHELL_WORDS: &[&str] = &[
    "!", ".", ":", "[[", "alias", "break", "case", "cd", "command", "continue", "declare", "do", "done", "elif",
    "else", "esac", "eval", "exec", "exit", "export", "fi", "for", "function", "getopts", "hash", "if", "let", "local",
    "read", "readonly", "return", "select", "set", "shift", "source", "then", "time", "times", "trap", "type",
    "typeset", "ulimit", "umask", "unalias", "unset", "until", "wait", "while",
];

/// The command's words, or `None` when it needs a shell to mean what it says.
pub fn plain_words(command: &str) -> Option<Vec<String>> {
    if has_shell_syntax(command) {
        return None;
    }
    let words = shlex::split(command)?;
    let first = words.first()?;
    if SHELL_WORDS.contains(&first.as_str()) {
        return None;
    }
    Some(words)
}

/// Scans like `sh` does, tracking quotes: any operator, expansion, glob, comment, newline or
/// assignment prefix outside single quotes means the shell must run it.
fn has_shell_syntax(command: &str) -> bool {
    #[derive(PartialEq)]
    enum Quote {
        None,
        Single,
        Double,
    }
    let mut quote = Quote::None;
    let mut word_start = true;
    let mut first_word = true;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match quote {
            Quote::Single => {
                if c == '\'' {
                    quote = Quote::None;
                }
                continue;
            }
            Quote::Double => {
                match c {
                    '"' => quote = Quote::None,
                    '$' | '`' => return true,
                    '\\' => {
                        chars.next();
                    }
                    _ => {}
                }
                continue;
            }
            Quote::None => {}
        }
        match c {
            '\'' => quote = Quote::Single,
            '"' => quote = Quote::Double,
            '\\' => {
                if matches!(chars.next(), Some('\n') | None) {
                    return true;
                }
            }
            '|' | '&' | ';' | '<' | '>' | '(' | ')' | '$' | '`' | '*' | '?' | '[' | ']' | '{' | '}' | '\n' => {
                return true;
            }
            '#' | '~' if word_start => return true,
            '=' if first_word => return true,
            ' ' | '\t' => {
                if !word_start {
                    first_word = false;
                }
                word_start = true;
                continue;
            }
            _ => {}
        }
        word_start = false;
    }
    quote != Quote::None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Option<Vec<String>> {
        plain_words(s)
    }

    #[test]
    fn plain_commands_run_directly() {
        assert_eq!(argv("echo a b"), Some(vec!["echo".into(), "a".into(), "b".into()]));
        assert_eq!(argv("./x.sh 'a b' \"c d\""), Some(vec!["./x.sh".into(), "a b".into(), "c d".into()]));
        assert_eq!(argv("curl '; touch PWNED'"), Some(vec!["curl".into(), "; touch PWNED".into()]));
        assert_eq!(argv("tool --opt=1 a#b"), Some(vec!["tool".into(), "--opt=1".into(), "a#b".into()]));
        assert_eq!(argv("echo '$HOME'"), Some(vec!["echo".into(), "$HOME".into()]));
    }

    #[test]
    fn shell_syntax_goes_to_the_shell() {
        for s in [
            "a | b",
            "a > f",
            "a && b",
            "a; b",
            "echo $HOME",
            "echo \"$HOME\"",
            "echo *.txt",
            "echo `id`",
            "cd /tmp",
            "FOO=1 cmd",
            "echo ~/x",
            "echo a # comment",
            "a\nb",
            "if true; then :; fi",
            "export X=1",
            "echo {a,b}",
            "echo 'unterminated",
        ] {
            assert_eq!(argv(s), None, "{s}");
        }
    }

    #[test]
    fn modes() {
        let sh = CommandLine::resolve("echo hi", Shell::Sh).unwrap();
        assert!(matches!(sh, CommandLine::Shell { program: "/bin/sh", .. }));
        assert!(CommandLine::resolve("a | b", Shell::None).is_err());
        assert!(CommandLine::resolve("   ", Shell::Auto).is_err());
        assert_eq!(CommandLine::resolve("true", Shell::Auto).unwrap(), CommandLine::Argv(vec!["true".into()]));
    }
}
