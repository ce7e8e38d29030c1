//! SIGINT, SIGTERM and SIGHUP.
//!
//! A closed terminal (SIGHUP) is an interrupt like the others: the run stops its tasks, writes
//! its journal and summary, and exits 129. When batchrun starts with SIGHUP ignored (`nohup`),
//! it stays ignored, as the user asked.
//!
//! Tasks run in process groups of their own, so a Ctrl-C from the terminal reaches batchrun
//! only; batchrun decides what the tasks get. For a local run, the signal handler itself raises
//! the cancellation level (the first signal to `Terminate`, any later one to `Kill`), so
//! workers stop their tasks and refuse new attempts at once, and the dispatcher reports the
//! interrupt when it next wakes, within a tick. The handler touches atomics only, which is
//! what a signal handler may do, and needs no thread: a thread waiting for signals cost every
//! run a measurable start-up (PERFORMANCE.md). The Slurm submitter, which has no workers to
//! stop, gets signals as messages from a thread ([`forward_to`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use crossbeam_channel::Sender;
use signal_hook::SigId;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::cancel::{Cancel, Level};

/// The interrupts of a local run; the handlers are removed when it is dropped.
pub struct Interrupts {
    handlers: Vec<SigId>,
    received: Arc<Received>,
    /// How many of `received.count` were already taken.
    taken: usize,
}

#[derive(Default)]
struct Received {
    /// The first signal's number (0 before any).
    first: AtomicI32,
    count: AtomicUsize,
}

impl Interrupts {
    /// Installs the handlers: the first SIGINT, SIGTERM or SIGHUP raises `cancel` to
    /// `Terminate`, any later one to `Kill`.
    pub fn install(cancel: &Arc<Cancel>) -> std::io::Result<Interrupts> {
        let received = Arc::new(Received::default());
        let mut handlers = Vec::new();
        for signal in interrupt_signals() {
            let (received, cancel) = (received.clone(), cancel.clone());
            let action = move || {
                let _ = received.first.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
                let before = received.count.fetch_add(1, Ordering::SeqCst);
                cancel.raise(if before == 0 { Level::Terminate } else { Level::Kill });
            };
            // SAFETY: the action only reads and writes atomics (no allocation, no lock), which
            // is safe in a signal handler.
            match unsafe { signal_hook::low_level::register(signal, action) } {
                Ok(id) => handlers.push(id),
                Err(e) => {
                    handlers.into_iter().for_each(|id| _ = signal_hook::low_level::unregister(id));
                    return Err(e);
                }
            }
        }
        Ok(Interrupts { handlers, received, taken: 0 })
    }

    /// The signals received since the last call, as the first signal's number once for each.
    pub fn take(&mut self) -> impl Iterator<Item = i32> {
        let count = self.received.count.load(Ordering::SeqCst);
        let new = count.saturating_sub(self.taken);
        self.taken = count;
        let first = self.received.first.load(Ordering::SeqCst);
        std::iter::repeat_n(first, new)
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        // The run is over: a signal now is ignored, as batchrun is about to exit anyway.
        for id in self.handlers.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// The signals that interrupt a run: SIGINT, SIGTERM, and SIGHUP unless it was ignored when
/// batchrun started (`nohup`).
fn interrupt_signals() -> Vec<i32> {
    let mut signals = vec![SIGINT, SIGTERM];
    if !ignored(SIGHUP) {
        signals.push(SIGHUP);
    }
    signals
}

/// Whether `signal` was set to be ignored when batchrun started.
fn ignored(signal: i32) -> bool {
    let mut current = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only reads the current one into `current`, which is zeroed
    // and large enough.
    let read = unsafe { libc::sigaction(signal, std::ptr::null(), current.as_mut_ptr()) };
    // SAFETY: `sigaction` filled it in (or it stays zeroed, which is SIG_DFL).
    read == 0 && unsafe { current.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// Starts a thread that sends `wrap(signal)` for each interrupting signal. It lives as long as
/// the process; when the receiver is gone the send fails and the signal is ignored (the run is
/// ending anyway).
pub fn forward_to<M: Send + 'static>(messages: Sender<M>, wrap: fn(i32) -> M) -> std::io::Result<()> {
    let mut signals = Signals::new(interrupt_signals())?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            let _ = messages.send(wrap(signal));
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_terminates_and_a_second_kills() {
        let cancel = Arc::new(Cancel::default());
        let mut interrupts = Interrupts::install(&cancel).unwrap();
        assert_eq!(interrupts.take().count(), 0);
        signal_hook::low_level::raise(SIGTERM).unwrap();
        assert_eq!(cancel.level(), Level::Terminate);
        assert_eq!(interrupts.take().collect::<Vec<_>>(), [SIGTERM]);
        signal_hook::low_level::raise(SIGINT).unwrap();
        assert_eq!(cancel.level(), Level::Kill);
        assert_eq!(interrupts.take().collect::<Vec<_>>(), [SIGTERM], "counted; named by the first");
        assert_eq!(interrupts.take().count(), 0);
    }
}
