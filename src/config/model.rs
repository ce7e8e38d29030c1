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
    pub start_gap: Duration,
}
