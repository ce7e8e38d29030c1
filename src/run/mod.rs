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
pub mod escapes;
mod handoff;
pub mod open_files;
pub mod output;
mod process;
pub mod product;
mod program;
pub(crate) mod signals;
pub mod verify;
pub mod watchdog;
mod worker;

use std::sync::Arc;

pub use crate::run_state::RunResult;
use output::Output;

use crate::events::Listener;
use crate::journal::reader::History;
use crate::plan::Plan;

/// What keeps a run's processes from outliving it (see [`escapes`]): the watchdog, for when
/// batchrun is killed, and batchrun as the subreaper of what tasks leave behind.
pub struct Guards {
    pub watchdog: Option<watchdog::Watchdog>,
    pub adopted: Option<escapes::Adopted>,
    /// What could not be started, for the face to say.
    pub warnings: Vec<String>,
}

impl Guards {
    /// Marks the run in batchrun's environment (tasks inherit it) and starts the guards, before
    /// any task pipe exists, so that the watchdog holds none of them.
    ///
    /// # Safety
    /// batchrun must have one thread: the environment is changed.
    pub unsafe fn start(workers: usize) -> Guards {
        let mark = escapes::new_mark(std::env::var_os(escapes::RUN_MARK));
        // SAFETY: the caller's promise: no other thread reads the environment.
        unsafe { std::env::set_var(escapes::RUN_MARK, &mark) };
        let mut warnings = Vec::new();
        let watchdog = watchdog::Watchdog::start(workers, &mark).map_err(|e| warnings.push(e)).ok();
        let own = watchdog.iter().map(watchdog::Watchdog::pid).collect();
        let adopted = escapes::Adopted::start(&mark, own).map_err(|e| warnings.push(e)).ok();
        Guards { watchdog, adopted, warnings }
    }

    pub fn none() -> Guards {
        Guards { watchdog: None, adopted: None, warnings: Vec::new() }
    }
}

/// Runs every selected task of `plan` on `workers` threads.
/// With `history` (`--resume`), tasks it records as done are not run again.
pub fn run(
    plan: &Plan,
    history: Option<&History>,
    guards: &Guards,
    workers: usize,
    output: &Output,
    reporter: &mut dyn Listener,
) -> RunResult {
    // No more threads than tasks: a one-task job file should not start 16 threads. A job
    // planned later may bring any number.
    let known = if plan.jobs.iter().any(|j| j.waits_to_be_planned()) { u64::MAX } else { plan.total() };
    let workers = workers.clamp(1, usize::try_from(known).unwrap_or(usize::MAX).max(1));
    let cancel = Arc::new(cancel::Cancel::default());
    let interrupts = signals::Interrupts::install(&cancel)
        .inspect_err(|e| {
            let message = format!("cannot handle signals ({e}); Ctrl-C will not stop tasks cleanly");
            reporter.event(&crate::events::Event::Warning { message: &message });
        })
        .ok();

    let (feed, intake, planner) = handoff::handoff(workers);
    let owners: Vec<crate::job_manifest::Owner> =
        (0..plan.file.jobs.len()).map(|job| crate::job_manifest::Owner::of(&plan.file, job)).collect();
    let ctx = worker::Context { plan, owners: &owners, output, cancel: &cancel, watchdog: guards.watchdog.as_ref() };
    let adopted = guards.adopted.as_ref();
    let result = std::thread::scope(|scope| {
        for slot in 0..workers {
            let (intake, ctx) = (intake.clone(), &ctx);
            scope.spawn(move || worker::work(ctx, intake, slot));
        }
        drop(intake);
        let cancel = &cancel;
        // Any stop: a job planned now would not start.
        scope.spawn(move || planner.serve(plan, &|| cancel.level() >= cancel::Level::Drain));
        dispatcher::Dispatcher::new(plan, history, output, cancel, workers, reporter).run(feed, interrupts, adopted)
    });
    // Every task has ended: nothing it left behind may outlive the run.
    if let Some(adopted) = adopted {
        adopted.sweep_all(LAST_SWEEP);
    }
    result
}

/// How long the last sweep waits for what it killed to end.
const LAST_SWEEP: std::time::Duration = std::time::Duration::from_secs(5);
