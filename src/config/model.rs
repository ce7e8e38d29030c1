//! The validated job file: typed values that the planner can trust.
//!
//! Everything here has been checked (names, numbers, durations, the `needs` graph), so the
//! planner and runner never re-validate. Template strings stay strings: they are compiled and
//! checked against the names in scope by the planner, which knows the vars' values.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::diagnostic::Pos;

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub pos: Option<Pos>,
}

#[derive(Debug, Clone)]
pub struct JobFile {
    /// The path as the user gave it, for messages.
    pub path: PathBuf,
    /// The job file's folder: relative paths in the file resolve against it.
    pub dir: PathBuf,
    pub name: String,
    /// The name of its default state folder, `.batchrun/<state_name>`: `name`, unless it was
    /// derived from a file name that had to be cleaned (see `validate::default_state_name`).
    pub state_name: String,
    pub concurrency: Option<usize>,
    pub vars: IndexMap<String, Located<Var>>,
    pub limits: IndexMap<String, usize>,
    /// In an order that runs every job after the jobs it needs (file order where free).
    pub jobs: Vec<Job>,
    /// The top-level `on_failure`, for the whole run's failures: what, and after how many.
    pub on_failure: Option<(OnFailure, Threshold)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Var {
    Literal(Json),
    /// `{sh: CMD}`: the trimmed stdout of CMD, computed once before planning.
    Command(String),
}

#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub pos: Option<Pos>,
    pub work: Work,
    /// Indices into [`JobFile::jobs`]; always smaller than this job's own index.
    pub needs: Vec<usize>,
    pub concurrency: Option<usize>,
    /// Indices into [`JobFile::limits`].
    pub uses: Vec<usize>,
    pub settings: Settings,
    /// The file's `slurm:` with the job's own over it.
    pub slurm: SlurmSettings,
    /// `product:`: the file each task writes, a template (see [`crate::run::product`]).
    pub product: Option<Located<String>>,
    /// `verify:`: a command template run after the command succeeded, before the commit.
    pub verify: Option<Located<String>>,
    /// `manifest:`: the name of the manifest beside its products (see [`crate::job_manifest`]).
    pub manifest: String,
    /// `allow_failure:`: its failures do not fail the run, nor skip the jobs that need it.
    pub allow_failure: bool,
    /// `label:`: a template naming each task for display.
    pub label: Option<Located<String>>,
}

/// `slurm:` resolved: how `--backend slurm` submits a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmSettings {
    pub partition: Option<String>,
    pub time: Option<String>,
    pub cpus_per_task: Option<u32>,
    pub mem: Option<String>,
    pub tasks_per_element: Option<u64>,
    pub extra: Vec<String>,
}

/// What a job runs: a list of command templates, or one template over a source of bindings.
#[derive(Debug, Clone)]
pub enum Work {
    Commands(Vec<Located<String>>),
    Templated { command: Located<String>, source: Source },
}

#[derive(Debug, Clone)]
pub enum Source {
    /// One task.
    Single,
    Range(RangeSpec),
    Matrix(MatrixSpec),
    Items(ItemsSpec),
    /// A source with an error, in a file read as far as its errors allow ([`super::check`]):
    /// the names it binds, so that the command's own mistakes are still found. No tasks.
    Unread(Vec<String>),
}

impl Source {
    /// The names a task of this source has beside the vars and `job`, `index`, `count`.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Source::Single => Vec::new(),
            Source::Range(_) | Source::Items(ItemsSpec::Command { format: ItemsFormat::Bounds, .. }) => {
                vec!["start", "end"]
            }
            Source::Items(_) => vec!["item"],
            Source::Matrix(m) => m
                .axes
                .iter()
                .map(|(k, _)| k.as_str())
                .chain(m.include.iter().flat_map(|i| i.keys().map(String::as_str)))
                .collect(),
            Source::Unread(names) => names.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RangeSpec {
    /// Integers, or templates that render to integers.
    pub from: Located<String>,
    pub to: Located<String>,
    pub split: Split,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Step(u64),
    Chunks(u64),
}

#[derive(Debug, Clone)]
pub struct MatrixSpec {
    pub axes: Vec<(String, Axis)>,
    pub include: Vec<IndexMap<String, Json>>,
    pub exclude: Vec<IndexMap<String, Json>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Axis {
    List(Vec<Json>),
    /// `{from, to, step}`: the numbers from, from+step, … up to `to` inclusive.
    Range {
        from: i64,
        to: i64,
        step: u64,
    },
}

#[derive(Debug, Clone)]
pub enum ItemsSpec {
    Inline(Vec<Json>),
    File {
        path: PathBuf,
        format: ItemsFormat,
        pos: Option<Pos>,
    },
    /// `{sh: CMD}`: the items are what the command prints (a template over the vars), run
    /// once when the job becomes ready.
    Command {
        command: String,
        format: ItemsFormat,
        pos: Option<Pos>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemsFormat {
    Lines,
    Csv,
    Jsonl,
    /// `range: {bounds: {sh: …}}`: ascending integers, each a partition's first value, the
    /// last the range's last value; its tasks bind `start` and `end`, as a range's do.
    Bounds,
}

/// How a command runs (`shell:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, schemars::JsonSchema)]
#[schemars(rename_all = "snake_case")]
pub enum Shell {
    /// Through `sh -c` only when the command has shell syntax; otherwise executed directly.
    Auto,
    /// Always `/bin/sh -c`.
    Sh,
    /// Always `bash -c`.
    Bash,
    /// Always split into words and executed directly; shell syntax is an error.
    None,
}

/// Settings the command line gives every job (`--fail-fast`, `--timeout`, `--retries`), over
/// the file's. Kept apart from the file so that a Slurm array element, which reads the file
/// again, runs with exactly what its submitter planned with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail_fast: bool,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "timeout_ms", with = "millis")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

impl Overrides {
    /// Sets every job's settings as the command line says.
    pub fn apply(&self, file: &mut JobFile) {
        for job in &mut file.jobs {
            let s = &mut job.settings;
            if self.fail_fast {
                s.on_failure = OnFailure::Stop;
                s.halt_after = Threshold::Count(1);
            }
            if let Some(t) = self.timeout {
                s.timeout = Some(t);
            }
            if let Some(r) = self.retries {
                s.retries = r;
            }
        }
    }
}

/// An optional duration as whole milliseconds.
mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)), s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(<Option<u64> as serde::Deserialize>::deserialize(d)?.map(Duration::from_millis))
    }
}

/// What a failed task does to the rest of the run (`on_failure:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, schemars::JsonSchema)]
#[schemars(rename_all = "snake_case")]
pub enum OnFailure {
    /// The other tasks go on.
    Continue,
    /// No new task starts; running ones finish.
    Stop,
    /// No new task starts and running ones are stopped.
    Kill,
}

/// The keys `defaults` sets and each job may override, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub shell: Shell,
    pub timeout: Option<Duration>,
    pub retries: u32,
    pub retry_delay: Duration,
    pub kill_grace: Duration,
    /// Values are templates.
    pub env: IndexMap<String, Located<String>>,
    pub cwd: PathBuf,
    pub on_failure: OnFailure,
    /// How many failures `on_failure` waits for.
    pub halt_after: Threshold,
    /// `retry_on:`: which failures are retried; `None`: every one.
    pub retry_on: Option<RetryOn>,
    pub start_gap: Duration,
}

/// How many failed tasks an `on_failure` stop waits for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// This many failed tasks (`stop` alone: 1).
    Count(u64),
    /// This share (per cent) of the finished tasks, once [`Threshold::MIN_FINISHED`] have
    /// finished, so that the first failure is not already 100 %.
    Percent(f64),
}

impl Threshold {
    pub const MIN_FINISHED: u64 = 10;

    /// Reads `on_failure`'s value: `continue`, `stop`, `kill`, `{stop: N}`, `{kill: "N%"}`.
    pub fn parse(value: &serde_json::Value) -> Result<(OnFailure, Threshold), String> {
        let word = |w: &str| match w {
            "continue" => Some(OnFailure::Continue),
            "stop" => Some(OnFailure::Stop),
            "kill" => Some(OnFailure::Kill),
            _ => None,
        };
        let usage = "use continue, stop, kill, {stop: N} or {kill: \"N%\"}";
        match value {
            serde_json::Value::String(w) => {
                word(w).map(|a| (a, Threshold::Count(1))).ok_or_else(|| format!("unknown on_failure `{w}`: {usage}"))
            }
            serde_json::Value::Object(map) if map.len() == 1 => {
                let (key, at) = map.iter().next().ok_or_else(|| usage.to_owned())?;
                let action = match word(key) {
                    Some(OnFailure::Continue) => {
                        return Err(format!("on_failure `continue` takes no threshold: {usage}"));
                    }
                    Some(action) => action,
                    None => return Err(format!("unknown on_failure `{key}`: {usage}")),
                };
                let threshold = match at {
                    serde_json::Value::Number(n) => match n.as_u64() {
                        Some(n) if n >= 1 => Threshold::Count(n),
                        _ => return Err(format!("on_failure `{key}` takes at least 1 failed task, got {n}")),
                    },
                    serde_json::Value::String(text) => {
                        // Digits and a point only: `1e2%` is no way to write a share.
                        let share = text
                            .trim()
                            .strip_suffix('%')
                            .map(str::trim)
                            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
                            .and_then(|n| n.parse::<f64>().ok());
                        match share {
                            Some(p) if (1.0..=100.0).contains(&p) => Threshold::Percent(p),
                            _ => return Err(format!("on_failure `{key}`: `{text}` is not a share from 1% to 100%")),
                        }
                    }
                    other => return Err(format!("on_failure `{key}`: {other} is not a count or a share (\"N%\")")),
                };
                Ok((action, threshold))
            }
            _ => Err(format!("on_failure: {usage}")),
        }
    }

    /// Whether `failed` of `finished` tasks reach it.
    pub fn reached(self, failed: u64, finished: u64) -> bool {
        match self {
            Threshold::Count(n) => failed >= n,
            Threshold::Percent(p) => {
                finished >= Threshold::MIN_FINISHED && failed as f64 * 100.0 >= p * finished as f64
            }
        }
    }
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Threshold::Count(n) => write!(f, "{n}"),
            Threshold::Percent(p) => write!(f, "\"{p}%\""),
        }
    }
}

/// `retry_on:`: the failures a task is retried for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryOn {
    /// Exit codes, as inclusive ranges.
    pub exits: Vec<(i32, i32)>,
    pub timeout: bool,
    pub signal: bool,
    /// Its `verify` failed, or its product was not committed.
    pub verify: bool,
}

impl RetryOn {
    /// Reads `retry_on`'s value: a list of exit codes, ranges (`"75-78"`) and words.
    pub fn parse(value: &serde_json::Value) -> Result<RetryOn, String> {
        let list = value
            .as_array()
            .ok_or("`retry_on` takes a list: exit codes, ranges (\"75-78\"), timeout, signal, verify")?;
        let mut on = RetryOn::default();
        for entry in list {
            let code = |v: &serde_json::Value| v.as_i64().and_then(|n| i32::try_from(n).ok());
            match entry {
                serde_json::Value::Number(_) => {
                    let n = code(entry).filter(|n| (1..=255).contains(n));
                    let n =
                        n.ok_or_else(|| format!("`retry_on`: {entry} is not the exit code of a failure (1 to 255)"))?;
                    on.exits.push((n, n));
                }
                serde_json::Value::String(word) => match word.trim() {
                    "timeout" => on.timeout = true,
                    "signal" => on.signal = true,
                    "verify" => on.verify = true,
                    text => {
                        let range = text.char_indices().skip(1).find(|&(_, c)| c == '-').and_then(|(at, _)| {
                            Some((text[..at].trim().parse().ok()?, text[at + 1..].trim().parse().ok()?))
                        });
                        match range {
                            Some((low, high)) if low < 1 || high > 255 => {
                                return Err(format!(
                                    "`retry_on`: the range `{text}` is not of exit codes of failures (1 to 255)"
                                ));
                            }
                            Some((low, high)) if low <= high => on.exits.push((low, high)),
                            Some((low, high)) => {
                                return Err(format!("`retry_on`: the range `{text}` runs backwards ({low} > {high})"));
                            }
                            None => {
                                return Err(format!(
                                    "`retry_on`: unknown entry `{text}`: use exit codes (2), ranges (\"75-78\"), timeout, signal or verify"
                                ));
                            }
                        }
                    }
                },
                other => return Err(format!("`retry_on`: {other} is not an exit code, a range or a word")),
            }
        }
        Ok(on)
    }
}
