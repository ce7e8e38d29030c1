//! The job file exactly as written: plain serde structs that mirror the YAML.
//!
//! No logic lives here. Every field is optional and [`Spanned`] so that the validation pass
//! (`validate.rs`) can say *where* a value is wrong; unknown keys are rejected by serde
//! (`deny_unknown_fields`). There is deliberately no `untagged`, `flatten` or internally tagged
//! enum: serde buffers those and loses line numbers.
//!
//! The same structs generate the JSON Schema that `batchrun schema` prints (schemars): the doc
//! comments on fields are the descriptions editors show, and the `schemars` attributes describe
//! what a `Spanned` leaf holds (see `schema.rs`).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value as Json;
pub use serde_saphyr::Spanned;

use super::model::Shell;
use super::schema;

/// A batchrun job file: jobs of tasks to run on a pool of workers.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "batchrun job file", extend("required" = ["jobs"]))]
pub struct RawJobFile {
    /// The run's name (state folder, reports); default: the file's stem.
    #[schemars(with = "Option<String>", regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub name: Option<Spanned<String>>,
    /// Workers: tasks that run at once; default: the number of CPUs; `-j N` overrides.
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub concurrency: Option<Spanned<i64>>,
    /// Template variables; `--set key=value` overrides. A value `{sh: CMD}` is the trimmed
    /// stdout of CMD, computed once before planning.
    #[serde(default)]
    #[schemars(schema_with = "schema::vars")]
    pub vars: IndexMap<Spanned<String>, Spanned<Json>>,
    /// Named caps shared across jobs: `db: 4` lets at most 4 tasks of jobs that `uses: [db]`
    /// run at once.
    #[serde(default)]
    #[schemars(schema_with = "schema::limits")]
    pub limits: IndexMap<Spanned<String>, Spanned<i64>>,
    /// Settings every job inherits; each job may override any of them.
    pub defaults: Option<RawSettings>,
    /// For the whole run, beside each job's own: `stop` or `kill` once `{stop: N}` tasks of the
    /// run failed, or `{kill: "N%"}` of its finished ones (once 10 have finished).
    #[schemars(with = "Option<schema::OnFailureValue>")]
    pub on_failure: Option<Spanned<Json>>,
    /// sbatch settings for `--backend slurm`; each job's `slurm:` overrides them key by key.
    pub slurm: Option<RawSlurm>,
    /// The jobs, by name (letters, digits, `_`, `-`), run in `needs` order.
    #[serde(default)]
    #[schemars(schema_with = "schema::jobs")]
    pub jobs: Option<IndexMap<Spanned<String>, Spanned<RawJob>>>,
}

/// The keys `defaults` may set; each job repeats them (see [`RawJob`]) to override them.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// How a command runs: `auto` (a shell only when the command needs one), `sh`, `bash`, or
    /// `none` (always split into words and executed directly).
    #[schemars(with = "Option<Shell>")]
    pub shell: Option<Spanned<String>>,
    /// Per-attempt time limit, e.g. `30s`, `5m`, `1h30m`; default: none.
    #[schemars(with = "Option<schema::DurationText>")]
    pub timeout: Option<Spanned<String>>,
    /// Extra attempts after a failed one; default 0.
    #[schemars(with = "Option<u32>")]
    pub retries: Option<Spanned<i64>>,
    /// Wait before the first retry, doubled for each further one; default `1s`.
    #[schemars(with = "Option<schema::DurationText>")]
    pub retry_delay: Option<Spanned<String>>,
    /// After a timeout or an interrupt, how long a task has between SIGTERM and SIGKILL;
    /// default `5s`.
    #[schemars(with = "Option<schema::DurationText>")]
    pub kill_grace: Option<Spanned<String>>,
    /// Added to the inherited environment; values are templates.
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub env: Option<IndexMap<Spanned<String>, Spanned<String>>>,
    /// Working folder, relative to the job file's folder; default: that folder.
    #[schemars(with = "Option<String>")]
    pub cwd: Option<Spanned<String>>,
    /// When a task fails (after its retries): `continue` with the rest, `stop` starting tasks,
    /// or `kill` the running ones too; default `continue`. `{stop: N}` or `{kill: "N%"}` wait
    /// for N failed tasks of the job, or N % of its finished ones (once 10 have finished).
    #[schemars(with = "Option<schema::OnFailureValue>")]
    pub on_failure: Option<Spanned<Json>>,
    /// Which failures are retried: exit codes (`2`, `"75-78"`), `timeout`, `signal`, `verify`
    /// (its verify failed or its product was not committed); default every failure.
    #[schemars(with = "Option<Vec<schema::RetryOn>>")]
    pub retry_on: Option<Spanned<serde_json::Value>>,
    /// Least time between two task starts of a job (spares a database or an API); default `0s`.
    #[schemars(with = "Option<schema::DurationText>")]
    pub start_gap: Option<Spanned<String>>,
}

/// One job: a `command` template with at most one source (`range`, `matrix`, `items`), or a
/// `commands` list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["command"]}, {"required": ["commands"]}]))]
pub struct RawJob {
    /// The command, a Jinja template rendered once per task; substituted values are
    /// shell-quoted (`{{ x | raw }}` opts out).
    #[schemars(with = "Option<String>")]
    pub command: Option<Spanned<String>>,
    /// Commands, one task each (each a template); no source allowed beside it.
    #[schemars(with = "Option<Vec<String>>")]
    pub commands: Option<Spanned<Vec<Spanned<String>>>>,
    /// One task per partition of `[from, to]`, binding `start` and `end` (inclusive).
    #[schemars(with = "Option<RawRange>")]
    pub range: Option<Spanned<RawRange>>,
    /// The cartesian product of the keys' values, one task each, binding each key.
    #[serde(default)]
    #[schemars(schema_with = "schema::matrix")]
    pub matrix: Option<Spanned<IndexMap<Spanned<String>, Spanned<Json>>>>,
    /// One task per item, binding `item`: a list, or `{file: PATH, format: lines|csv|jsonl}`.
    #[serde(default)]
    #[schemars(schema_with = "schema::items")]
    pub items: Option<Spanned<Json>>,
    /// Jobs whose every task must succeed before this job starts.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub needs: Vec<Spanned<String>>,
    /// At most this many of the job's tasks run at once (under the global `concurrency`).
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub concurrency: Option<Spanned<i64>>,
    /// Named `limits` each of the job's tasks counts against.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub uses: Vec<Spanned<String>>,
    /// sbatch settings for this job under `--backend slurm`, over the file's `slurm:`.
    pub slurm: Option<RawSlurm>,
    /// The file each task writes (a template over the task's values, relative to its `cwd`).
    /// The command writes `{{ product }}`, a temporary beside it; batchrun renames it into
    /// place only when the attempt succeeded, so the file exists only complete.
    #[schemars(with = "Option<String>")]
    pub product: Option<Spanned<String>>,
    /// A command run after the command succeeded, before the product is committed (it sees
    /// `{{ product }}`, the temporary): when it fails, the attempt failed.
    #[schemars(with = "Option<String>")]
    pub verify: Option<Spanned<String>>,
    /// Its failures are reported (a warning annotation, not an error) but do not fail the
    /// run, and the jobs that need it still run (GitHub Actions' `continue-on-error`).
    #[schemars(with = "Option<bool>")]
    pub allow_failure: Option<Spanned<bool>>,
    /// The name of the manifest written in the folder of the job's products once every task
    /// has committed its own (default `_SUCCESS`): a name, not a path.
    #[schemars(with = "Option<String>")]
    pub manifest: Option<Spanned<String>>,
    /// How its tasks are named in the summary and reports: a template over the task's values,
    /// shown after the job's name (`"{{ python }}/{{ db }}"`: `test[3.12/postgres]`). Display
    /// only: `--resume` and `BATCHRUN_TASK` do not see it.
    /// By default a matrix or items task shows its values when they are short
    /// (`test[python=3.12,db=postgres]`), its index when they are not (`test[2]`).
    #[schemars(with = "Option<String>")]
    pub label: Option<Spanned<String>>,

    // The same keys as `RawSettings`, so a job can override any default.
    /// Overrides `defaults.shell`: `auto`, `sh`, `bash` or `none`.
    #[schemars(with = "Option<Shell>")]
    pub shell: Option<Spanned<String>>,
    /// Overrides `defaults.timeout`: per-attempt time limit, e.g. `30s`, `5m`.
    #[schemars(with = "Option<schema::DurationText>")]
    pub timeout: Option<Spanned<String>>,
    /// Overrides `defaults.retries`: extra attempts after a failed one.
    #[schemars(with = "Option<u32>")]
    pub retries: Option<Spanned<i64>>,
    /// Overrides `defaults.retry_delay`: wait before the first retry, then doubled.
    #[schemars(with = "Option<schema::DurationText>")]
    pub retry_delay: Option<Spanned<String>>,
    /// Overrides `defaults.kill_grace`: time between SIGTERM and SIGKILL.
    #[schemars(with = "Option<schema::DurationText>")]
    pub kill_grace: Option<Spanned<String>>,
    /// Overrides `defaults.env` (merged key by key); values are templates.
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub env: Option<IndexMap<Spanned<String>, Spanned<String>>>,
    /// Overrides `defaults.cwd`: working folder, relative to the job file's folder.
    #[schemars(with = "Option<String>")]
    pub cwd: Option<Spanned<String>>,
    /// Overrides `defaults.on_failure`: `continue`, `stop`, `kill`, `{stop: N}` or `{kill: "N%"}`.
    #[schemars(with = "Option<schema::OnFailureValue>")]
    pub on_failure: Option<Spanned<Json>>,
    /// Overrides `defaults.retry_on`: which failures are retried.
    #[schemars(with = "Option<Vec<schema::RetryOn>>")]
    pub retry_on: Option<Spanned<serde_json::Value>>,
    /// Overrides `defaults.start_gap`: least time between two task starts of this job.
    #[schemars(with = "Option<schema::DurationText>")]
    pub start_gap: Option<Spanned<String>>,
}

impl RawJob {
    /// The job's own settings, to be layered over `defaults`.
    pub fn take_settings(&mut self) -> RawSettings {
        RawSettings {
            shell: self.shell.take(),
            timeout: self.timeout.take(),
            retries: self.retries.take(),
            retry_delay: self.retry_delay.take(),
            kill_grace: self.kill_grace.take(),
            env: self.env.take(),
            cwd: self.cwd.take(),
            on_failure: self.on_failure.take(),
            retry_on: self.retry_on.take(),
            start_gap: self.start_gap.take(),
        }
    }
}

/// `range: {from, to, step | chunks}`, or `range: {bounds: {sh: CMD}}`. Bounds are strings so
/// they may be templates (`to: "{{ max_id }}"`); a plain YAML integer arrives as its text.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "oneOf" = [{"required": ["from", "to"]}, {"required": ["bounds"]}],
    "not" = {"required": ["step", "chunks"]}
))]
pub struct RawRange {
    /// First value: an integer, or a template that renders to one.
    #[schemars(with = "Option<schema::Bound>")]
    pub from: Option<Spanned<String>>,
    /// Last value (inclusive): an integer, or a template such as `"{{ max_id }}"`.
    #[schemars(with = "Option<schema::Bound>")]
    pub to: Option<Spanned<String>>,
    /// Values per partition (default 1); not with `chunks`.
    #[schemars(with = "Option<u64>", range(min = 1))]
    pub step: Option<Spanned<i64>>,
    /// Number of near-equal partitions; not with `step`.
    #[schemars(with = "Option<u64>", range(min = 1))]
    pub chunks: Option<Spanned<i64>>,
    /// The partitions' bounds from a command, run when the job becomes ready: it prints
    /// ascending integers, each a partition's first value and the last the range's last value
    /// (say `ntile` over the key, for partitions of equal rows); not with the other keys.
    #[schemars(with = "Option<RawBounds>")]
    pub bounds: Option<Spanned<RawBounds>>,
}

/// `range: {bounds: {sh: CMD}}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBounds {
    /// The command (`/bin/sh -c`, a template over the vars) that prints the bounds.
    #[schemars(with = "String")]
    pub sh: Spanned<String>,
}

/// `slurm:`: how `--backend slurm` submits a job's tasks as job arrays.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSlurm {
    /// The partition (`sbatch --partition`); default: the cluster's default partition.
    #[schemars(with = "Option<String>")]
    pub partition: Option<Spanned<String>>,
    /// Time limit of one array element (`sbatch --time`), in Slurm's syntax: `30`, `2:00:00`,
    /// `1-12:00:00`.
    #[schemars(with = "Option<String>")]
    pub time: Option<Spanned<String>>,
    /// CPUs of one array element (`sbatch --cpus-per-task`), which also runs that many of its
    /// tasks at once; default 1.
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub cpus_per_task: Option<Spanned<i64>>,
    /// Memory of one array element (`sbatch --mem`), e.g. `4G`.
    #[schemars(with = "Option<String>")]
    pub mem: Option<Spanned<String>>,
    /// Tasks run by one array element, one after another on its CPUs; default: enough that
    /// each running slot gets about four elements.
    #[schemars(with = "Option<u64>", range(min = 1))]
    pub tasks_per_element: Option<Spanned<i64>>,
    /// More sbatch flags, passed as they are, e.g. `["--account=data", "--qos=low"]`.
    #[schemars(with = "Option<Vec<String>>")]
    pub extra: Option<Vec<Spanned<String>>>,
}
