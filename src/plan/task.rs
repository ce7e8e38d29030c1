//! A planned task: everything the runner needs to start it.

use super::expand::Bindings;

/// One unit of work, rendered and ready to run.
#[derive(Debug, Clone, Default)]
pub struct Task {
    /// Index of its job in the plan.
    pub job: usize,
    /// 0-based within its job.
    pub index: u64,
    /// 0-based position in the run's order of tasks, which `--output ordered` prints in: set
    /// by the dispatcher as it takes the task (jobs planned when they become ready come after
    /// those planned at the start), 0 until then.
    pub seq: u64,
    /// Identity across runs (see `identity.rs`): what `--resume` recognises.
    pub key: u64,
    /// `export[3]`, or the job's name for a job of one task.
    pub label: String,
    /// The command as rendered, as `plan` shows it.
    pub rendered: String,
    /// The job's `env`, rendered for this task.
    pub env: Vec<(String, String)>,
    /// The task's own bindings (`start`, `end`, `item`, matrix keys).
    pub bindings: Bindings,
}

/// A task whose command could not be rendered (say, an item without the field the template
/// reads). It fails without running, and says why.
#[derive(Debug, Clone)]
pub struct BrokenTask {
    pub job: usize,
    pub index: u64,
    pub label: String,
    pub error: String,
    /// The value itself cannot be placed in the command (not a mistake of the template), so
    /// only this task fails, even when it is the job's first.
    pub unplaceable: bool,
    /// The `env` value that could not be rendered, when it was not the command.
    pub env: Option<String>,
}

pub type PlannedTask = Result<Task, BrokenTask>;

pub fn label(job: &str, index: u64, single: bool) -> String {
    if single { job.to_owned() } else { format!("{job}[{index}]") }
}
