//! The open-file limit (`ulimit -n`): raised for batchrun, given back to each task, and the
//! number of tasks run at once fitted to it.
//!
//! Each running task holds a few descriptors in batchrun (its output pipes, a pidfd, the child's
//! ends until it exits, spill and log files), so a soft limit of 1024 ran out at about 300 tasks
//! at once and the rest failed with "Too many open files". When the concurrency asked for needs
//! more than the soft limit, batchrun raises its own to the hard one, as the Go runtime does.
//! The tasks must not inherit that, and `posix_spawn` cannot set a limit in the child (giving it
//! back with `prlimit` after the spawn was measured to lose the race to a task that reads it at
//! once), so those runs spawn through `fork` and set the original limit in the child before
//! `exec`: slower per task, and only paid where the limit was too low. Where even the hard limit
//! cannot hold the concurrency, fewer tasks run at once and the run says so.

use std::sync::OnceLock;

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors a running task may hold in batchrun at once.
pub const PER_TASK: u64 = 8;
/// Descriptors batchrun holds besides its tasks (standard streams, journal, lock, watchdog,
/// threads' files), with room to spare.
pub const RESERVED: u64 = 64;

/// The soft limit batchrun started with, when it raised it (set once, by [`raise`]).
static ORIGINAL: OnceLock<Rlimit> = OnceLock::new();

/// Raises the soft open-file limit to the hard one when `workers` tasks at once need more than
/// it; returns the limit now in force (`None`: unlimited).
pub fn raise_for(workers: usize) -> Option<u64> {
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current?;
    let needed = RESERVED + PER_TASK * workers as u64;
    if soft >= needed || limit.maximum.is_some_and(|hard| hard <= soft) {
        return Some(soft);
    }
    if setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum }).is_ok() {
        let _ = ORIGINAL.set(limit);
        return limit.maximum;
    }
    Some(soft)
}

/// The limit batchrun started with, when it raised its own: each task must get it back.
pub fn original() -> Option<Rlimit> {
    ORIGINAL.get().copied()
}

/// In a forked child, before `exec`: sets the open-file limit back to `original`. A raw system
/// call, which is what may run between `fork` and `exec`.
pub fn set_in_child(original: Rlimit) -> std::io::Result<()> {
    setrlimit(Resource::Nofile, original).map_err(std::io::Error::from)
}

/// How many tasks may run at once under `limit` open files: `workers`, or fewer.
pub fn fit(workers: usize, limit: Option<u64>) -> usize {
    match limit {
        Some(limit) => {
            let room = limit.saturating_sub(RESERVED) / PER_TASK;
            workers.min(usize::try_from(room).unwrap_or(usize::MAX).max(1))
        }
        None => workers,
    }
}

/// What [`fit`] decided, said with the figures it used, so that the reader can redo the sum.
pub fn fitted(asked: usize, workers: usize, limit: u64) -> String {
    let room = limit.saturating_sub(RESERVED) / PER_TASK;
    let at_least = if room == 0 { " (one task runs all the same)" } else { "" };
    format!(
        "running at most {} at once, not {asked}: the open-file limit (ulimit -n) is {limit}; batchrun keeps {RESERVED} for itself and each running task needs up to {PER_TASK}, which leaves room for {room}{at_least}; raise it with `ulimit -n`",
        crate::words::count(workers as u64, "task"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_fits_the_limit() {
        assert_eq!(fit(300, Some(1024)), 120);
        assert_eq!(fit(8, Some(1024)), 8);
        assert_eq!(fit(300, Some(10)), 1, "at least one task runs");
        let said = fitted(100, fit(100, Some(64)), 64);
        assert!(said.starts_with("running at most 1 task at once, not 100"), "{said}");
        assert!(said.contains("room for 0 (one task runs all the same)"), "{said}");
        let said = fitted(300, fit(300, Some(1024)), 1024);
        assert!(said.contains("at most 120 tasks at once") && said.contains("room for 120;"), "{said}");
        assert_eq!(fit(300, None), 300);
    }
}
