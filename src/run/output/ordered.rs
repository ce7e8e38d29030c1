//! `--output ordered`: each task's output printed in the run's order, however tasks finish.
//!
//! A finished task's output waits until every earlier task has printed (or is known to print
//! nothing); the dispatcher starts no task more than [`ORDERED_WINDOW`] ahead of the oldest
//! unprinted one, which bounds what waits.

use std::collections::BTreeMap;

use super::{Output, OutputMode, Streams};

/// How many tasks `ordered` mode lets run ahead of the oldest one not yet printed.
pub const ORDERED_WINDOW: u64 = 128;

pub(super) enum Pending {
    /// Output to print, with the title of the fold around it, if any.
    Done(Streams, Option<String>),
    /// Tasks that ended without output to print (skipped, or not started), as a run of seqs.
    Nothing(u64),
    /// Output to print from an attempt's log files (their stem), with the fold's title: a failed
    /// attempt held back for a retry that did not come.
    Log(std::path::PathBuf, Option<String>),
}

#[derive(Default)]
pub(super) struct Ordered {
    next: u64,
    pending: BTreeMap<u64, Pending>,
    /// Tasks whose held-back output could not be written when its turn came, by plan
    /// position, with why: taken by the task's own ending or by the dispatcher.
    failed: BTreeMap<u64, String>,
}

impl Output {
    /// Records that `count` tasks from `seq` on will print nothing (ordered mode waits for them).
    pub fn nothing(&self, seq: u64, count: u64) {
        if self.mode == OutputMode::Ordered && count > 0 {
            self.print_in_order(seq, Pending::Nothing(count));
        }
    }

    /// With `--output ordered`, the plan position of the first task whose output is not yet
    /// printed (everything before it has been); `None` in the other modes.
    pub fn printed_through(&self) -> Option<u64> {
        (self.mode == OutputMode::Ordered).then(|| self.ordered.lock().unwrap_or_else(|e| e.into_inner()).next)
    }

    /// Prints, in order, every output still waiting, past any task that will never print
    /// (the run stopped, or gave up a retry).
    pub fn flush_pending(&self) {
        let mut ordered = self.ordered.lock().unwrap_or_else(|e| e.into_inner());
        for (seq, entry) in std::mem::take(&mut ordered.pending) {
            if let Err(e) = self.print_entry(entry) {
                ordered.failed.insert(seq, e.to_string());
            }
            ordered.next = ordered.next.max(seq + 1);
        }
    }

    /// Why the output of the task at `seq` could not be written when its turn came, if it
    /// could not (`--output ordered`).
    pub fn take_failed(&self, seq: u64) -> Option<String> {
        if self.mode != OutputMode::Ordered {
            return None;
        }
        self.ordered.lock().unwrap_or_else(|e| e.into_inner()).failed.remove(&seq)
    }

    /// Whether the task at `seq` may start now (ordered mode bounds how far ahead runs go).
    pub fn may_start(&self, seq: u64) -> bool {
        self.mode != OutputMode::Ordered
            || seq < self.ordered.lock().unwrap_or_else(|e| e.into_inner()).next + ORDERED_WINDOW
    }

    /// Prints what is next in plan order; a task whose output cannot be written is noted in
    /// `failed` by its position.
    pub(super) fn print_in_order(&self, seq: u64, entry: Pending) {
        let mut ordered = self.ordered.lock().unwrap_or_else(|e| e.into_inner());
        ordered.pending.insert(seq, entry);
        loop {
            let next = ordered.next;
            match ordered.pending.remove(&next) {
                Some(Pending::Nothing(count)) => ordered.next += count,
                Some(entry) => {
                    if let Err(e) = self.print_entry(entry) {
                        ordered.failed.insert(next, e.to_string());
                    }
                    ordered.next += 1;
                }
                None => break,
            }
        }
    }

    /// Prints one waiting entry.
    fn print_entry(&self, entry: Pending) -> std::io::Result<()> {
        match entry {
            Pending::Done(mut streams, fold) => {
                let printed = self.print(&mut streams, fold.as_deref());
                self.recycle(streams);
                printed
            }
            Pending::Log(stem, fold) => self.print_log(&stem, fold.as_deref()),
            Pending::Nothing(_) => Ok(()),
        }
    }
}
