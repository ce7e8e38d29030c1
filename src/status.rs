//! `batchrun status FILE`: what the journal says, per job: done, failed, not run.

use std::io::{self, Write};
use std::path::Path;

use crate::journal::reader::History;
use crate::plan::Plan;

/// Per job: tasks that succeeded, that failed (and never succeeded), and that never ran.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobStatus {
    pub done: u64,
    pub failed: u64,
    pub not_run: u64,
}

/// Classifies every task of the plan by its key, so a changed command counts as not run.
pub fn of_plan(plan: &Plan, history: &History) -> Vec<(String, JobStatus)> {
    let mut out = Vec::new();
    for (i, job) in plan.file.jobs.iter().enumerate() {
        if !plan.jobs[i].selected {
            continue;
        }
        let mut status = JobStatus::default();
        for task in plan.tasks(i) {
            match task.ok().and_then(|t| history.tasks.get(&t.key)) {
                Some(true) => status.done += 1,
                Some(false) => status.failed += 1,
                None => status.not_run += 1,
            }
        }
        out.push((job.name.clone(), status));
    }
    out
}

pub fn print(plan: &Plan, history: &History, state_dir: &Path, out: &mut impl Write) -> io::Result<()> {
    let jobs = of_plan(plan, history);
    writeln!(out, "{} (state: {})", plan.file.name, state_dir.display())?;
    match &history.last_activity {
        None => writeln!(out, "no run recorded yet")?,
        Some(at) if history.last_run_ended => writeln!(out, "last run ended {at}")?,
        Some(at) => writeln!(out, "last run did not end cleanly (interrupted or killed); last activity {at}")?,
    }
    let width = jobs.iter().map(|(n, _)| n.len()).chain([3]).max().unwrap_or(3);
    writeln!(out, "{:width$}  {:>10}  {:>10}  {:>10}", "job", "done", "failed", "not run")?;
    for (name, s) in &jobs {
        writeln!(out, "{name:width$}  {:>10}  {:>10}  {:>10}", s.done, s.failed, s.not_run)?;
    }
    Ok(())
}
