//! How hard running tasks are being stopped: shared by the dispatcher (who decides) and the
//! workers (who watch it while they wait for their child).

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Let tasks run.
    None = 0,
    /// Let running tasks finish, but retry nothing (`on_failure: stop`).
    Drain = 1,
    /// Terminate running tasks: SIGTERM to the group, SIGKILL after the grace period.
    Terminate = 2,
    /// SIGKILL now (a second Ctrl-C).
    Kill = 3,
}

#[derive(Debug, Default)]
pub struct Cancel(AtomicU8);

impl Cancel {
    pub fn level(&self) -> Level {
        match self.0.load(Ordering::Acquire) {
            0 => Level::None,
            1 => Level::Drain,
            2 => Level::Terminate,
            _ => Level::Kill,
        }
    }

    /// Raises the level; never lowers it.
    pub fn raise(&self, level: Level) {
        self.0.fetch_max(level as u8, Ordering::AcqRel);
    }
}
