//! Plain lines for logs and CI: no bars, no escape codes. A line per failure, retry and skip,
//! always; a line per task that succeeded for the first [`OK_LINES_SHOWN`] only, so that a log
//! of many thousand tasks stays readable; and a progress line every ten seconds, which counts
//! everything.

use std::sync::Arc;
use std::time::Duration;

use super::eta::Estimate;
use super::format::{duration, rate};
use crate::console::{Console, Stream};
use crate::events::Listener;
use crate::events::{Counts, Event, Finished};
use crate::words::{count, number};

const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// `ok` lines printed before they are left out.
pub const OK_LINES_SHOWN: u64 = 100;

pub struct Plain {
    console: Arc<Console>,
    next_progress: Duration,
    ok_lines: u64,
    estimate: Estimate,
}

impl Plain {
    /// `jobs`: each job's name and the tasks planned for it at the start (for the ETA).
    pub fn new(console: Arc<Console>, jobs: Vec<(String, u64)>) -> Plain {
        Plain { console, next_progress: PROGRESS_EVERY, ok_lines: 0, estimate: Estimate::new(jobs) }
    }

    fn finished(&mut self, task: &Finished) {
        if task.outcome.is_success() {
            self.ok_lines += 1;
            if self.ok_lines > OK_LINES_SHOWN {
                return;
            }
            if self.ok_lines == OK_LINES_SHOWN {
                self.line(finished_line(task));
                self.line(format!(
                    "(after {OK_LINES_SHOWN} `ok` lines, tasks that succeed are counted in the progress line, not listed; failures, retries and skips are still shown)"
                ));
                return;
            }
        }
        self.line(finished_line(task))
    }

    fn line(&self, text: String) {
        let _ = self.console.write(Stream::Stderr, format!("{text}\n").as_bytes());
    }
}

/// `SKIPPED job (N tasks): why` for tasks whose need failed, `NOT RUN …` for tasks the run
/// stopped before.
pub fn skipped_line(job: &str, tasks: u64, reason: &str, not_run: bool) -> String {
    let what = if not_run { "NOT RUN" } else { "SKIPPED" };
    // A job planned when it became ready, which it never did: it has no tasks to count.
    let tasks = if tasks == 0 { "not planned".to_owned() } else { count(tasks, "task") };
    format!("{what} {job} ({tasks}): {reason}")
}

/// `planned load: 10 tasks (its items were read after the jobs it needs ran)`.
pub fn planned_line(job: &str, tasks: u64) -> String {
    format!("planned {job}: {} (its items were read as it became ready)", count(tasks, "task"))
}

/// Why a resumed run does not count a job's earlier results as done.
pub fn rerun_line(job: &str, because: &str) -> String {
    format!(
        "rerun {job}: its earlier results no longer count, as `{because}`, on which it depends, was rebuilt in this run"
    )
}

/// `ok export[3] 1.2s`, `FAILED export[4] exit 1 after 3 attempts (1.2s)`.
pub fn finished_line(task: &Finished) -> String {
    let took = duration(task.duration);
    let attempts = if task.attempt > 1 { format!(" after {} attempts", task.attempt) } else { String::new() };
    if task.outcome.is_success() {
        format!("{} {} {took}{attempts}", console::style("ok").green().for_stderr(), task.label)
    } else if task.outcome == crate::events::Outcome::Cancelled {
        format!("{} {} ({took})", console::style("CANCELLED").yellow().for_stderr(), task.label)
    } else {
        let failed = match task.allowed {
            true => console::style("FAILED (allowed)").yellow().bold().for_stderr(),
            false => console::style("FAILED").red().bold().for_stderr(),
        };
        format!("{failed} {} {}{attempts} ({took})", task.label, task.outcome.describe())
    }
}

/// `RETRY export[4] exit 1 (attempt 1), again in 1.0s`, and `, first in line for a worker` when
/// every worker is busy.
pub fn retry_line(task: &Finished, delay: Duration, waits_for_worker: bool) -> String {
    let retry = console::style("RETRY").yellow().for_stderr();
    format!(
        "{retry} {} {} (attempt {}), again in {}{}",
        task.label,
        task.outcome.describe(),
        task.attempt,
        duration(delay),
        if waits_for_worker { ", first in line for a worker" } else { "" }
    )
}

/// `1234/5000 done, 2 failed, 4 running, 10.0s elapsed, ETA 30.0s`.
pub fn progress_line(counts: &Counts, elapsed: Duration, eta: Option<Duration>) -> String {
    let mut line = format!("{}/{} done", number(counts.done()), number(counts.total));
    if counts.failed > 0 {
        line.push_str(&format!(", {} failed", number(counts.failed)));
    }
    if counts.cancelled > 0 {
        line.push_str(&format!(", {} cancelled", number(counts.cancelled)));
    }
    line.push_str(&format!(", {} running, {} elapsed", number(counts.running), duration(elapsed)));
    if let Some(rate) = rate(counts, elapsed) {
        line.push_str(&format!(", {rate}"));
    }
    if let Some(eta) = eta {
        line.push_str(&format!(", ETA {}", duration(eta)));
    }
    line
}

impl Listener for Plain {
    fn event(&mut self, event: &Event) {
        self.estimate.event(event);
        match event {
            Event::RunStarted { name, counts, workers, backend } => self.line(match (*backend, workers) {
                ("slurm", 0) => format!("batchrun: {name}: {} as Slurm job arrays", count(counts.total, "task")),
                ("slurm", k) => {
                    format!("batchrun: {name}: {} as Slurm job arrays, {k} at once", count(counts.total, "task"))
                }
                _ => {
                    format!("batchrun: {name}: {} on {}", count(counts.total, "task"), count(*workers as u64, "worker"))
                }
            }),
            // Warnings are printed by `warnings::Warnings`.
            Event::TaskStarted { .. } | Event::RunFinished { .. } | Event::Warning { .. } => {}
            // One that could not be planned is said by its failure, or among what did not run.
            Event::JobPlanned { unplanned: Some(_), .. } => {}
            Event::JobPlanned { job, tasks, .. } => self.line(planned_line(job, *tasks)),
            Event::TaskRetrying { task, delay, waits_for_worker, .. } => {
                self.line(retry_line(task, *delay, *waits_for_worker))
            }
            Event::TaskFinished { task, .. } => self.finished(task),
            Event::JobSkipped { job, tasks, reason, not_run, .. } => {
                self.line(skipped_line(job, *tasks, reason, *not_run))
            }
            Event::RunCancelling { reason, .. } => self.line(format!("STOPPING: {reason}")),
            Event::JobRerun { job, because, .. } => self.line(rerun_line(job, because)),
        }
    }

    fn tick(&mut self, counts: &Counts, elapsed: Duration) {
        if elapsed >= self.next_progress {
            let eta = self.estimate.left(counts, elapsed);
            self.line(format!("progress: {}", progress_line(counts, elapsed, eta)));
            while self.next_progress <= elapsed {
                self.next_progress += PROGRESS_EVERY;
            }
        }
    }
}
