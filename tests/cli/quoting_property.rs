//! The property behind the quoting, on the real binary: for random command templates (values
//! as bare words, in `"…"`, `'…'`, bash's `$'…'`, nested `$(…)`, `{% if %}` branches and a
//! here-document) and random values (any Unicode scalar but NUL, weighted towards quotes, `$`,
//! backticks, backslashes, newlines, `!`, `}` and injection attempts), each task prints exactly
//! what the template's text and the value make, through dash, bash and direct execution, and
//! no value runs as code (no marker file appears). A value that would end its here-document
//! must fail its task unrun.
//!
//! Each proptest case is a batch of templates run as one job file, so thousands of cases cost
//! a few batchrun runs. The seed is fixed so CI is repeatable; `PROPTEST_RNG_SEED=N` and
//! `PROPTEST_CASES=N` explore further.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

use crate::harness::batchrun;

const DELIMITER: &str = "END_OF_BODY";
const TEMPLATES_PER_BATCH: usize = 40;
const VALUES_PER_TEMPLATE: usize = 14;

/// One piece of a `printf` argument, as the template writes it.
#[derive(Debug, Clone)]
enum Piece {
    Lit(String),
    Word,
    Double(String, String),
    Single(String, String),
    AnsiC(String, String),
    /// `"$(printf %s ARG; printf x)"`: a new command context inside double quotes.
    Subst(Vec<Piece>),
    /// `{% if index is even %}A{% else %}B{% endif %}`.
    Branch(Vec<Piece>, Vec<Piece>),
}

#[derive(Debug, Clone)]
struct Template {
    args: Vec<Vec<Piece>>,
    /// A here-document after the `printf`, its body line `pre{{ item }}post`.
    heredoc: Option<(String, String)>,
}

fn text(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Lit(s) => s.clone(),
            Piece::Word => "{{ item }}".into(),
            Piece::Double(a, b) => format!("\"{a}{{{{ item }}}}{b}\""),
            Piece::Single(a, b) => format!("'{a}{{{{ item }}}}{b}'"),
            Piece::AnsiC(a, b) => format!("$'{a}{{{{ item }}}}{b}'"),
            Piece::Subst(arg) => format!("\"$(printf %s {}; printf x)\"", text(arg)),
            Piece::Branch(a, b) => format!("{{% if index is even %}}{}{{% else %}}{}{{% endif %}}", text(a), text(b)),
        })
        .collect()
}

fn expected(pieces: &[Piece], value: &str, even: bool) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Lit(s) => s.clone(),
            Piece::Word => value.into(),
            Piece::Double(a, b) | Piece::Single(a, b) | Piece::AnsiC(a, b) => format!("{a}{value}{b}"),
            Piece::Subst(arg) => expected(arg, value, even) + "x",
            Piece::Branch(a, b) => expected(if even { a } else { b }, value, even),
        })
        .collect()
}

/// The pieces a task renders, its branches taken.
fn rendered_pieces(pieces: &[Piece], even: bool) -> Vec<Piece> {
    pieces
        .iter()
        .flat_map(|p| match p {
            Piece::Branch(a, b) => rendered_pieces(if even { a } else { b }, even),
            Piece::Subst(arg) => rendered_pieces(arg, even),
            p => vec![p.clone()],
        })
        .collect()
}

fn any_piece(pieces: &[Piece], wanted: &dyn Fn(&Piece) -> bool) -> bool {
    pieces.iter().any(|p| {
        wanted(p)
            || match p {
                Piece::Subst(arg) => any_piece(arg, wanted),
                Piece::Branch(a, b) => any_piece(a, wanted) || any_piece(b, wanted),
                _ => false,
            }
    })
}

impl Template {
    fn text(&self) -> String {
        let args: Vec<String> = self.args.iter().map(|a| text(a)).collect();
        let mut command = format!("printf %s {}", args.join(" "));
        if let Some((pre, post)) = &self.heredoc {
            command.push_str(&format!("\ncat <<{DELIMITER}\n{pre}{{{{ item }}}}{post}\n{DELIMITER}"));
        }
        command
    }

    /// What the task prints for `value`, or `None` when the value cannot be placed.
    fn output(&self, value: &str, index: usize) -> Option<String> {
        // Where only a backslash escapes (`$'…'`, a here-document), a non-ASCII character right
        // before an escaped one cannot be placed: a multibyte locale could swallow the backslash.
        let multibyte_before = |special: &[char]| {
            value.chars().zip(value.chars().skip(1)).any(|(a, b)| !a.is_ascii() && special.contains(&b))
        };
        let even = index.is_multiple_of(2);
        let ansi_c = self.args.iter().any(|a| rendered_pieces(a, even).iter().any(|p| matches!(p, Piece::AnsiC(..))));
        if ansi_c && multibyte_before(&['\\', '\'']) {
            return None;
        }
        if self.heredoc.is_some() && multibyte_before(&['\\', '$', '`']) {
            return None;
        }
        let mut out: String = self.args.iter().map(|a| expected(a, value, even)).collect();
        if let Some((pre, post)) = &self.heredoc {
            let body = format!("{pre}{value}{post}");
            if body.split('\n').any(|line| line == DELIMITER) {
                return None;
            }
            out.push_str(&body);
            out.push('\n');
        }
        Some(out)
    }

    fn shells(&self) -> Vec<&'static str> {
        let all: Vec<&Piece> = self.args.iter().flatten().collect();
        let owned: Vec<Piece> = all.into_iter().cloned().collect();
        if any_piece(&owned, &|p| matches!(p, Piece::AnsiC(..))) {
            return vec!["bash"];
        }
        let direct = self.heredoc.is_none() && !any_piece(&owned, &|p| matches!(p, Piece::Subst(_) | Piece::AnsiC(..)));
        if direct { vec!["sh", "bash", "none", "auto"] } else { vec!["sh", "bash"] }
    }
}

fn piece() -> impl Strategy<Value = Piece> {
    // `$'…'` is rarer: a template with one runs under bash alone.
    let leaf = prop_oneof![
        3 => "[a-z0-9_.,:/+]{1,4}".prop_map(Piece::Lit),
        3 => Just(Piece::Word),
        3 => ("[a-z ;|&'#*?~=()}<>!]{0,3}", "[a-z ;|&'#*?~=()}<>!]{0,3}").prop_map(|(a, b)| Piece::Double(a, b)),
        3 => ("[a-z \"$`\\\\;|&#*?~()}<>!]{0,3}", "[a-z \"$`\\\\;|&#*?~()}<>!]{0,3}").prop_map(|(a, b)| Piece::Single(a, b)),
        1 => ("[a-z ]{0,3}", "[a-z ]{0,3}").prop_map(|(a, b)| Piece::AnsiC(a, b)),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 1..3).prop_map(Piece::Subst),
            1 => (prop::collection::vec(inner.clone(), 0..3), prop::collection::vec(inner, 0..3))
                .prop_map(|(a, b)| Piece::Branch(a, b)),
        ]
    })
}

fn template() -> impl Strategy<Value = Template> {
    let heredoc = prop::option::weighted(0.3, ("[a-z '\"#;|&*()}]{0,3}", "[a-z '\"#;|&*()}]{0,3}"));
    (prop::collection::vec(prop::collection::vec(piece(), 1..4), 1..4), heredoc)
        .prop_map(|(args, heredoc)| Template { args, heredoc })
}

fn value() -> impl Strategy<Value = String> {
    let specials = vec![
        '\'', '"', '$', '`', '\\', '\n', '!', '}', '{', '(', ')', ';', '&', '|', '<', '>', '*', '?', '[', ']', '#',
        '~', '=', ' ', '\t', '%', '^', ',', '-',
    ];
    let attacks = vec![
        "$(touch MARKER)",
        "`touch MARKER`",
        "';touch MARKER;'",
        "\";touch MARKER;\"",
        "\ntouch MARKER\n",
        "'\\''",
        "\\\n",
        "${IFS}",
        "$HOME",
        "!!",
        DELIMITER,
        "\nEND_OF_BODY\n",
    ];
    let atom = prop_oneof![
        6 => prop::sample::select(specials).prop_map(String::from),
        3 => any::<char>().prop_filter("no NUL", |c| *c != '\0').prop_map(String::from),
        2 => "[a-zA-Z0-9]{1,3}",
        2 => prop::sample::select(attacks).prop_map(String::from),
    ];
    prop::collection::vec(atom, 0..10).prop_map(|atoms| atoms.concat())
}

/// A YAML double-quoted scalar that holds `s` exactly: everything but printable ASCII escaped.
fn yaml(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Runs one batch as one job file and checks every task.
fn check_batch(batch: &[(Template, Vec<String>)]) -> Result<usize, TestCaseError> {
    let mut file = String::from("jobs:\n");
    let mut jobs = Vec::new();
    for (t, (template, values)) in batch.iter().enumerate() {
        let items: Vec<String> = values.iter().map(|v| yaml(v)).collect();
        for shell in template.shells() {
            let name = format!("t{t}_{shell}");
            file.push_str(&format!(
                "  {name}:\n    shell: {shell}\n    items: [{}]\n    command: {}\n",
                items.join(", "),
                yaml(&template.text())
            ));
            jobs.push((name, t));
        }
    }
    let ran = batchrun()
        .job(&file)
        .args(&["--keep-logs", "--output", "none", "--progress", "none", "--report", "report.json", "-j", "2"])
        .run();
    prop_assert!(ran.code == 0 || ran.code == 1, "batchrun exited {}: {}", ran.code, ran.stderr);
    prop_assert!(!ran.path("MARKER").exists(), "a value ran as code");
    let report: serde_json::Value = serde_json::from_str(&ran.read("report.json")).expect("a JSON report");
    let tasks: HashMap<(String, u64), &serde_json::Value> = report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| ((t["job"].as_str().unwrap_or_default().to_owned(), t["index"].as_u64().unwrap_or(u64::MAX)), t))
        .collect();
    let mut checked = 0;
    for (name, t) in &jobs {
        let (template, values) = &batch[*t];
        for (index, value) in values.iter().enumerate() {
            let task = tasks.get(&(name.clone(), index as u64)).copied();
            let task = task.ok_or_else(|| TestCaseError::fail(format!("{name}[{index}] is not in the report")))?;
            let context = format!("{name}[{index}]\ntemplate: {:?}\nvalue: {value:?}\ntask: {task}", template.text());
            match template.output(value, index) {
                Some(expected) => {
                    prop_assert_eq!(task["status"].as_str(), Some("ok"), "{}", context);
                    let log = format!("{}.out", task["log"].as_str().unwrap_or_default());
                    let printed = std::fs::read(&log).unwrap_or_default();
                    prop_assert_eq!(String::from_utf8_lossy(&printed), expected.as_str(), "{}", context);
                }
                None => prop_assert_ne!(task["status"].as_str(), Some("ok"), "{}", context),
            }
            checked += 1;
        }
    }
    Ok(checked)
}

#[test]
fn every_value_prints_as_itself_in_every_context_and_shell() {
    let started = std::time::Instant::now();
    let defaults = Config::default();
    let config = Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(3),
        max_shrink_iters: 64,
        failure_persistence: None,
        rng_seed: match defaults.rng_seed {
            RngSeed::Random => RngSeed::Fixed(20_261_130),
            seed => seed,
        },
        ..defaults
    };
    let checked = std::sync::atomic::AtomicUsize::new(0);
    let batch =
        prop::collection::vec((template(), prop::collection::vec(value(), VALUES_PER_TEMPLATE)), TEMPLATES_PER_BATCH);
    let result = TestRunner::new(config.clone()).run(&batch, |batch| {
        let n = check_batch(&batch)?;
        checked.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let checked = checked.into_inner();
    eprintln!("quoting property: {checked} cases (template, value, shell) in {:.1?}", started.elapsed());
    assert!(checked >= 600 * config.cases as usize, "only {checked} cases ran");
}
