//! `batchrun exec MANIFEST ELEMENT`: what one Slurm array element runs.
//!
//! It plans its share of one job from the job file (checked against the hash the submitter
//! saw, with the submitter's var values, and the submitter's snapshots of items files); the
//! face runs it with the local runner: its own pool of workers, retries, timeouts, process
//! groups and watchdog. Task output goes to the element's Slurm output file, logs to the shared
//! state folder, and each attempt to the element's own journal, which the submitter follows.

use std::path::{Path, PathBuf};

use super::manifest::{Manifest, hash_of};
use crate::config;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::plan::{Plan, PlanOptions, Shard};
use crate::state_dir::StateDir;

/// An element's share, planned and ready to run.
pub struct Element {
    pub plan: Plan,
    pub manifest: Manifest,
    /// Where the element records its attempts.
    pub journal: PathBuf,
    /// The run's state folder, which its submitter claimed.
    pub state: StateDir,
}

/// Reads the manifest and plans element `element`'s share (from `SLURM_ARRAY_TASK_ID` when
/// not given).
pub fn prepare(manifest_path: &Path, element: Option<u64>) -> Result<Element, Diagnostics> {
    let error = |message: String| Diagnostics::from(Diagnostic::new(manifest_path, None, message));
    let from_env = || std::env::var("SLURM_ARRAY_TASK_ID").ok()?.parse().ok();
    let element = element
        .or_else(from_env)
        .ok_or_else(|| error("which array element? give it, or set SLURM_ARRAY_TASK_ID".into()))?;
    let manifest = Manifest::read(&StateDir::of_manifest(manifest_path), manifest_path).map_err(error)?;
    let text = config::read_job_file(&manifest.file).map_err(|e| error(format!("{}: {e}", manifest.file.display())))?;
    if hash_of(&text) != manifest.file_hash {
        return Err(error(format!(
            "the job file {} changed after the run was submitted; run it again",
            manifest.file.display()
        )));
    }
    let text = String::from_utf8(text).map_err(|_| error("the job file is not UTF-8 text".into()))?;
    let mut file = config::parse(&manifest.file, &text)?;
    // As the submitter planned: its command line's settings over the file's.
    manifest.overrides.apply(&mut file);
    let indices = manifest.element_indices(element);
    if indices.is_empty() {
        return Err(error(format!("the array has no element {element}")));
    }
    let shard = Shard { job: manifest.job.clone(), indices };
    let state = StateDir::claimed(&manifest.state_dir);
    let inputs = manifest
        .inputs
        .clone()
        .map_or(crate::plan::Inputs::InPlace, |dir| crate::plan::Inputs::Snapshotted(state.clone(), dir));
    let options = PlanOptions { fixed: manifest.vars.clone(), shard: Some(shard), inputs, ..PlanOptions::default() };
    let plan = Plan::new(file, &options)?;
    let journal = manifest.journal_path(element);
    Ok(Element { plan, manifest, journal, state })
}

impl Element {
    /// Tasks the element runs at once.
    pub fn workers(&self) -> usize {
        self.manifest.workers.max(1)
    }

    /// Runs the element's share on a local pool of its own, recorded in the element's journal,
    /// which the submitter follows. `sink` takes the tasks' output (Slurm's output file; nothing
    /// in tests); `listeners` watch the run beside the journal.
    pub fn run(
        &self,
        guards: &crate::run::Guards,
        sink: std::sync::Arc<dyn crate::events::OutputSink>,
        listeners: Vec<Box<dyn crate::events::Listener>>,
    ) -> Result<crate::run::RunResult, crate::journal::JournalError> {
        let names = self.plan.file.jobs.iter().map(|j| j.name.clone()).collect();
        let journal = crate::journal::Journal::open_shard(&self.state, &self.journal, names)?;
        let mut all: Vec<Box<dyn crate::events::Listener>> = vec![Box::new(journal)];
        all.extend(listeners);
        let logs = crate::run::output::Logs { state: self.state.clone(), keep_all: self.manifest.keep_logs };
        let mode = crate::run::output::OutputMode::Grouped;
        let output = crate::run::output::Output::new(mode, sink, logs, false, self.workers());
        Ok(crate::run::run(&self.plan, None, guards, self.workers(), &output, &mut crate::events::Listeners(all)))
    }
}
