//! A worker thread: takes the next attempt, runs it to the end, reports, takes the next.

use std::time::{Duration, Instant};

use super::cancel::{Cancel, Level};
use super::handoff::Intake;
use super::output::{Ending, Kept, Output};
use super::process::{self, Running, Spawn};
use super::product;
use super::program::Programs;
use super::verify;
use super::watchdog::Watchdog;
use crate::events::{Committed, Outcome};
use crate::plan::{Plan, Task};

/// One attempt at a task, as the dispatcher hands it out.
pub struct Attempt {
    pub task: Task,
    /// 1 for the first.
    pub number: u32,
}

/// An attempt's result, sent back with its task (so the dispatcher can retry it).
pub struct AttemptDone {
    pub task: Task,
    /// False when the attempt was refused because the run stopped before it started.
    pub ran: bool,
    pub number: u32,
    pub outcome: Outcome,
    /// From the worker taking the attempt to the end of its output.
    pub duration: Duration,
    pub kept: Kept,
    /// The worker that ran it.
    pub slot: usize,
    /// Its output was handled as the task's last attempt's (printed, or given its place in
    /// `--output ordered`); when not, it was held back for a retry. The dispatcher follows this,
    /// so that an output is never printed for two attempts, nor held for a retry that does not
    /// come.
    pub last: bool,
    /// The product it committed.
    pub product: Option<crate::events::Committed>,
}

/// What every worker shares.
pub struct Context<'a> {
    pub plan: &'a Plan,
    /// Each job's manifest owner, found once per run (the job file's canonical path).
    pub owners: &'a [crate::job_manifest::Owner<'a>],
    pub output: &'a Output,
    pub cancel: &'a Cancel,
    pub watchdog: Option<&'a Watchdog>,
}

/// Runs attempts until the dispatcher closes the queue, reporting each result. `slot`: this
/// worker's number.
pub fn work(ctx: &Context, intake: Intake, slot: usize) {
    let mut programs = Programs::default();
    while let Some(attempt) = intake.next() {
        if !intake.report(run(ctx, attempt, &mut programs, slot)) {
            break;
        }
    }
}

fn run(ctx: &Context, Attempt { task, number }: Attempt, programs: &mut Programs, slot: usize) -> AttemptDone {
    let job = &ctx.plan.file.jobs[task.job];
    let settings = &job.settings;
    let started = Instant::now();
    if ctx.cancel.level() >= Level::Drain {
        let outcome = Outcome::NotStarted("the run stopped".into());
        let duration = started.elapsed();
        let kept = Kept::default();
        return AttemptDone { task, ran: false, number, outcome, duration, kept, slot, last: true, product: None };
    }
    let mut capture = match ctx.output.begin(&task.label) {
        Ok(capture) => capture,
        Err(e) => {
            ctx.output.nothing(task.seq, 1);
            let outcome = Outcome::NotStarted(format!("cannot capture its output: {e}"));
            let duration = started.elapsed();
            let kept = Kept::default();
            return AttemptDone { task, ran: true, number, outcome, duration, kept, slot, last: true, product: None };
        }
    };
    // Its product is claimed, and its folders made, before it starts.
    let claimed = match &task.product {
        Some(product) => {
            product::prepare(ctx.output.state(), product, &settings.cwd, task.key, &ctx.owners[task.job]).map(Some)
        }
        None => Ok(None),
    };
    let command = claimed.as_ref().map_err(Clone::clone).and_then(|_| ctx.plan.command_line(&task));
    let spawned = command.and_then(|command| {
        Running::spawn(Spawn {
            task: &task,
            programs,
            command: &command,
            job: &job.name,
            cwd: &settings.cwd,
            attempt: number,
            stdout: capture.stdout.take().unwrap_or_else(std::process::Stdio::null),
            stderr: capture.stderr.take().unwrap_or_else(std::process::Stdio::null),
        })
    });
    let outcome = match spawned {
        Err(why) => Outcome::NotStarted(why),
        Ok(mut running) => {
            let pgid = running.pgid();
            if let Some(w) = ctx.watchdog {
                w.track(pgid);
            }
            let outcome = match running.wait(settings.timeout, settings.kill_grace, ctx.cancel, &mut capture) {
                Ok(ended) => process::outcome(ended, settings.timeout),
                Err(e) => Outcome::NotStarted(format!("cannot wait for it: {e}")),
            };
            drop(running);
            if let Some(w) = ctx.watchdog {
                w.untrack(pgid);
            }
            outcome
        }
    };
    let claimed = claimed.ok().flatten();
    // `verify` checks what the command did before anything is committed.
    let mut rows = None;
    let outcome = match (&task.verify, outcome) {
        (Some(verify), Outcome::Succeeded) => match verify::run(&task, verify, &job.name, number, settings, ctx.cancel)
        {
            Ok(Some(printed)) => {
                rows = verify::rows(&printed);
                Outcome::Succeeded
            }
            Ok(None) => Outcome::Cancelled,
            Err(failed) => {
                for line in &failed.stderr_tail {
                    capture.note(line);
                }
                Outcome::ProductFailed(failed.why)
            }
        },
        (_, outcome) => outcome,
    };
    let (outcome, committed, discarded) = match (&claimed, outcome) {
        (Some(claimed), Outcome::Succeeded) => match product::commit(claimed) {
            Ok(committed) => (Outcome::Succeeded, Some(Committed { rows, ..committed }), None),
            Err(why) => (Outcome::ProductFailed(why), None, product::discard(claimed)),
        },
        (Some(claimed), outcome) => (outcome, None, product::discard(claimed)),
        (None, outcome) => (outcome, None, None),
    };
    if let Some(note) = &discarded {
        // Said in its stderr, which is kept for a failed attempt.
        capture.note(note);
    }
    let failed = !outcome.is_success();
    let last_attempt = !crate::policy::retryable(&outcome, number, settings) || ctx.cancel.level() > Level::None;
    if failed
        && number <= settings.retries
        && let Some(why) = crate::policy::left_out_by_retry_on(&outcome, settings)
    {
        // Said in its stderr, which the summary shows: its retries were not used.
        capture.note(&format!("batchrun: not retried: {why}"));
    }
    let ending = Ending {
        seq: task.seq,
        label: &task.label,
        job: &job.name,
        index: task.index,
        attempt: number,
        failed,
        cancelled: outcome == Outcome::Cancelled,
        last_attempt,
    };
    let kept = ctx.output.end(capture, &ending);
    if kept.undelivered.is_some() {
        // Nothing after it would be delivered either, so the run starts no new task. Raised here,
        // before this worker takes its next attempt, so that attempt does not start after the
        // stop; the dispatcher says why when it hears of this one.
        ctx.cancel.raise(Level::Drain);
    }
    let outcome = match (&kept.undelivered, outcome) {
        (Some(why), Outcome::Succeeded) => Outcome::Undelivered(why.clone()),
        (_, outcome) => outcome,
    };
    let duration = started.elapsed();
    AttemptDone { task, ran: true, number, outcome, duration, kept, slot, last: last_attempt, product: committed }
}
