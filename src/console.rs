//! The one place that writes to the terminal.
//!
//! Task output, progress bars and report lines all meet here. Writes are serialised by one
//! lock so blocks never interleave, and when progress bars are drawn on a stream that is a
//! terminal, writes to it happen inside `MultiProgress::suspend` so the bars are cleared and
//! redrawn around them instead of being torn.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::os::fd::AsFd;
use std::sync::Mutex;

use indicatif::MultiProgress;

pub use crate::events::Stream;

pub struct Console {
    bars: Option<MultiProgress>,
    stdout_is_tty: bool,
    stderr_is_tty: bool,
    /// Our stdout and stderr as plain files (duplicated descriptors): blocks are written with
    /// no buffer in between, and copies from spilled output stay in the kernel
    /// (`copy_file_range`/`sendfile`), which std only does between files it can see as such.
    out: Option<File>,
    err: Option<File>,
    lock: Mutex<()>,
}

impl Console {
    pub fn new() -> Console {
        let dup = |fd: std::os::fd::BorrowedFd| fd.try_clone_to_owned().ok().map(File::from);
        Console {
            bars: None,
            stdout_is_tty: io::stdout().is_terminal(),
            stderr_is_tty: io::stderr().is_terminal(),
            out: dup(io::stdout().as_fd()),
            err: dup(io::stderr().as_fd()),
            lock: Mutex::new(()),
        }
    }

    /// Task output meant for stdout goes to stderr instead, leaving stdout to a machine-read
    /// stream (`--events json`).
    pub fn redirect_stdout_to_stderr(&mut self) {
        self.out = self.err.as_ref().and_then(|f| f.try_clone().ok());
        self.stdout_is_tty = io::stderr().is_terminal();
    }

    /// From now on, writes to a terminal go around these bars (drawn on stderr).
    pub fn set_bars(&mut self, bars: MultiProgress) {
        self.bars = Some(bars);
    }

    pub fn bars(&self) -> Option<&MultiProgress> {
        self.bars.as_ref()
    }

    /// Writes `bytes` as one block. The error says the block did not all arrive (a closed
    /// pipe, a full disk): task output treats that as not delivered, messages may ignore it.
    pub fn write(&self, stream: Stream, bytes: &[u8]) -> io::Result<()> {
        self.with(stream, |mut out| out.write_all(bytes))
    }

    fn with(&self, stream: Stream, write: impl FnOnce(&File) -> io::Result<()>) -> io::Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let file = match stream {
            Stream::Stdout => self.out.as_ref(),
            Stream::Stderr => self.err.as_ref(),
        };
        let on_terminal = match stream {
            Stream::Stdout => self.stdout_is_tty,
            Stream::Stderr => true,
        };
        let is_tty = match stream {
            Stream::Stdout => self.stdout_is_tty,
            Stream::Stderr => self.stderr_is_tty,
        };
        let run = || match file {
            // A terminal that hung up (SIGHUP handles the run): no one is left to read it, so
            // what it cannot take is not output lost from someone who would.
            Some(file) => match write(file) {
                Err(e) if is_tty && e.raw_os_error() == Some(libc::EIO) => Ok(()),
                written => written,
            },
            None => Err(io::Error::new(io::ErrorKind::BrokenPipe, "the stream is not open")),
        };
        match &self.bars {
            Some(bars) if on_terminal => bars.suspend(run),
            _ => run(),
        }
    }
}

impl crate::events::OutputSink for Console {
    fn write(&self, stream: Stream, bytes: &[u8]) -> io::Result<()> {
        Console::write(self, stream, bytes)
    }

    fn write_block(&self, stream: Stream, write: &mut dyn FnMut(&File) -> io::Result<()>) -> io::Result<()> {
        self.with(stream, |out| write(out))
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
