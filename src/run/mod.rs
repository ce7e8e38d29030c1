//! Running a plan: a fixed pool of worker threads fed by one dispatcher.
//!
//! ```text
//! dispatcher ──Task──▶ bounded channel ──▶ worker × N ──spawn/wait──▶ child process
//!     ▲                                        │
//!     └──────────────── Finished ◀─────────────┘
//! ```
//! The dispatcher sends a task only when a worker is idle, so the channel never holds more than
//! one task per worker.

mod dispatcher;
pub mod output;
mod process;
mod worker;

use crossbeam_channel::{bounded, unbounded};

use crate::events::Counts;
use crate::plan::Plan;
use crate::reporter::Reporter;
use output::Output;

/// Runs every selected task of `plan` on `workers` threads; returns the final counts.
pub fn run(plan: &Plan, workers: usize, output: &Output, reporter: &mut dyn Reporter) -> Counts {
    // No more threads than tasks: a one-task job file should not start 16 threads.
    let workers = workers.clamp(
        1,
        usize::try_from(plan.total()).unwrap_or(usize::MAX).max(1),
    );
    let (task_tx, task_rx) = bounded(workers);
    let (result_tx, result_rx) = unbounded();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (tasks, results) = (task_rx.clone(), result_tx.clone());
            scope.spawn(move || worker::work(plan, output, tasks, results));
        }
        drop(result_tx);
        dispatcher::Dispatcher::new(plan, output, workers, reporter).run(task_tx, result_rx)
    })
}
