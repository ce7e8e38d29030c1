//! The allowlist of places, hunted for holes: commands generated from a grammar of the places
//! where bash reads a word as a name, a number or code (builtins, arithmetic, subscripts,
//! arrays, redirections, here-documents in and out of `$(…)`, shells' `-c`, functions, tilde
//! prefixes) and of the places that are plain text, filled with hostile values (subscripts
//! holding `$(…)`, here-document ends, leading `-`, newlines, `~`). For every (template,
//! value) pair batchrun either refuses it, or the command it renders (`plan --format json`)
//! runs under bash, `bash --posix` and dash without making the marker, and where the template
//! prints the value, prints it exactly.
//!
//! The seed is fixed so CI is repeatable; `BATCHRUN_PLACES_SEED=N` and
//! `BATCHRUN_PLACES_TEMPLATES=N` explore further, and a failure prints the seed.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

use crate::harness::batchrun;

const VALUES_PER_TEMPLATE: usize = 12;
const DEFAULT_SEED: u64 = 20_261_205;

/// What a statement prints when the value arrives as itself.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shows {
    /// Nothing to check beyond the marker (or the shells print different things).
    Nothing,
    /// The value.
    Value,
    /// The value and a newline.
    Line,
    /// The value with its trailing newlines cut, as `$(…)` does.
    Captured,
}

/// One statement of the grammar: `@` is a value's place, filled with the value bare, in `"…"`
/// or in `'…'`; `^` is a place the value fills bare (a here-document line).
#[derive(Debug, Clone, Copy)]
struct Statement {
    text: &'static str,
    shows: Shows,
    /// Needs `shell: bash` (bash syntax that dash reads otherwise).
    bash: bool,
}

const fn st(text: &'static str, shows: Shows, bash: bool) -> Statement {
    Statement { text, shows, bash }
}

/// Places that read a value as plain text.
const PLAIN: &[Statement] = &[
    // Plain text.
    st("printf '%s' @", Shows::Value, false),
    st("printf -- '%s' @", Shows::Value, false),
    st("printf '%s|%s' @ @; printf '\\n'", Shows::Nothing, false),
    st("x=@; printf '%s' \"$x\"", Shows::Value, false),
    st("x=@ y=@; printf '%s' \"$x\"", Shows::Value, false),
    st("export x=@; printf '%s' \"$x\"", Shows::Value, false),
    st("readonly ro=@; printf '%s' \"$ro\"", Shows::Value, false),
    st("f() { local x=@; printf '%s' \"$x\"; }; f", Shows::Value, false),
    st("declare x=@; printf '%s' \"$x\"", Shows::Value, true),
    st("declare -x x=@; printf '%s' \"$x\"", Shows::Value, true),
    st("echo @", Shows::Nothing, false),
    st("cd @ 2>/dev/null; :", Shows::Nothing, false),
    st("[ -n @ ] && printf '%s' @", Shows::Value, false),
    st("[ @ = @ ] || printf no", Shows::Nothing, false),
    st("test @ && :", Shows::Nothing, false),
    st("[ @ -eq 1 ] 2>/dev/null; :", Shows::Nothing, false),
    st("for x in @; do printf '%s' \"$x\"; done", Shows::Value, false),
    st("case @ in *) printf ok;; esac", Shows::Nothing, false),
    st("printf '%s' @ > out; cat out", Shows::Value, false),
    st("printf '%s' x >> @; :", Shows::Nothing, false),
    st("cat < @ 2>/dev/null; :", Shows::Nothing, false),
    st("cat <<EOT\n^\nEOT", Shows::Line, false),
    st("cat <<EOT\nline ^\nEOT", Shows::Nothing, false),
    st("x=$(cat <<EOT\n^\nEOT\n); printf '%s' \"$x\"", Shows::Captured, false),
    st("cat <(cat <<EOT\n^\nEOT\n)", Shows::Nothing, true),
    st("sh -c 'printf \"%s\" \"$1\"' sh @", Shows::Value, false),
    st("bash -c 'printf \"%s\" \"$1\"' bash @", Shows::Value, false),
    st("printf '%s' \"$(printf '%s' @)\"", Shows::Captured, false),
    st("cat <<< @", Shows::Line, true),
    st("{% if true %}printf '%s' @{% endif %}", Shows::Value, false),
    st("{% for i in [1] %}printf '%s' @; {% endfor %}", Shows::Value, false),
];

/// Places where bash reads a value as a name, a number or code.
const READ_AGAIN: &[Statement] = &[
    st("let x=@", Shows::Nothing, true),
    st("let \"x=@\"", Shows::Nothing, true),
    st("declare -i x=@", Shows::Nothing, true),
    st("declare -i x; x=@", Shows::Nothing, true),
    st("f() { local -i x=@; }; f", Shows::Nothing, true),
    st("typeset -i x=@", Shows::Nothing, true),
    st("declare -n x=@", Shows::Nothing, true),
    st("declare -a x=@", Shows::Nothing, true),
    st("declare @", Shows::Nothing, true),
    st("export @", Shows::Nothing, false),
    st("local @ 2>/dev/null; :", Shows::Nothing, false),
    st("[ -v @ ]; :", Shows::Nothing, true),
    st("[ -R @ ]; :", Shows::Nothing, true),
    st("[ @ @ ]; :", Shows::Nothing, false),
    st("test ! @ @; :", Shows::Nothing, false),
    st("printf @ one two", Shows::Nothing, false),
    st("printf -v @ '%s' x", Shows::Nothing, true),
    st("printf -v x @", Shows::Nothing, true),
    st("read @ < /dev/null; :", Shows::Nothing, false),
    st("unset @", Shows::Nothing, false),
    st("echo $(( @ + 1 ))", Shows::Nothing, false),
    st("echo $[ @ + 1 ]", Shows::Nothing, true),
    st("(( @ )); :", Shows::Nothing, true),
    st("x=@; echo $(( x + 1 ))", Shows::Nothing, false),
    st("x=@; [[ $x -eq 1 ]]; :", Shows::Nothing, true),
    st("x=@; s=abc; echo ${s:x}", Shows::Nothing, true),
    st("x=@; a=(1 2); echo ${a[x]}", Shows::Nothing, true),
    st("a[@]=x", Shows::Nothing, true),
    st("a=(@)", Shows::Nothing, true),
    st("a=([@]=x)", Shows::Nothing, true),
    st("echo ${a[@]}", Shows::Nothing, true),
    st("echo x >&@", Shows::Nothing, false),
    st("cat <&@", Shows::Nothing, false),
    st("sh -c @", Shows::Nothing, false),
    st("sh -c 'echo @'", Shows::Nothing, false),
    st("bash -ec @", Shows::Nothing, false),
    st("sh @ @", Shows::Nothing, false),
    st("bash <<EOT\necho ^\nEOT", Shows::Nothing, false),
    st("eval @", Shows::Nothing, false),
    st("trap @ EXIT", Shows::Nothing, false),
    st("alias x=@", Shows::Nothing, false),
    st("command printf -v @ x", Shows::Nothing, true),
    st("builtin printf @ x", Shows::Nothing, true),
    st("getopts @ x", Shows::Nothing, false),
    st("set -- @", Shows::Nothing, false),
    st("f() { let \"x=$1\"; }; f @", Shows::Nothing, true),
    st("@ x", Shows::Nothing, false),
    st("@=1", Shows::Nothing, false),
    st("P=~@", Shows::Nothing, false),
    st("P=/x:~@", Shows::Nothing, false),
    st("echo a=~@", Shows::Nothing, false),
    st("echo ${x:-@}", Shows::Nothing, false),
    st("[[ @ -eq 1 ]]; :", Shows::Nothing, true),
    st("for @ in a; do :; done", Shows::Nothing, false),
    st("RANDOM=@", Shows::Nothing, true),
    st("OPTIND=@", Shows::Nothing, false),
    st("PS4=@; set -x; :", Shows::Nothing, false),
    st("eval \"$(printf '%s' @)\"", Shows::Nothing, false),
    st("$(printf '%s' @)", Shows::Nothing, false),
    st("printf '%s' @ | sh", Shows::Nothing, false),
    st("printf '%s' \"$(printf '%s' @)\" | bash", Shows::Nothing, false),
    st("cat <<EOT | sh\n^\nEOT", Shows::Nothing, false),
    st("sh -c \"$(cat <<EOT\n^\nEOT\n)\"", Shows::Nothing, false),
    st("xargs -I{} sh -c {} <<EOT\n^\nEOT", Shows::Nothing, false),
    st("bash <<< @", Shows::Nothing, true),
    st("sh -o errexit -c @", Shows::Nothing, false),
    st("ev\\\nal @", Shows::Nothing, false),
    st("x=@; y=$x; echo $((y))", Shows::Nothing, false),
    st("x=@; y=x; echo $((y))", Shows::Nothing, false),
    st("x=@; echo \"${!x}\"", Shows::Nothing, true),
    st("x=@; printf -v \"$x\" %s hi", Shows::Nothing, true),
    st("alias e=eval\ne @", Shows::Nothing, false),
    st("time -p eval @", Shows::Nothing, true),
    st("f=-i; declare $f x=@", Shows::Nothing, true),
    st("y=a[\\$\\(touch\\ MARKER\\)]; [ @ \"$y\" ]; :", Shows::Nothing, true),
];

/// Values a hostile item file could hold: markers only. No `/`, so no file place reaches
/// outside the test's folder.
const ATOMS: &[&str] = &[
    "$(touch MARKER)",
    "`touch MARKER`",
    "a[$(touch MARKER)]",
    "x[$(touch MARKER)]",
    "-va[$(touch MARKER)]",
    "a[`touch MARKER`]",
    ";touch MARKER;",
    "\ntouch MARKER\n",
    "EOT",
    "EOT)",
    "\nEOT\n",
    "\nEOT)\n",
    "-v",
    "-n",
    "-c",
    "-e",
    "~",
    "root",
    "'",
    "\"",
    "\\",
    "%s",
    "%b",
    "=",
    "[",
    "]",
    "1",
    "-1",
    "x",
    " ",
    "*",
    "$HOME",
    "${x}",
    "\n",
    "#",
    "!",
];

#[derive(Debug, Clone)]
struct Template {
    statements: Vec<(Statement, Vec<u8>)>,
    bash: bool,
}

impl Template {
    fn text(&self) -> String {
        let mut parts = Vec::new();
        for (statement, wraps) in &self.statements {
            let mut wraps = wraps.iter().cycle();
            let mut text = String::new();
            for c in statement.text.chars() {
                match c {
                    '@' => text.push_str(match wraps.next().copied().unwrap_or(0) % 3 {
                        0 => "{{ item }}",
                        1 => "\"{{ item }}\"",
                        _ => "'{{ item }}'",
                    }),
                    '^' => text.push_str("{{ item }}"),
                    c => text.push(c),
                }
            }
            parts.push(text);
        }
        parts.join("\n")
    }

    /// What the command prints for `value`, when every statement shows it.
    fn output(&self, value: &str) -> Option<String> {
        let mut out = String::new();
        for (statement, _) in &self.statements {
            match statement.shows {
                Shows::Nothing => return None,
                Shows::Value => out.push_str(value),
                Shows::Line => {
                    out.push_str(value);
                    out.push('\n');
                }
                Shows::Captured => out.push_str(value.trim_end_matches('\n')),
            }
        }
        Some(out)
    }
}

fn template() -> impl Strategy<Value = Template> {
    // Mostly plain places, so that most pairs run; the rest must be refused or harmless.
    let statement = prop_oneof![
        3 => prop::sample::select(PLAIN),
        1 => prop::sample::select(READ_AGAIN),
    ];
    let statement = (statement, prop::collection::vec(any::<u8>(), 1..3));
    (prop::collection::vec(statement, 1..3), any::<bool>()).prop_map(|(statements, bash)| {
        let bash = bash || statements.iter().any(|(s, _)| s.bash);
        Template { statements, bash }
    })
}

fn value() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ATOMS), 1..5).prop_map(|atoms| atoms.concat())
}

/// A YAML double-quoted scalar that holds `s` exactly.
fn yaml(s: &str) -> String {
    serde_json::to_string(s).expect("a string")
}

/// The shells a rendered command runs under, and whether its output is checked under each.
fn shells(bash: bool) -> [(&'static str, &'static [&'static str], bool); 3] {
    [("bash", &[], true), ("bash", &["--posix"], !bash), ("dash", &[], !bash)]
}

/// Runs `command` under one shell in `dir`: its stdout, and whether the marker appeared.
fn run_in(dir: &Path, shell: &str, flags: &[&str], command: &str) -> (Vec<u8>, bool) {
    let out = Command::new("timeout")
        .arg("20")
        .arg(shell)
        .args(flags)
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("the shell runs");
    let marker = dir.join("MARKER");
    let made = marker.exists();
    let _ = std::fs::remove_file(&marker);
    (out.stdout, made)
}

#[derive(Default)]
struct Tally {
    refused: usize,
    ran: usize,
    checked: usize,
}

fn check(template: &Template, values: &[String], tally: &mut Tally) -> Result<(), TestCaseError> {
    let text = template.text();
    let shell = if template.bash { "bash" } else { "sh" };
    let items: Vec<String> = values.iter().map(|v| yaml(v)).collect();
    let job =
        format!("jobs:\n  t:\n    shell: {shell}\n    items: [{}]\n    command: {}\n", items.join(", "), yaml(&text));
    let ran = batchrun().file("job.yaml", &job).args(&["plan", "--format", "json", "job.yaml"]).run();
    let context = |value: &str| format!("template ({shell}):\n{text}\nvalue: {value:?}");
    if ran.code == 2 && ran.stderr.contains("error: job `t`, command:") {
        tally.refused += values.len();
        return Ok(());
    }
    prop_assert!(ran.code == 0 || ran.code == 2, "plan exited {}: {}\n{}", ran.code, ran.stderr, context(""));
    let tasks: HashMap<u64, serde_json::Value> =
        ran.json_lines().into_iter().map(|t| (t["index"].as_u64().unwrap_or(u64::MAX), t)).collect();
    for (index, value) in values.iter().enumerate() {
        let task = tasks.get(&(index as u64)).ok_or_else(|| TestCaseError::fail(context(value)))?;
        let Some(command) = task["command"].as_str() else {
            prop_assert!(task["error"].is_string(), "neither a command nor an error: {task}\n{}", context(value));
            tally.refused += 1;
            continue;
        };
        tally.ran += 1;
        for (shell, flags, fits) in shells(template.bash) {
            let (stdout, marker) = run_in(&ran.path(""), shell, flags, command);
            prop_assert!(
                !marker,
                "the value ran as code under {shell} {flags:?}\n{}\nrendered: {command:?}",
                context(value)
            );
            if let (true, Some(expected)) = (fits, template.output(value)) {
                prop_assert_eq!(
                    String::from_utf8_lossy(&stdout),
                    expected.as_str(),
                    "under {} {:?}\n{}\nrendered: {:?}",
                    shell,
                    flags,
                    context(value),
                    command
                );
                tally.checked += 1;
            }
        }
    }
    Ok(())
}

fn check_all(part: &[(Template, Vec<String>)], tally: &std::sync::Mutex<Tally>) -> Result<(), TestCaseError> {
    let mut mine = Tally::default();
    for (template, values) in part {
        check(template, values, &mut mine)?;
    }
    let mut all = tally.lock().expect("the tally");
    all.refused += mine.refused;
    all.ran += mine.ran;
    all.checked += mine.checked;
    Ok(())
}

#[test]
fn no_value_runs_as_code_in_any_place_under_bash_posix_bash_and_dash() {
    let started = std::time::Instant::now();
    let seed = std::env::var("BATCHRUN_PLACES_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED);
    let templates = std::env::var("BATCHRUN_PLACES_TEMPLATES").ok().and_then(|s| s.parse().ok()).unwrap_or(440);
    let config = Config {
        cases: 1,
        max_shrink_iters: 0,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    };
    let cases = prop::collection::vec((template(), prop::collection::vec(value(), VALUES_PER_TEMPLATE)), templates);
    let tally = std::sync::Mutex::new(Tally::default());
    let result = TestRunner::new(config).run(&cases, |cases| {
        let half = cases.len() / 2;
        let (a, b) = cases.split_at(half);
        std::thread::scope(|s| {
            let first = s.spawn(|| check_all(a, &tally));
            let second = check_all(b, &tally);
            first.join().expect("a worker")?;
            second
        })
    });
    if let Err(e) = result {
        panic!("seed {seed} (BATCHRUN_PLACES_SEED={seed}): {e}");
    }
    let tally = tally.into_inner().expect("the tally");
    let pairs = tally.refused + tally.ran;
    eprintln!(
        "allowlist property (seed {seed}): {pairs} pairs, {} refused, {} ran under 3 shells, {} outputs checked, in {:.1?}",
        tally.refused,
        tally.ran,
        tally.checked,
        started.elapsed()
    );
    assert!(pairs >= 5000, "only {pairs} pairs");
    assert!(tally.ran >= 1000, "only {} pairs ran: the grammar should accept more", tally.ran);
}
