//! `batchrun status FILE`: what the journal says, per job: done, failed, cancelled, not run.
//!
//! It reads the journal alone: the job file only names the state folder. The last run recorded
//! what it planned (each job's task count), so status neither plans the file again (which would
//! run its computed vars and take as long as the plan is large) nor runs anything.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use crate::journal::reader::{History, Tally};

/// Per job: tasks that succeeded, that failed (and never succeeded), that batchrun stopped,
/// and that never ran.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobStatus {
    pub done: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// `None` when the journal does not say how many tasks were planned (written by an older
    /// batchrun), or when the job was to be planned when it became ready and never was.
    pub not_run: Option<u64>,
}

/// Each job the last run planned (or, in an older journal, each job it recorded), in order;
/// `only` keeps those jobs alone.
pub fn of_history(history: &History, only: &[String]) -> Vec<(String, JobStatus)> {
    let recorded = by_place(history).unwrap_or_else(|| history.per_job());
    let counts = |name: &str| recorded.get(name).copied().unwrap_or_default();
    let jobs: Vec<(String, JobStatus)> = if history.planned.is_empty() {
        history
            .job_names
            .iter()
            .map(|name| {
                let Tally { done, failed, cancelled } = counts(name);
                (name.clone(), JobStatus { done, failed, cancelled, not_run: None })
            })
            .collect()
    } else {
        history
            .planned
            .iter()
            .map(|job| {
                let Tally { done, failed, cancelled } = counts(&job.name);
                let not_run = (!job.when_ready).then(|| job.planned.saturating_sub(done + failed + cancelled));
                (job.name.clone(), JobStatus { done, failed, cancelled, not_run })
            })
            .collect()
    };
    jobs.into_iter().filter(|(name, _)| only.is_empty() || only.contains(name)).collect()
}

/// Per job: the places of the last run's plan whose task is done, those whose task only
/// failed, and those batchrun stopped. A place beyond what the last run planned is no longer
/// in the plan.
fn by_place(history: &History) -> Option<HashMap<&str, Tally>> {
    let places = history.places.as_ref()?;
    let mut counts: HashMap<&str, Tally> = HashMap::new();
    for (&(job, index), place) in places {
        let Some(name) = history.job_names.get(job as usize) else { continue };
        let planned = history.planned.iter().find(|j| j.name == *name).map(|j| j.planned);
        if planned.is_some_and(|planned| index >= planned) {
            continue;
        }
        counts.entry(name.as_str()).or_default().add(place.done, place.cancelled);
    }
    Some(counts)
}

/// Whether every task the last run planned is done: none failed or cancelled, none left to
/// run, and each job's count known.
pub fn all_done(jobs: &[(String, JobStatus)]) -> bool {
    !jobs.is_empty() && jobs.iter().all(|(_, s)| s.failed == 0 && s.cancelled == 0 && s.not_run == Some(0))
}

/// Prints the status of each job; `running` is the pid of a run using the state folder now.
/// Returns whether every planned task is done ([`all_done`]).
pub fn print(
    name: &str,
    history: &History,
    running: Option<u32>,
    only: &[String],
    state_dir: &Path,
    out: &mut dyn Write,
) -> io::Result<bool> {
    let jobs = of_history(history, only);
    writeln!(out, "{name} (state: {})", state_dir.display())?;
    match (&history.last_activity, running) {
        (Some(at), Some(pid)) => writeln!(out, "a run is in progress (pid {pid}); last activity {at}")?,
        (None, Some(pid)) => writeln!(out, "a run is in progress (pid {pid}); nothing recorded yet")?,
        (None, None) => writeln!(out, "no run recorded yet")?,
        (Some(at), None) if history.last_run_ended => writeln!(out, "last run ended {at}")?,
        (Some(at), None) => writeln!(out, "last run did not end cleanly (interrupted or killed); last activity {at}")?,
    }
    let width = jobs.iter().map(|(n, _)| n.len()).chain([3]).max().unwrap_or(3);
    writeln!(out, "{:width$}  {:>10}  {:>10}  {:>10}  {:>10}", "job", "done", "failed", "cancelled", "not run")?;
    for (name, s) in &jobs {
        let not_run = s.not_run.map_or_else(|| "?".to_owned(), |n| n.to_string());
        writeln!(out, "{name:width$}  {:>10}  {:>10}  {:>10}  {not_run:>10}", s.done, s.failed, s.cancelled)?;
    }
    let gone = products_gone(history, only);
    let products = |n: u64, what: &str| match n {
        1 => format!("1 done task's product {what}"),
        n => format!("{} done tasks' products {what}", crate::words::number(n)),
    };
    for (job, missing, changed) in &gone {
        let mut what = Vec::new();
        if *missing > 0 {
            what.push(products(*missing, "missing"));
        }
        if *changed > 0 {
            what.push(products(*changed, "changed since"));
        }
        writeln!(out, "{job}: {}: --resume runs them again", what.join(", "))?;
    }
    Ok(all_done(&jobs) && gone.is_empty())
}

/// Per job: done tasks whose committed product is missing, and those whose product changed
/// since (`--resume` runs both again); of the tasks at the last run's places only, so that a
/// task no longer in the plan is not counted.
fn products_gone(history: &History, only: &[String]) -> Vec<(String, u64, u64)> {
    let current: Option<std::collections::HashSet<u64>> =
        history.places.as_ref().map(|places| places.values().map(|p| p.key).collect());
    let mut gone: Vec<(String, u64, u64)> = Vec::new();
    for (key, product) in &history.products {
        if current.as_ref().is_some_and(|keys| !keys.contains(key)) {
            continue;
        }
        let Some(task) = history.tasks.get(key).filter(|t| t.done) else { continue };
        let Some(job) = history.job_names.get(task.job as usize) else { continue };
        if !only.is_empty() && !only.contains(job) {
            continue;
        }
        let (missing, changed) = match product.now() {
            crate::events::ProductNow::Intact => continue,
            crate::events::ProductNow::Missing => (1, 0),
            crate::events::ProductNow::Changed => (0, 1),
        };
        match gone.iter_mut().find(|(j, _, _)| j == job) {
            Some(entry) => {
                entry.1 += missing;
                entry.2 += changed;
            }
            None => gone.push((job.clone(), missing, changed)),
        }
    }
    gone.sort();
    gone
}
