//! The one place that writes to the terminal.
//!
//! Task output, progress bars and report lines all meet here. Writes are serialised by one
//! lock so blocks never interleave, and when progress bars are drawn on a stream that is a
//! terminal, writes to it happen inside `MultiProgress::suspend` so the bars are cleared and
//! redrawn around them instead of being torn.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
use std::sync::Mutex;

use indicatif::MultiProgress;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

pub struct Console {
    bars: Option<MultiProgress>,
    stdout_is_tty: bool,
    lock: Mutex<()>,
}

impl Console {
    pub fn new() -> Console {
        Console { bars: None, stdout_is_tty: io::stdout().is_terminal(), lock: Mutex::new(()) }
    }

    /// From now on, writes to a terminal go around these bars (drawn on stderr).
    pub fn set_bars(&mut self, bars: MultiProgress) {
        self.bars = Some(bars);
    }

    pub fn bars(&self) -> Option<&MultiProgress> {
        self.bars.as_ref()
    }

    /// Writes `bytes` as one block.
    pub fn write(&self, stream: Stream, bytes: &[u8]) {
        self.with(stream, |out| out.write_all(bytes));
    }

    /// Copies the first `len` bytes of `file` as one block, without holding them in memory.
    pub fn copy_file(&self, stream: Stream, file: &mut File, len: u64) {
        if len == 0 {
            return;
        }
        self.with(stream, |out| {
            file.seek(SeekFrom::Start(0))?;
            io::copy(&mut file.take(len), out).map(drop)
        });
    }

    fn with(&self, stream: Stream, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let run = || {
            // A closed stdout (`batchrun … | head`) must not stop the run; the tasks go on.
            let _ = match stream {
                Stream::Stdout => {
                    let mut out = io::stdout().lock();
                    write(&mut out).and_then(|()| out.flush())
                }
                Stream::Stderr => write(&mut io::stderr().lock()),
            };
        };
        let on_terminal = match stream {
            Stream::Stdout => self.stdout_is_tty,
            Stream::Stderr => true,
        };
        match &self.bars {
            Some(bars) if on_terminal => bars.suspend(run),
            _ => run(),
        }
    }
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

/// Prints a line on stderr, like `eprintln!` but without panicking when stderr is closed
/// (`batchrun … 2>&1 | head`): messages are worth losing, a panic is not.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
