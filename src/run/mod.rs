//! Running a plan: a fixed pool of worker threads fed by one dispatcher.
//!
//! ```text
//! signal handler ──raises──▶ cancellation level ◀── workers watch it; the dispatcher takes
//!                                                   the interrupts when it wakes
//! dispatcher ──Attempt──▶ bounded channel ──▶ worker × N ──spawn/wait──▶ task process group
//!     ▲                                         │                          ▲
//!     └───── results queue (+ a wake when due) ◀┘   watchdog (+pgid/-pgid) ┘
//! ```
//! The dispatcher sends an attempt when a worker is idle, and queues more ahead so that a worker
//! that finishes starts its next task at once: one per worker, up to 16 when attempts are short.
//! Workers wake it only when the queue runs low or an attempt failed (see [`handoff`]).

pub mod cancel;
mod collect;
mod dispatcher;
mod handoff;
pub mod open_files;
pub mod output;
mod process;
mod program;
pub(crate) mod retry;
pub(crate) mod signals;
pub mod watchdog;
mod worker;

use std::sync::Arc;

pub use dispatcher::RunResult;
use output::Output;

use crate::journal::reader::History;
use crate::plan::Plan;
use crate::reporter::Reporter;

/// Runs every selected task of `plan` on `workers` threads.
/// With `history` (`--resume`), tasks it records as done are not run again.
pub fn run(
    plan: &Plan,
    history: Option<&History>,
    watchdog: Option<&watchdog::Watchdog>,
    workers: usize,
    output: &Output,
    reporter: &mut dyn Reporter,
) -> RunResult {
    // No more threads than tasks: a one-task job file should not start 16 threads. A job
    // planned later may bring any number.
    let known = if plan.jobs.iter().any(|j| j.waits_to_be_planned()) { u64::MAX } else { plan.total() };
    let workers = workers.clamp(1, usize::try_from(known).unwrap_or(usize::MAX).max(1));
    let cancel = Arc::new(cancel::Cancel::default());
    let interrupts = signals::Interrupts::install(&cancel)
        .inspect_err(|e| {
            crate::say!("batchrun: warning: cannot handle signals ({e}); Ctrl-C will not stop tasks cleanly")
        })
        .ok();

    let (feed, intake) = handoff::handoff(workers);
    let ctx = worker::Context { plan, output, cancel: &cancel, watchdog };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (intake, ctx) = (intake.clone(), &ctx);
            scope.spawn(move || worker::work(ctx, intake));
        }
        drop(intake);
        dispatcher::Dispatcher::new(plan, history, output, &cancel, workers, reporter).run(feed, interrupts)
    })
}
