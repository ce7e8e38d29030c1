//! SIGINT and SIGTERM become messages for the dispatcher.
//!
//! Tasks run in process groups of their own, so a Ctrl-C from the terminal reaches batchrun
//! only; the dispatcher decides what the tasks get (see `dispatcher.rs`).

use crossbeam_channel::Sender;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Starts the signal thread, which sends `wrap(signal)` for each one. It lives as long as the
/// process; when the receiver is gone the send fails and the signal is ignored (the run is
/// ending anyway).
pub fn forward_to<M: Send + 'static>(messages: Sender<M>, wrap: fn(i32) -> M) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            let _ = messages.send(wrap(signal));
        }
    })?;
    Ok(())
}
