//! The allowlist of places: where in a simple command a value is read once, as plain text.
//!
//! Escaping makes a value one word, but some commands read a word again: bash's builtins read
//! names, numbers and code (`let`, `declare -i`, `printf -v`, `read`, `unset`, `[ -v`), a
//! subscript is arithmetic, `sh -c` runs its script, `>&` expands its target twice. A list of
//! such places would always miss the next one, so this module names the places that are safe
//! and [`Simple::place`] refuses every other one. The lexer feeds a [`Simple`] the words of the
//! command it is reading, one character at a time, and asks it when it meets a value.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::lexer::Dialect;

/// What a whole command template says about its names, read before the values are placed:
/// a value assigned to one of these names would later be read as a number, a name or code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Names {
    /// Shell functions the template defines: a value passed to one is an argument of shell code.
    pub functions: BTreeSet<String>,
    /// Names declared integer, nameref or array (`declare -i n`, `local -n r`).
    pub declared: BTreeSet<String>,
    /// Names read in arithmetic (`$((n + 1))`, `((n))`, `let`, `$[n]`, a subscript, `[[ n -eq 1 ]]`),
    /// as names (`${!n}`, `printf -v "$n"`) or as code (`eval "$n"`, `sh -c "$n"`, `$n args`);
    /// `1`…`9`, `@` and `*` stand for a script's positional parameters.
    pub arithmetic: BTreeSet<String>,
    /// Some command reads its standard input, or a file descriptor, as shell code.
    pub stdin_code: bool,
    /// Every name the template expands (`$x`, `${x…}`).
    pub referenced: BTreeSet<String>,
}

/// Variables bash itself reads as arithmetic or code when they are set.
const SPECIAL_VARIABLES: &[&str] = &[
    "RANDOM",
    "SRANDOM",
    "OPTIND",
    "HISTCMD",
    "SECONDS",
    "LINENO",
    "PS1",
    "PS2",
    "PS3",
    "PS4",
    "PROMPT_COMMAND",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "BASH_XTRACEFD",
];

/// Every builtin of bash and dash: a command of this name is never an outside program.
const BUILTINS: &[&str] = &[
    ".",
    ":",
    "[",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "cd",
    "chdir",
    "command",
    "compgen",
    "complete",
    "compopt",
    "continue",
    "declare",
    "dirs",
    "disown",
    "echo",
    "enable",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "getopts",
    "hash",
    "help",
    "history",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "wait",
];

/// Builtins whose every argument is plain text.
const PLAIN_BUILTINS: &[&str] = &["echo", "cd", "chdir", ":", "true", "false", "pwd", "pushd"];

/// Builtins that declare: `NAME=value` arguments, whose value side is plain text unless an
/// option makes the name an integer, a nameref or an array.
const DECLARING: &[&str] = &["export", "local", "readonly", "declare", "typeset"];

/// Options of the declaring builtins that leave a value plain text.
const PLAIN_DECLARE_OPTIONS: &str = "xrglut";

/// Programs that run their `-c` argument (or their standard input) as shell code.
const SHELLS: &[&str] = &["sh", "bash", "rbash", "dash", "zsh", "ksh", "mksh", "ash", "posh", "yash", "busybox"];

/// Programs that hand their arguments, or some of them, to a shell (`ssh host CMD`, `watch CMD`,
/// `su -c CMD`, `flock F -c CMD`, `script -c CMD`, GNU `parallel`): a value among their
/// arguments may be read as code by a shell batchrun does not see.
const SHELL_RUNNERS: &[&str] = &["ssh", "watch", "su", "runuser", "flock", "script", "parallel", "sshpass"];

/// Programs that run the command their arguments name.
const WRAPPERS: &[&str] =
    &["sudo", "doas", "env", "nice", "nohup", "timeout", "stdbuf", "xargs", "ionice", "chrt", "taskset"];

/// Reserved words after which the next word starts a new command.
const LEADING_KEYWORDS: &[&str] = &["if", "then", "else", "elif", "do", "while", "until", "!", "{", "time", "coproc"];
/// Reserved words that end a compound command.
const CLOSING_KEYWORDS: &[&str] = &["fi", "done", "}", "esac"];

/// How a redirection reads the word after its operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `>`, `>>`, `<`, `>|`, `<>`, `&>`: a file name, expanded once.
    File,
    /// `>&`, `<&`: a descriptor number, or (bash) a file name expanded twice.
    Dup,
    /// `<<<`: bash's here-string.
    HereString,
}

/// Where the simple command being read is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Before the command's name: assignments, or the name itself.
    Prefix,
    /// After the name: its arguments.
    Args,
    /// After `for`/`select`: the loop variable.
    ForName,
    /// After the loop variable: `in` or `do`.
    ForIn(String),
    /// The words of `for NAME in …`.
    ForList(String),
    /// After `case`: the word matched.
    CaseWord,
    /// After the matched word: `in`.
    CaseIn,
    /// After `function`: the function's name.
    FunctionName,
}

/// The command's name, as far as the template fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    None,
    Known(String),
    /// Holds a value or an expansion, or differs between `{% if %}` branches.
    Unknown,
}

/// The word being read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Cur {
    started: bool,
    /// The word's text with its quotes removed, up to its first expansion or value.
    text: String,
    /// The word holds an expansion (`$x`, `$(…)`) or a value: `text` is not all of it.
    opaque: bool,
    /// Some of the word was quoted (a quoted word is never a reserved word or an assignment name).
    quoted: bool,
    /// The word began with `NAME=` (or `NAME+=`), unquoted: an assignment, the value side after.
    assignment: Option<String>,
    /// Inside an unquoted `NAME[…` before its `]`.
    subscript: bool,
    /// The word's text is not the same in every `{% if %}` branch.
    unsure: bool,
    /// The word holds a value.
    value: bool,
}

impl Cur {
    fn is_name(text: &str) -> bool {
        let mut chars = text.chars();
        chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
    }

    /// The word's whole text when the template fixes it.
    fn literal(&self) -> Option<String> {
        (!self.opaque && !self.unsure).then(|| self.text.clone())
    }
}

/// A word after the command's name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Arg {
    /// Its whole text, when the template fixes it.
    literal: Option<String>,
    /// Its text up to its first expansion or value.
    head: String,
    /// It holds a value.
    value: bool,
}

impl Arg {
    /// Whether the word may begin with `-` (an option), as far as the template tells.
    fn may_be_option(&self) -> bool {
        self.head.is_empty() || self.head.starts_with('-')
    }
}

/// The words already read after the command's name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Args {
    Known(Vec<Arg>),
    /// Differs between `{% if %}` branches or loop passes after the words all of them share
    /// (`printf '%s\n' {% for f in fs %}{{ f }} {% endfor %}` keeps `'%s\n'`).
    Unsure(Vec<Arg>),
}

/// One simple command as the lexer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simple {
    stage: Stage,
    name: Name,
    args: Args,
    cur: Cur,
    target: Option<Target>,
    /// Right after the keyword `time`, which takes `-p`.
    after_time: bool,
    /// A value was placed in this command.
    has_value: bool,
    /// A value was placed in an earlier command of this pipeline, whose output this one reads.
    piped: bool,
}

impl Default for Simple {
    fn default() -> Self {
        Simple {
            stage: Stage::Prefix,
            name: Name::None,
            args: Args::Known(Vec::new()),
            cur: Cur::default(),
            target: None,
            after_time: false,
            has_value: false,
            piped: false,
        }
    }
}

/// What ends a simple command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sep {
    /// `|`: the next command reads this one's output.
    Pipe,
    /// `;`, `&`, `&&`, `||`, a newline, a parenthesis.
    List,
}

impl Simple {
    /// An unquoted literal character of the current word.
    pub fn literal(&mut self, c: char) {
        let cur = &mut self.cur;
        if cur.assignment.is_none() && !cur.opaque && !cur.quoted {
            if c == '[' && Cur::is_name(&cur.text) {
                cur.subscript = true;
            } else if c == ']' && cur.subscript {
                cur.subscript = false;
            } else if c == '=' && !cur.subscript {
                let name = cur.text.split('[').next().unwrap_or_default().trim_end_matches('+');
                if Cur::is_name(name) {
                    cur.assignment = Some(name.to_owned());
                }
            }
        }
        cur.started = true;
        if !cur.opaque {
            cur.text.push(c);
        }
    }

    /// A quoted character of the current word (its text, but no more a keyword or a name).
    pub fn quoted(&mut self, c: Option<char>) {
        self.cur.started = true;
        self.cur.quoted = true;
        if let (Some(c), false) = (c, self.cur.opaque) {
            self.cur.text.push(c);
        }
    }

    /// An expansion in the current word: its text is not known.
    pub fn opaque(&mut self) {
        self.cur.started = true;
        self.cur.opaque = true;
    }

    /// Whether a `~` read now starts a tilde-prefix: after the `=` or a `:` of an assignment.
    pub fn tilde_after_assignment(&self) -> bool {
        self.cur.assignment.is_some() && (self.cur.text.ends_with('=') || self.cur.text.ends_with(':'))
    }

    /// Whether the current word just read `NAME=`, so a `(` opens an array assignment.
    pub fn array_opens(&self) -> bool {
        self.cur.assignment.is_some() && self.cur.text.ends_with('=') && !self.cur.opaque
    }

    /// The current word was a redirection's file descriptor (`2>`), not an argument.
    fn word_is_descriptor(&self) -> bool {
        self.cur.started
            && !self.cur.quoted
            && !self.cur.opaque
            && (self.cur.text.chars().all(|c| c.is_ascii_digit())
                || (self.cur.text.starts_with('{') && self.cur.text.ends_with('}')))
    }

    /// Ends the current word.
    pub fn end_word(&mut self) {
        let cur = std::mem::take(&mut self.cur);
        if !cur.started {
            return;
        }
        let after_time = std::mem::take(&mut self.after_time);
        if self.target.take().is_some() {
            return;
        }
        let keyword = (!cur.quoted && !cur.opaque && !cur.unsure).then_some(cur.text.as_str());
        match std::mem::replace(&mut self.stage, Stage::Args) {
            Stage::Prefix => {
                if cur.assignment.is_some() {
                    self.stage = Stage::Prefix;
                    return;
                }
                match keyword {
                    Some(k) if LEADING_KEYWORDS.contains(&k) || CLOSING_KEYWORDS.contains(&k) => {
                        *self = Simple { after_time: k == "time", piped: self.piped, ..Simple::default() }
                    }
                    // `time -p`, `time --`: options of the keyword, not a command.
                    Some("-p" | "--") if after_time => self.stage = Stage::Prefix,
                    Some("for" | "select") => self.stage = Stage::ForName,
                    Some("case") => self.stage = Stage::CaseWord,
                    Some("function") => self.stage = Stage::FunctionName,
                    _ => {
                        self.name = cur.literal().map_or(Name::Unknown, Name::Known);
                        self.args = Args::Known(Vec::new());
                    }
                }
            }
            Stage::Args => {
                if let Args::Known(args) = &mut self.args {
                    args.push(Arg { literal: cur.literal(), head: cur.text, value: cur.value });
                }
            }
            Stage::ForName => self.stage = Stage::ForIn(cur.text),
            Stage::ForIn(name) => {
                self.stage = match keyword {
                    Some("in") => Stage::ForList(name),
                    _ => Stage::Prefix,
                }
            }
            Stage::ForList(name) => self.stage = Stage::ForList(name),
            Stage::CaseWord => self.stage = Stage::CaseIn,
            Stage::CaseIn | Stage::FunctionName => *self = Simple { piped: self.piped, ..Simple::default() },
        }
    }

    /// A redirection operator: the next word is its target. A word of digits right before it
    /// (`2>`) was the descriptor redirected, not an argument.
    pub fn redirect(&mut self, target: Target) {
        if self.word_is_descriptor() {
            self.cur = Cur::default();
        } else {
            self.end_word();
        }
        self.target = Some(target);
    }

    /// `<(` or `>(`: not a redirection but a process substitution, a word of its own.
    pub fn process_substitution(&mut self) {
        self.target = None;
        self.opaque();
    }

    /// `<<`: the next word is a here-document's delimiter, read apart, and the word after it
    /// is the command's own again (`printf <<EOF FORMAT`), not a redirection's target.
    pub fn delimiter_follows(&mut self) {
        self.end_word();
        self.target = None;
    }

    /// A redirection operator turned out to be another one (`>` then `&`).
    pub fn retarget(&mut self, target: Target) {
        if self.target.is_some() {
            self.target = Some(target);
        }
    }

    /// A separator: the next word starts a new command. Refuses what only the whole command
    /// shows (a `test` operand read as an option, a shell reading a value from its pipe);
    /// `Ok(true)` when the command reads its standard input as shell code.
    pub fn separate(&mut self, sep: Sep) -> Result<bool, String> {
        self.end_word();
        let code = self.stdin_is_code();
        if code && self.piped {
            return Err(PIPED.into());
        }
        self.check_test()?;
        let piped = self.piped || self.has_value;
        // `for x in a b; do`: the `;` ends the list, and `do` is read as a keyword next.
        *self = Simple { piped: sep == Sep::Pipe && piped, ..Simple::default() };
        Ok(code)
    }

    /// Whether the command reads its standard input as shell code: a shell with no `-c` and
    /// no script file (`| sh`, `bash <<EOF`, `sudo sh -s`), `.`/`source`, or a command the
    /// template does not name.
    pub fn stdin_is_code(&self) -> bool {
        let name = match &self.name {
            Name::None => return false,
            Name::Unknown => return true,
            Name::Known(name) => name.as_str(),
        };
        if matches!(name, "." | "source") {
            return true;
        }
        let args = match &self.args {
            Args::Known(args) => args,
            Args::Unsure(shared) => {
                return is_shell(name) || shared.iter().any(|a| a.literal.as_deref().is_some_and(is_shell));
            }
        };
        let words: Vec<Option<&str>> =
            std::iter::once(Some(name)).chain(args.iter().map(|a| a.literal.as_deref())).collect();
        // `xargs sh -c …` runs a shell on what it reads.
        let xargs = words.iter().any(|w| w.is_some_and(|w| base(w) == "xargs"));
        if xargs && shell_position(name, args).is_some() {
            return true;
        }
        let Some(start) = shell_position(name, args) else { return false };
        let mut reads_stdin = true;
        let mut rest = words[start + 1..].iter();
        while let Some(word) = rest.next() {
            match word {
                None => return true,
                Some(w) if w.starts_with('-') && !w.starts_with("--") => {
                    if w.contains('c') {
                        return false;
                    }
                    if w.contains('s') {
                        return true;
                    }
                    if w.ends_with(['o', 'O']) {
                        rest.next();
                    }
                }
                Some(w) if w.starts_with('+') || w.starts_with("--") => {}
                // A script file: its own stdin is data, unless `-s` came first.
                Some(_) => {
                    reads_stdin = false;
                    break;
                }
            }
        }
        reads_stdin
    }

    /// In `test`/`[`, a value read as an operator (`-v`) makes bash read the next operand as
    /// a variable name, so a value may not stand right before an operand the template does not
    /// fix, unless an operator written in the template says how it is read.
    fn check_test(&self) -> Result<(), String> {
        let (Name::Known(name), Args::Known(args)) = (&self.name, &self.args) else { return Ok(()) };
        if name != "test" && name != "[" {
            return Ok(());
        }
        let written = |i: usize| args.get(i).and_then(|a| a.literal.as_deref());
        for (i, arg) in args.iter().enumerate() {
            if !arg.value {
                continue;
            }
            let prev = i.checked_sub(1).and_then(written);
            let next = args.get(i + 1);
            let fixed_by_prev = prev.is_some_and(|p| TEST_BINARY.contains(&p) || TEST_UNARY.contains(&p));
            let fixed_by_next = written(i + 1).is_some_and(|n| TEST_BINARY.contains(&n));
            let next_unfixed = next.is_some_and(|n| n.literal.is_none());
            if next_unfixed && !fixed_by_prev && !fixed_by_next {
                return Err("a value in `test`/`[` right before an operand the template does not fix: the value could be `-v`, which reads that operand as a variable name; put a written operator between them (`[ \"{{ a }}\" = \"$b\" ]`)".into());
            }
        }
        Ok(())
    }

    fn declaring(&self) -> bool {
        self.stage == Stage::Args && matches!(&self.name, Name::Known(n) if DECLARING.contains(&n.as_str()))
    }

    /// Where branches of a `{% if %}` (or passes of a `{% for %}`) meet: what both agree on.
    pub fn merge(a: &Simple, b: &Simple) -> Simple {
        if a == b {
            return a.clone();
        }
        let cur = if a.cur == b.cur {
            a.cur.clone()
        } else {
            let started = a.cur.started || b.cur.started;
            Cur { started, unsure: true, opaque: true, ..Cur::default() }
        };
        Simple {
            stage: if a.stage == b.stage { a.stage.clone() } else { Stage::Args },
            name: if a.name == b.name && a.stage == b.stage { a.name.clone() } else { Name::Unknown },
            args: if a.args == b.args { a.args.clone() } else { Args::Unsure(shared_prefix(&a.args, &b.args)) },
            cur,
            target: if a.target == b.target { a.target } else { Some(Target::Dup) },
            after_time: a.after_time && b.after_time,
            has_value: a.has_value || b.has_value,
            piped: a.piped || b.piped,
        }
    }

    /// Whether a value may be placed in the current word, read as plain text once; otherwise
    /// what to write instead. `Ok(true)` when the value begins a program's argument before any
    /// `--`, where a value starting with `-` reads as an option. Marks the word as holding a
    /// value.
    pub fn place(&mut self, dialect: Dialect, names: &Names) -> Result<bool, String> {
        let verdict = self.verdict(dialect, names).map(|()| self.begins_an_option());
        self.cur.started = true;
        self.cur.opaque = true;
        self.cur.value = true;
        self.has_value = true;
        verdict
    }

    /// Whether a value placed now begins an argument of a program (not a builtin, function or
    /// shell's positional) with no `--` before it.
    fn begins_an_option(&self) -> bool {
        let (Stage::Args, Name::Known(name), Args::Known(args), None) =
            (&self.stage, &self.name, &self.args, self.target)
        else {
            return false;
        };
        let words = || std::iter::once(name.as_str()).chain(args.iter().filter_map(|a| a.literal.as_deref()));
        self.cur.text.is_empty()
            && !self.cur.opaque
            && !BUILTINS.contains(&name.as_str())
            && !words().any(|w| w == "--" || is_shell(w))
    }

    /// Whether a substitution's output, holding a value, is read as plain text in the current
    /// word; the command then holds a value too (for a pipe into a shell).
    pub fn check(&mut self, dialect: Dialect, names: &Names) -> Result<(), String> {
        self.has_value = true;
        self.verdict(dialect, names)
    }

    fn verdict(&self, dialect: Dialect, names: &Names) -> Result<(), String> {
        if let Some(target) = self.target {
            return match (target, dialect) {
                (Target::HereString, _) if self.stdin_is_code() || self.name == Name::None => Err(
                    "a value in a here-string that a shell (or a command the template does not name yet) reads as code: pass it as an argument, or through `env:`".into(),
                ),
                (Target::File, _) | (Target::HereString, Dialect::Bash) => Ok(()),
                (Target::Dup, _) => Err(DUP.into()),
                (Target::HereString, Dialect::Posix) => Err(
                    "a value in a here-string (`<<<`), which dash does not have: use `shell: bash`, or `printf '%s\\n' {{ x }} | …`"
                        .into(),
                ),
            };
        }
        if self.cur.subscript && (self.stage == Stage::Prefix || self.declaring()) {
            return Err(SUBSCRIPT.into());
        }
        match &self.stage {
            Stage::Prefix => match &self.cur.assignment {
                Some(name) => assignable(name, names),
                None => Err(NAME.into()),
            },
            Stage::Args => self.argument(names),
            Stage::ForName | Stage::ForIn(_) | Stage::FunctionName | Stage::CaseIn => {
                Err("a value as a name the shell defines (a loop variable, a function): write the name in the template"
                    .into())
            }
            Stage::ForList(name) => assignable(name, names),
            Stage::CaseWord => Ok(()),
        }
    }

    fn argument(&self, names: &Names) -> Result<(), String> {
        let name = match &self.name {
            Name::Known(name) => name.as_str(),
            Name::None | Name::Unknown => return Err(UNKNOWN_COMMAND.into()),
        };
        if names.functions.contains(name) || (names.functions.contains(NOT_FOUND) && !BUILTINS.contains(&name)) {
            return Err(format!(
                "a value as an argument of `{name}`, a shell function of this command: its body is shell code that may read the value as a name, a number or code; pass the value through `env:` instead"
            ));
        }
        if matches!(name, "exec" | "command" | "builtin")
            && let Args::Known(args) = &self.args
        {
            // They run the command their arguments name: judge the value by that command.
            let options = args.iter().take_while(|a| a.literal.as_deref().is_some_and(|w| w.starts_with('-')));
            // `command -v NAME` only prints where NAME is found.
            if name == "command" && options.clone().any(|a| matches!(a.literal.as_deref(), Some("-v" | "-V"))) {
                return Ok(());
            }
            let mut rest = args.iter().enumerate().skip(options.count());
            return match rest.next() {
                Some((i, Arg { literal: Some(inner), .. })) => Simple {
                    name: Name::Known(inner.clone()),
                    args: Args::Known(args[i + 1..].to_vec()),
                    ..self.clone()
                }
                .argument(names),
                Some(_) => Err(UNKNOWN_COMMAND.into()),
                None => Err(NAME.into()),
            };
        }
        if !BUILTINS.contains(&name) {
            return self.program_argument(name, names);
        }
        if PLAIN_BUILTINS.contains(&name) {
            return Ok(());
        }
        let args = match &self.args {
            Args::Known(args) => args,
            // The format came before the words that differ.
            Args::Unsure(shared) if name == "printf" && printf_argument(shared).is_ok() => return Ok(()),
            Args::Unsure(_) => {
                return Err(format!(
                    "a value among arguments of `{name}` that differ between `{{% if %}}` branches or loop passes: batchrun cannot tell how `{name}` reads it; write the arguments before it in every branch alike"
                ));
            }
        };
        match name {
            "printf" => printf_argument(args),
            "test" | "[" => match args.last().map(|a| &a.literal) {
                Some(None) => Err(
                    "a value right after another value in `test`/`[`: the first could be an operator such as `-v`, which reads the next as a variable name; compare with a written operator (`[ \"{{ a }}\" = \"{{ b }}\" ]`)"
                        .into(),
                ),
                Some(Some(op)) if op == "-v" || op == "-R" => Err(format!(
                    "a value after `{op}` in `test`/`[`: it is read as a variable name, and bash evaluates a subscript in it as code; test the value itself (`[ -n \"{{{{ x }}}}\" ]`)"
                )),
                _ => Ok(()),
            },
            n if DECLARING.contains(&n) => {
                if args.iter().any(|a| a.literal.is_none()) {
                    return Err(format!(
                        "a value among arguments of `{name}` some of which the template does not fix (a `$var` or another value could be `-i` or `-n`): write `{name}`'s options and names in the template"
                    ));
                }
                let written = args.iter().filter_map(|a| a.literal.as_ref());
                for option in written.filter(|a| a.starts_with('-') || a.starts_with('+')) {
                    if option == "--" {
                        continue;
                    }
                    // `+i` takes a flag away: only `-` can make the value more than text.
                    let plain = if option.starts_with('+') { "xrglutinaA" } else { PLAIN_DECLARE_OPTIONS };
                    if let Some(flag) = option[1..].chars().find(|c| !plain.contains(*c)) {
                        return Err(format!(
                            "a value in `{name} {option}`: `-{flag}` makes bash read the value as a number, a name or an array; assign it plainly (`{name} NAME=\"{{{{ x }}}}\"`) and convert it in a program"
                        ));
                    }
                }
                match &self.cur.assignment {
                    Some(variable) => assignable(variable, names),
                    None => Err(format!(
                        "a value as a name `{name}` declares: bash reads it as a name (and a subscript in it as code); write `NAME=\"{{{{ x }}}}\"` with the name in the template"
                    )),
                }
            }
            _ => Err(format!(
                "a value as an argument of `{name}`, a shell builtin that reads its arguments as names, numbers or code, not as plain text; pass the value to a program, or through `env:` as `\"$NAME\"`"
            )),
        }
    }

    /// A program's argument is plain text, except where a shell among the command's words
    /// (`sudo sh -c …`) reads its options or its script.
    fn program_argument(&self, name: &str, names: &Names) -> Result<(), String> {
        let args = match &self.args {
            Args::Known(args) => args,
            Args::Unsure(shared) => {
                let shell = is_shell(name) || shared.iter().any(|a| a.literal.as_deref().is_some_and(is_shell));
                let runner = [name]
                    .into_iter()
                    .chain(shared.iter().filter_map(|a| a.literal.as_deref()))
                    .any(|w| SHELL_RUNNERS.contains(&base(w)));
                return if shell || runner { Err(SHELL_SCRIPT.into()) } else { Ok(()) };
            }
        };
        let words = || std::iter::once(name).chain(args.iter().filter_map(|a| a.literal.as_deref()));
        // A runner is the command, or the command a wrapper runs (`sudo su -c …`); elsewhere its
        // name is likelier an ordinary word (`git commit -m script`).
        let wrapped = WRAPPERS.contains(&base(name));
        let runs = |w: &&str| SHELL_RUNNERS.contains(&base(w));
        if let Some(runner) = if wrapped { words().find(runs) } else { Some(name).filter(runs) } {
            return Err(format!(
                "a value among the arguments of `{runner}`, which hands its command to a shell that reads it as code; pass the value through `env:` (or a file) and let the inner command read it"
            ));
        }
        if words().any(|w| base(w) == "env") && words().any(|w| w.starts_with("-S") || w.starts_with("--split-string"))
        {
            return Err("a value after `env -S`, which splits its text into a command: give the command's words to `env` one by one".into());
        }
        if base(name) == "env" {
            self.env_argument(args, names)?;
        }
        let script = match shell_position(name, args) {
            Some(start) => shell_argument(&args[start..]),
            None => return Ok(()),
        };
        // A positional argument of a script: plain text unless the script reads it as code.
        if script.is_ok() && POSITIONAL.iter().any(|p| names.arithmetic.contains(*p)) {
            return Err("a value passed to a script that reads its arguments as code or numbers (`eval \"$1\"`, `$(( $1 ))` in the template): pass it where the script reads it as text only".into());
        }
        script
    }

    /// `env`'s own words before the command it runs: `NAME=value` sets a variable (held to the
    /// same rules as an assignment), and a value where an option may stand could be `-S`.
    fn env_argument(&self, args: &[Arg], names: &Names) -> Result<(), String> {
        let own = args
            .iter()
            .all(|a| a.literal.as_deref().is_some_and(|w| w.contains('=') || (w.starts_with('-') && w != "--")));
        if !own {
            return Ok(());
        }
        if self.cur.text.starts_with("BASH_FUNC_") {
            return Err("a value in a `BASH_FUNC_…` variable, which bash imports as a function: pass it in a variable of your own".into());
        }
        match &self.cur.assignment {
            Some(variable) => assignable(variable, names),
            None if self.cur.text.is_empty() => {
                Err("a value where `env` reads its options (`-S` runs a command line): write `env -- {{ x }}`".into())
            }
            None => Ok(()),
        }
    }
}

/// A value after a shell's `words` so far: plain text once its script (or script file) came.
fn shell_argument(words: &[Arg]) -> Result<(), String> {
    let mut words = words.iter();
    let mut stdin_script = false;
    while let Some(word) = words.next() {
        match word.literal.as_deref() {
            // `sh -s -- ARGS`: the script comes from standard input, the rest are its arguments.
            Some("--") if stdin_script => return Ok(()),
            Some(w) if w.starts_with('-') && !w.starts_with("--") && w.contains('s') && !w.contains('c') => {
                stdin_script = true;
            }
            // An earlier value among the shell's options could have been `-c`.
            None if word.may_be_option() => return Err(SHELL_SCRIPT.into()),
            // Options that take the next word: `-o errexit`, `-euo pipefail`, `-O extglob`,
            // `--rcfile FILE`.
            Some(w)
                if (w.starts_with('-') || w.starts_with('+')) && !w.starts_with("--") && w.ends_with(['o', 'O']) =>
            {
                words.next();
            }
            Some("--rcfile" | "--init-file") => {
                words.next();
            }
            Some(w) if w.len() > 1 && (w.starts_with('-') || w.starts_with('+')) => {}
            // The script (or its file) came earlier: this is an argument of it.
            _ => return Ok(()),
        }
    }
    // The value is among the shell's options, or is its script or script file.
    Err(SHELL_SCRIPT.into())
}

/// Where a shell's own words start in `args`, when the command runs one: the command itself
/// (`sh …`, `0`), the command a wrapper runs (`sudo -u x sh …`, `env A=1 bash …`), or a shell
/// word followed by `-c` or `-s` (`docker exec box sh -c …`). A shell's name elsewhere is an
/// ordinary argument (`grep -c bash f`, `usermod -s /bin/bash u`).
fn shell_position(name: &str, args: &[Arg]) -> Option<usize> {
    if is_shell(name) {
        return Some(0);
    }
    let word = |i: usize| args.get(i).and_then(|a| a.literal.as_deref());
    if WRAPPERS.contains(&base(name)) || matches!(name, "exec" | "command" | "builtin") {
        let mut wrapper = base(name).to_owned();
        let mut i = 0;
        while let Some(w) = word(i) {
            if w.starts_with('-') || w.contains('=') {
                // Options that take a value: `sudo -u USER`, `nice -n N`.
                if matches!(w, "-u" | "-g" | "-n" | "-s" | "-k" | "-p" | "-c" | "-t") && wrapper != "env" {
                    i += 1;
                }
            } else if wrapper == "timeout" && w.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                // `timeout 10 sh …`: the duration.
            } else if is_shell(w) {
                return Some(i + 1);
            } else if WRAPPERS.contains(&base(w)) {
                wrapper = base(w).to_owned();
            } else {
                return None;
            }
            i += 1;
        }
        return None;
    }
    (0..args.len()).find_map(|i| {
        let shell = word(i).is_some_and(is_shell);
        let runs = word(i + 1)
            .is_some_and(|w| w.starts_with('-') && !w.starts_with("--") && (w.contains('c') || w.contains('s')));
        (shell && runs).then_some(i + 1)
    })
}

/// A program's name without its folder.
fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

fn is_shell(word: &str) -> bool {
    SHELLS.contains(&base(word))
}

/// bash's hook for a command it cannot find: when a template defines it, every program's
/// arguments may reach shell code.
const NOT_FOUND: &str = "command_not_found_handle";

/// Whether a command with these words so far reads a here-document as a shell script; a
/// here-document before the command's name (`<<EOF sh`, `{ sh; } <<EOF`) counts as one.
pub fn reads_stdin_as_code(simple: &Simple) -> bool {
    simple.name == Name::None || simple.stdin_is_code()
}

const TEST_BINARY: &[&str] =
    &["=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef"];
const TEST_UNARY: &[&str] = &[
    "-b", "-c", "-d", "-e", "-f", "-g", "-h", "-k", "-n", "-p", "-r", "-s", "-t", "-u", "-w", "-x", "-z", "-G", "-L",
    "-N", "-O", "-S",
];

impl Names {
    /// Whether the shell reads the variable `name` as a number, a name or code in this
    /// template, so that a value from outside must not reach it (through `env:` either).
    pub fn reads_again(&self, name: &str) -> bool {
        SPECIAL_VARIABLES.contains(&name) || self.declared.contains(name) || self.arithmetic.contains(name)
    }

    /// Whether a value in the environment variable `name` could reach code: the template reads
    /// it again, runs a shell on its input (which may read any variable), or hands it to a
    /// script or function that reads its arguments as code.
    pub fn env_reaches_code(&self, name: &str) -> bool {
        let passed_on = self.referenced.contains(name) && POSITIONAL.iter().any(|p| self.arithmetic.contains(*p));
        self.reads_again(name) || self.stdin_code || passed_on
    }
}

fn assignable(name: &str, names: &Names) -> Result<(), String> {
    if SPECIAL_VARIABLES.contains(&name) {
        return Err(format!(
            "a value assigned to `{name}`, which the shell itself reads as a number or as code; use a name of your own"
        ));
    }
    if names.declared.contains(name) {
        return Err(format!(
            "a value assigned to `{name}`, which this command declares an integer, a nameref or an array: bash would evaluate the value as an expression or a name; drop the `-i`/`-n`, or pass the value to a program"
        ));
    }
    if names.arithmetic.contains(name) {
        return Err(format!(
            "a value assigned to `{name}`, which this command reads as a number, a name or code (in arithmetic, `${{!…}}`, `printf -v`, `eval`, `sh -c`, as a command, or passed on to such a place): bash would evaluate the value there, so it would run as code; compute a number in the template (`{{{{ n + 1 }}}}`), or use the variable only as text"
        ));
    }
    Ok(())
}

/// The words two argument lists share from their start.
fn shared_prefix(a: &Args, b: &Args) -> Vec<Arg> {
    let words = |args: &Args| match args {
        Args::Known(w) | Args::Unsure(w) => w.clone(),
    };
    let (a, b) = (words(a), words(b));
    a.into_iter().zip(b).take_while(|(x, y)| x == y).map(|(x, _)| x).collect()
}

fn printf_argument(args: &[Arg]) -> Result<(), String> {
    let mut words = args.iter().map(|a| a.literal.as_deref());
    while let Some(word) = words.next() {
        match word {
            None => break,
            Some("--") => return if words.next().is_some_and(|w| w.is_some()) { Ok(()) } else { Err(PRINTF.into()) },
            Some("-v") => {
                words.next();
            }
            Some(w) if w.starts_with('-') && w.len() > 1 => {}
            // The format: what follows it is plain text.
            Some(_) => return Ok(()),
        }
    }
    Err(PRINTF.into())
}

const PRINTF: &str = "a value as `printf`'s format or options: printf reads `%` directives in it, and `-v` makes bash assign to a name it reads as code; write the format in the template (`printf '%s\\n' {{ x }}`)";
const DUP: &str = "a value after `>&` or `<&`: bash expands that word a second time, so it would run as code; write the file after `>` (`> {{ x }} 2>&1`)";
const SUBSCRIPT: &str = "a value inside an array subscript (`a[…]`): bash evaluates a subscript as arithmetic, running any `$(…)` in it; use a subscript written in the template, or pass the value to a program";
const NAME: &str = "a value as the name of the command to run: the shell would look it up as a builtin or a function too; write the command in the template, or run a program the value names with `env -- {{ x }}`";
const UNKNOWN_COMMAND: &str = "a value as an argument of a command the template does not name (its name comes from a value, an expansion or differs between branches): batchrun cannot tell whether the shell reads it as code; write the command's name in the template";
const PIPED: &str = "a value earlier in this pipeline reaches a shell that reads its standard input as code (`… | sh`, `| source /dev/stdin`): give that script the value through `env:` (`\"$NAME\"`)";
const SHELL_SCRIPT: &str = "a value in a shell's options, its `-c` script or the name of its script file: that shell reads it as code; pass it as an argument after the script instead (`sh -c 'echo \"$1\"' sh {{ x }}`)";

impl Names {
    /// Reads the names a command template defines, declares and reads in arithmetic. It reads
    /// the template's whole text, quotes and Jinja tags included, so it may find more names than
    /// the shell would: a name found here only makes batchrun refuse more.
    pub fn scan(source: &str) -> Arc<Names> {
        // A backslash-newline is gone before the shell reads words; a `{{ … }}` is one word
        // (a value) and a `{% … %}` none.
        let source = without_tags(&source.replace("\\\n", ""));
        let mut names = Names::default();
        let mut assignments = Vec::new();
        let mut writers = Vec::new();
        for segment in shell_words(&source) {
            scan_segment(&segment, &mut names, &mut assignments, &mut writers);
        }
        scan_arithmetic(&source, &mut names);
        let mut calls = Vec::new();
        scan_code(&source, &mut names, &mut assignments, &mut calls, 0);
        // A function's arguments are its positional parameters.
        for (function, argument) in &calls {
            if names.functions.contains(function) {
                for p in POSITIONAL {
                    assignments.push(((*p).to_owned(), argument.clone()));
                }
            }
        }
        references(&source, &mut names.referenced);
        // A value assigned to a name read again reaches that place too: `y=$x; $((y))`,
        // `y=x; $((y))` (arithmetic reads a name's value as an expression), `declare -i y=$x`.
        loop {
            let before = names.arithmetic.len();
            for (name, value) in &assignments {
                let read_again = names.arithmetic.contains(name) || names.declared.contains(name);
                if read_again || SPECIAL_VARIABLES.contains(&name.as_str()) {
                    identifiers(value, &mut names.arithmetic);
                }
            }
            if names.arithmetic.len() == before {
                break;
            }
        }
        // `read x`, `mapfile a`, `printf -v x`, `getopts o x` write what they read: where such
        // a name is read again, a value could reach it by a route batchrun cannot follow.
        if writers.iter().any(|w: &String| names.reads_again(w)) {
            names.stdin_code = true;
        }
        // `$_` is the last argument of the command before: any value.
        if names.arithmetic.contains("_") {
            names.stdin_code = true;
        }
        Arc::new(names)
    }
}

/// The template split into simple commands of words, quotes dropped (a rough cut, see `scan`).
fn shell_words(source: &str) -> Vec<Vec<String>> {
    let mut segments = vec![Vec::new()];
    let mut word = String::new();
    let mut chars = source.chars().peekable();
    let end_word = |word: &mut String, segments: &mut Vec<Vec<String>>| {
        if let (false, Some(last)) = (word.is_empty(), segments.last_mut()) {
            last.push(std::mem::take(word));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ';' | '&' | '|' | '\n' | '(' | ')' | '{' | '}' | '`' => {
                end_word(&mut word, &mut segments);
                let mut ahead = chars.clone();
                let closes = c == '(' && ahead.find(|c| !matches!(c, ' ' | '\t')) == Some(')');
                if closes {
                    // `f()` or `f ( )`: the word before was a function's name.
                    if let Some(name) = segments.last_mut().and_then(|s| s.pop()) {
                        segments.push(vec!["function".into(), name]);
                    }
                }
                segments.push(Vec::new());
            }
            ' ' | '\t' => end_word(&mut word, &mut segments),
            '\'' | '"' | '\\' => {}
            '$' if chars.peek() == Some(&'(') => {
                end_word(&mut word, &mut segments);
                segments.push(Vec::new());
            }
            c => word.push(c),
        }
    }
    end_word(&mut word, &mut segments);
    segments
}

/// Words that come before a command without being one.
const BEFORE_A_COMMAND: &[&str] = &[
    "if", "then", "elif", "else", "while", "until", "do", "!", "{", "time", "-p", "coproc", "command", "builtin",
    "exec",
];

/// Builtins that read names: a `$x` among their arguments reads `x`'s value as a name.
const NAME_READERS: &[&str] = &[
    "read",
    "unset",
    "mapfile",
    "readarray",
    "getopts",
    "printf",
    "export",
    "local",
    "readonly",
    "declare",
    "typeset",
    "test",
    "[",
];

/// The source with each `{{ … }}` replaced by a placeholder word and each `{% … %}` by a space.
fn without_tags(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(at) = rest.find(['{']) {
        let (before, tag) = rest.split_at(at);
        out.push_str(before);
        let close = match tag.get(..2).unwrap_or_default() {
            "{{" => Some(("}}", "__value__")),
            "{%" => Some(("%}", " ")),
            "{#" => Some(("#}", " ")),
            _ => None,
        };
        match close.and_then(|(end, with)| tag.find(end).map(|e| (e + end.len(), with))) {
            Some((end, with)) => {
                out.push_str(with);
                rest = &tag[end..];
            }
            None => {
                out.push('{');
                rest = &tag[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where a shell reads code from its standard input or a descriptor, and names whose values
/// are read as code: the script of `sh -c "$x"`, the arguments of `eval`, `trap`, `source`,
/// `fc`, `compgen`, `complete`, `alias`, a command named by `$x`, `${x@P}`; and the ways a
/// value moves on to another name (`for v in "$x"`, `set -- "$x"`, a function's arguments).
fn scan_code(
    source: &str,
    names: &mut Names,
    assignments: &mut Vec<(String, String)>,
    calls: &mut Vec<(String, String)>,
    depth: u32,
) {
    if depth > 8 {
        names.stdin_code = true;
        return;
    }
    for (segment, inner) in code_segments(source) {
        for script in inner {
            scan_code(&script, names, assignments, calls, depth + 1);
        }
        let mut at = 0;
        while let Some(word) = segment.get(at).filter(|w| BEFORE_A_COMMAND.contains(&w.as_str()) || is_assignment(w)) {
            if let Some((name, value)) = word.split_once('=').filter(|_| is_assignment(word)) {
                let name = name.split('[').next().unwrap_or_default().trim_end_matches('+');
                assignments.push((name.to_owned(), value.to_owned()));
            }
            at += 1;
        }
        let Some(first) = segment.get(at) else { continue };
        let rest = &segment[at + 1..];
        if first.starts_with('$') {
            references(first, &mut names.arithmetic);
        }
        let positional = |value: &str, assignments: &mut Vec<(String, String)>| {
            for p in POSITIONAL {
                assignments.push(((*p).to_owned(), value.to_owned()));
            }
        };
        match base(first) {
            "eval" | "trap" | "fc" | "history" | "compgen" | "complete" | "alias" => {
                for word in rest {
                    references(word, &mut names.arithmetic);
                    // The argument is a script: what it does is read too (`trap 'eval "$N"' EXIT`).
                    let script = word.replace(QUOTED_DOLLAR, "$");
                    references(&script, &mut names.arithmetic);
                    scan_code(&script, names, assignments, calls, depth + 1);
                }
            }
            "source" | "." => {
                for word in rest {
                    references(word, &mut names.arithmetic);
                }
                if rest.first().is_none_or(|w| w.starts_with("/dev/") || w.starts_with("/proc/") || w.starts_with('<'))
                {
                    names.stdin_code = true;
                }
            }
            "for" | "select" => {
                if let Some(variable) = rest.first() {
                    match rest.get(1).map(String::as_str) {
                        Some("in") => {
                            for word in rest[2..].iter().take_while(|w| w.as_str() != "do") {
                                assignments.push((variable.clone(), word.clone()));
                            }
                        }
                        _ => assignments.push((variable.clone(), "$@".into())),
                    }
                }
            }
            "set" => {
                for word in rest.iter().filter(|w| !w.starts_with('-') && !w.starts_with('+')) {
                    positional(word, assignments);
                }
            }
            _ => {
                for word in rest {
                    calls.push((first.clone(), word.clone()));
                }
            }
        }
        let args: Vec<Arg> =
            rest.iter().map(|w| Arg { literal: Some(w.clone()), head: w.clone(), value: false }).collect();
        if let Some(start) = shell_position(first, &args) {
            names.stdin_code |= shell_reads_stdin(&rest[start..], names, assignments, calls, depth);
        }
    }
    // `eval "$(cat)"`: code from a substitution's output.
    let mut rest = source;
    while let Some(at) = rest.find("eval") {
        let after = rest[at + 4..].trim_start_matches([' ', '\t', '"', '\'']);
        if after.starts_with("$(") || after.starts_with('`') {
            names.stdin_code = true;
        }
        rest = &rest[at + 4..];
    }
    let mut rest = source;
    while let Some(at) = rest.find("@P}") {
        let name: String = rest[..at].chars().rev().take_while(|c| *c == '_' || c.is_ascii_alphanumeric()).collect();
        names.arithmetic.insert(name.chars().rev().collect());
        rest = &rest[at + 3..];
    }
}

/// A `$` that stood inside single quotes (see [`code_segments`]).
const QUOTED_DOLLAR: char = '\u{E000}';

/// A script's positional parameters, as [`references`] names them.
const POSITIONAL: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "@", "*", "#", "BASH_ARGV"];

fn is_assignment(word: &str) -> bool {
    word.split_once('=')
        .is_some_and(|(name, _)| Cur::is_name(name.split('[').next().unwrap_or_default().trim_end_matches('+')))
}

/// The template split into simple commands of words as the shell forms them: quotes removed
/// but their text kept in its word, `${…}` and `$(…)` kept whole; with each command the
/// scripts of its substitutions (`$(…)`, `` `…` ``, `<(…)`), to be read in turn.
fn code_segments(source: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut segments: Vec<(Vec<String>, Vec<String>)> = vec![(Vec::new(), Vec::new())];
    let mut word = String::new();
    let mut started = false;
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    let end_word = |word: &mut String, started: &mut bool, segments: &mut Vec<(Vec<String>, Vec<String>)>| {
        if *started && let Some(last) = segments.last_mut() {
            last.0.push(std::mem::take(word));
        }
        word.clear();
        *started = false;
    };
    // The text up to the `close` that balances the `open` just read.
    let balanced = |i: &mut usize, open: char, close: char| -> String {
        let mut depth = 1;
        let mut text = String::new();
        while let Some(&c) = chars.get(*i) {
            *i += 1;
            if c == open {
                depth += 1;
            } else if c == close {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            text.push(c);
        }
        text
    };
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '\\' => {
                if let Some(&next) = chars.get(i) {
                    word.push(next);
                    started = true;
                    i += 1;
                }
            }
            '\'' => {
                started = true;
                while let Some(&c) = chars.get(i) {
                    i += 1;
                    if c == '\'' {
                        break;
                    }
                    // A `$` in single quotes expands nothing here, only in a script it is
                    // handed to: kept apart, so that it is not taken for this shell's.
                    word.push(if c == '$' { QUOTED_DOLLAR } else { c });
                }
            }
            '"' => {
                started = true;
                while let Some(&c) = chars.get(i) {
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(&next) = chars.get(i) {
                                word.push(next);
                                i += 1;
                            }
                        }
                        '$' if chars.get(i) == Some(&'(') => {
                            i += 1;
                            let script = balanced(&mut i, '(', ')');
                            word.push_str(&format!("$({script})"));
                            if let Some(last) = segments.last_mut() {
                                last.1.push(script);
                            }
                        }
                        '`' => {
                            let script: String = chars[i..].iter().take_while(|c| **c != '`').collect();
                            i += script.chars().count() + 1;
                            word.push_str(&format!("`{script}`"));
                            if let Some(last) = segments.last_mut() {
                                last.1.push(script);
                            }
                        }
                        c => word.push(c),
                    }
                }
            }
            '$' if chars.get(i) == Some(&'(') => {
                i += 1;
                let script = balanced(&mut i, '(', ')');
                word.push_str(&format!("$({script})"));
                started = true;
                if let Some(last) = segments.last_mut() {
                    last.1.push(script);
                }
            }
            '$' if chars.get(i) == Some(&'{') => {
                i += 1;
                let inner = balanced(&mut i, '{', '}');
                word.push_str(&format!("${{{inner}}}"));
                started = true;
            }
            '`' => {
                let script: String = chars[i..].iter().take_while(|c| **c != '`').collect();
                i += script.chars().count() + 1;
                word.push_str(&format!("`{script}`"));
                started = true;
                if let Some(last) = segments.last_mut() {
                    last.1.push(script);
                }
            }
            '<' | '>' if chars.get(i) == Some(&'(') => {
                i += 1;
                let script = balanced(&mut i, '(', ')');
                word.push_str("/dev/fd/63");
                started = true;
                if let Some(last) = segments.last_mut() {
                    last.1.push(script);
                }
            }
            ' ' | '\t' => end_word(&mut word, &mut started, &mut segments),
            ';' | '&' | '|' | '\n' | '(' | ')' | '{' | '}' => {
                end_word(&mut word, &mut started, &mut segments);
                if !matches!(c, '{' | '}') || chars.get(i).is_none_or(|n| n.is_whitespace() || *n == ';') {
                    segments.push((Vec::new(), Vec::new()));
                } else {
                    word.push(c);
                    started = true;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    end_word(&mut word, &mut started, &mut segments);
    segments
}

/// Whether a shell with these words after it reads its script from standard input or a
/// descriptor; the references in a `-c` script are read as code.
fn shell_reads_stdin(
    words: &[String],
    names: &mut Names,
    assignments: &mut Vec<(String, String)>,
    calls: &mut Vec<(String, String)>,
    depth: u32,
) -> bool {
    let mut words = words.iter().map(String::as_str);
    let mut from_stdin = false;
    while let Some(word) = words.next() {
        match word {
            w if w.starts_with('<') || w.starts_with('>') => {}
            w if (w.starts_with('-') || w.starts_with('+')) && !w.starts_with("--") && w.len() > 1 => {
                if w.contains('c') && w.starts_with('-') {
                    if let Some(script) = words.next() {
                        // What this shell expands in the script is read as code, and the
                        // script itself is read for what it does.
                        references(script, &mut names.arithmetic);
                        let script = script.replace(QUOTED_DOLLAR, "$");
                        scan_code(&script, names, assignments, calls, depth + 1);
                        // Its arguments are its positional parameters.
                        for argument in words.skip(1) {
                            for p in POSITIONAL {
                                assignments.push(((*p).to_owned(), argument.to_owned()));
                            }
                        }
                    }
                    return false;
                }
                from_stdin |= w.contains('s') && w.starts_with('-');
                if w.ends_with(['o', 'O']) {
                    words.next();
                }
            }
            "--rcfile" | "--init-file" => {
                words.next();
            }
            "--" => {}
            w if w.starts_with("--") => {}
            w => return from_stdin || w.starts_with("/dev/") || w.starts_with("/proc/"),
        }
    }
    true
}

fn scan_segment(
    words: &[String],
    names: &mut Names,
    assignments: &mut Vec<(String, String)>,
    writers: &mut Vec<String>,
) {
    let base = |w: &str| w.split(['=', '[']).next().unwrap_or_default().trim_end_matches('+').to_owned();
    let mut words = words.iter().skip_while(|w| BEFORE_A_COMMAND.contains(&w.as_str())).peekable();
    while let Some(word) = words.next_if(|w| w.contains('=') && !w.starts_with('-')) {
        if let Some((name, value)) = word.split_once('=') {
            assignments.push((base(name), value.to_owned()));
        }
    }
    let Some(command) = words.next() else { return };
    let rest: Vec<&String> = words.collect();
    // `+i` takes the flag away.
    let special_flags = rest.iter().any(|w| w.starts_with('-') && w.chars().skip(1).any(|f| "inaA".contains(f)));
    match command.as_str() {
        "function" => {
            if let Some(name) = rest.first() {
                names.functions.insert(name.to_string());
            }
        }
        "alias" => {
            // An alias is a name for shell code, read like a function's.
            for word in &rest {
                names.functions.insert(base(word));
            }
        }
        "let" => {
            for word in &rest {
                identifiers(word, &mut names.arithmetic);
            }
        }
        c => {
            let operands = rest.iter().filter(|w| !w.starts_with('-') && !w.starts_with('<'));
            match c {
                "read" | "mapfile" | "readarray" => writers.extend(operands.map(|w| base(w))),
                "getopts" => writers.extend(operands.skip(1).map(|w| base(w))),
                "printf" => {
                    let target = rest.iter().position(|w| w.as_str() == "-v").and_then(|i| rest.get(i + 1));
                    writers.extend(target.map(|w| base(w)));
                }
                _ => {}
            }
            if DECLARING.contains(&c) || c == "read" || c == "mapfile" || c == "readarray" {
                for word in rest.iter().filter(|w| !w.starts_with('-') && !w.starts_with('+')) {
                    if let Some((name, value)) = word.split_once('=') {
                        assignments.push((base(name), value.to_owned()));
                    }
                    if special_flags {
                        names.declared.insert(base(word));
                        // `declare -n r=$x`, `declare -i y=$x`: the value is read again.
                        identifiers(word.split_once('=').map_or("", |(_, v)| v), &mut names.arithmetic);
                    }
                }
            }
            if NAME_READERS.contains(&c) {
                for (i, word) in rest.iter().enumerate() {
                    let value_side = DECLARING.contains(&c) && !special_flags && word.contains('=');
                    let after_v = i > 0 && matches!(rest[i - 1].as_str(), "-v" | "-R");
                    let reads_names = !matches!(c, "test" | "[" | "printf") || after_v;
                    if reads_names && !value_side {
                        references(word, &mut names.arithmetic);
                    }
                }
            }
        }
    }
}

/// Names inside `((…))`, `$[…]`, `[[ … ]]` with an arithmetic test or `-v`, any `[…]` that
/// follows a name or precedes `=` (a subscript), after a `:` in `${…}` (an offset), and in
/// `${!x}` (an indirection).
fn scan_arithmetic(text: &str, names: &mut Names) {
    let mut regions: Vec<String> = Vec::new();
    let between = |open: &str, close: &str, regions: &mut Vec<String>| {
        let mut rest = text;
        while let Some(at) = rest.find(open) {
            let after = &rest[at + open.len()..];
            let end = after.find(close).unwrap_or(after.len());
            regions.push(after[..end].to_owned());
            rest = &after[end..];
        }
    };
    between("((", "))", &mut regions);
    between("$[", "]", &mut regions);
    let mut tests = Vec::new();
    between("[[", "]]", &mut tests);
    let arithmetic_test = ["-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-v", "-R"];
    regions.extend(tests.into_iter().filter(|t| t.split_whitespace().any(|w| arithmetic_test.contains(&w))));
    let mut rest = text;
    while let Some(at) = rest.find('[') {
        let before = rest[..at].chars().last();
        let after = &rest[at + 1..];
        let end = after.find(']').unwrap_or(after.len());
        let assigned = after[end..].starts_with("]=") || after[end..].starts_with("]+=");
        if assigned || before.is_some_and(|c| c == '$' || c == '_' || c.is_ascii_alphanumeric()) {
            regions.push(after[..end].to_owned());
        }
        rest = after;
    }
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let after = &rest[at + 2..];
        // The `}` that closes this `${`, past any nested one.
        let mut depth = 1;
        let mut end = after.len();
        let mut chars = after.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '$' if chars.peek().is_some_and(|(_, c)| *c == '{') => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let inner = &after[..end];
        if let Some(name) = inner.strip_prefix('!') {
            regions.push(name.to_owned());
        }
        if let Some((_, offset)) = inner.split_once(':')
            && !offset.starts_with(['-', '=', '?', '+'])
        {
            regions.push(offset.to_owned());
        }
        rest = after;
    }
    for region in &regions {
        identifiers(region, &mut names.arithmetic);
    }
}

/// The names a word expands (`$x`, `${x…}`).
fn references(word: &str, into: &mut BTreeSet<String>) {
    let mut rest = word;
    while let Some(at) = rest.find('$') {
        let after = rest[at + 1..].trim_start_matches(['{', '!']);
        let name: String = after.chars().take_while(|c| *c == '_' || c.is_ascii_alphanumeric()).collect();
        if Cur::is_name(&name) {
            into.insert(name);
        } else if let Some(c) = after.chars().next().filter(|c| c.is_ascii_digit() || matches!(c, '@' | '*')) {
            into.insert(c.to_string());
        }
        rest = &rest[at + 1..];
    }
}

fn identifiers(text: &str, into: &mut BTreeSet<String>) {
    // Positional parameters too: `$1`, `$@`.
    references(text, into);
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c == '_' || c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            if Cur::is_name(&word) {
                into.insert(std::mem::take(&mut word));
            }
            word.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Any text, any Unicode in it: the scan and the reader answer, they never panic.
        #[test]
        fn any_template_is_read_without_a_panic(source in "[{}$()`'\"\\;|&<>#!=\\[\\] a-z0-9\n\té中]{0,40}") {
            let _ = Names::scan(&source);
            for dialect in [Dialect::Posix, Dialect::Bash] {
                let _ = super::super::analyze(&source, dialect, &["index"]);
            }
        }
    }

    #[test]
    fn the_scan_finds_functions_declarations_and_arithmetic() {
        let names = Names::scan(
            "f() { echo \"$1\"; }; function g { :; }; declare -i n m=1; local -n r; echo $((a + 1)) ${b[c]} ${s:d} ${e:-x}; let p=q; [[ $t -eq 1 ]]",
        );
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(names.functions, set(&["f", "g"]));
        assert_eq!(names.declared, set(&["m", "n", "r"]));
        for name in ["a", "c", "d", "p", "q", "t"] {
            assert!(names.arithmetic.contains(name), "{name}: {:?}", names.arithmetic);
        }
        assert!(!names.arithmetic.contains("e"), "a default is no offset");
    }
}
