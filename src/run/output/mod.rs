//! Where task output goes, per `--output` mode, without ever interleaving or holding it whole:
//! capture (pipes read while the task runs), printing (a block per stream, folded for GitHub
//! Actions), logs; the order of `ordered` mode is in [`ordered`], `tagged` lines in [`tagged`],
//! the stderr tail kept for the summary in [`tail`].
//!
//! Every attempt's stdout and stderr go to a pair of pipes, collected (see [`super::collect`])
//! in memory within a shared budget and in temporary files past it. Buffers are reused from a
//! pool, so no memory or file is set up per task. What happens next depends on the mode:
//!
//! - `grouped`: the worker reads the pipes while the task runs; when it ends, each stream is
//!   written as one block to our stdout / stderr.
//! - `ordered`: the same, in plan order. A finished task's output waits until every earlier
//!   task has printed; the dispatcher stops starting tasks more than [`ORDERED_WINDOW`] ahead of
//!   the oldest unprinted one, which bounds what waits.
//! - `tagged`: two threads read the pipes line by line, print each line prefixed with the task's
//!   label as it comes, and collect it.
//! - `none`: the output is collected (for logs) and not printed.
//!
//! Only a task's last attempt is printed. A failed attempt's output is saved as its log (every
//! attempt's with `--keep-logs`), and the last lines of its stderr go to the summary.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

mod ordered;
mod tagged;
mod tail;

use super::collect::{Budget, Collected, MEMORY_BUDGET};
use crate::events::{OutputSink, Stream};
use crate::state_dir::{Open, StateDir, log_file, log_stem};
pub use ordered::ORDERED_WINDOW;
use ordered::{Ordered, Pending};
use tagged::tag_lines;
use tail::{TAIL_BYTES, tail_lines};
pub use tail::{TAIL_LINES, tail_of};

/// What the stdout pipes of all workers may hold together. A larger pipe lets a task write more
/// before it has to wait for its worker to read (a default pipe holds 64 KiB); the sum stays
/// within a quarter of Linux's default per-user soft limit (`pipe-user-pages-soft`, 64 MiB),
/// past which every new pipe of the user, in any program, would get only two pages.
const STDOUT_PIPES_TOTAL: usize = 16 << 20;
/// The largest pipe an unprivileged process may ask for by default (`pipe-max-size`).
const MAX_PIPE: usize = 1 << 20;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    Grouped,
    Ordered,
    Tagged,
    None,
}

/// Where logs go: the state folder's `logs` (see [`crate::state_dir::log_stem`]).
#[derive(Debug, Clone)]
pub struct Logs {
    pub state: StateDir,
    /// Keep every attempt's output, not only failed ones.
    pub keep_all: bool,
}

/// A task's stdout and stderr, as collected.
#[derive(Debug, Default)]
struct Streams {
    out: Collected,
    err: Collected,
}

pub struct Output {
    mode: OutputMode,
    console: Arc<dyn OutputSink>,
    logs: Logs,
    /// Fold each failed task's output in `::group::`/`::endgroup::` (GitHub Actions).
    fold_failures: bool,
    budget: Arc<Budget>,
    /// The size asked for each stdout pipe, from [`STDOUT_PIPES_TOTAL`] and the workers.
    stdout_pipe: usize,
    pool: Mutex<Vec<Streams>>,
    ordered: Mutex<Ordered>,
}

/// A task's output from [`Output::begin`] to [`Output::end`]: the child's ends of the pipes
/// (taken by the spawn) and ours.
pub struct Capture {
    pub stdout: Option<Stdio>,
    pub stderr: Option<Stdio>,
    streams: Streams,
    /// Our ends of the stdout and stderr pipes, non-blocking, until each ends (not in tagged
    /// mode, whose threads read them).
    pipes: [Option<OwnedFd>; 2],
    tagged: Option<(JoinHandle<Tee>, JoinHandle<Tee>)>,
    budget: Arc<Budget>,
}

impl Capture {
    /// Adds a line of batchrun's own to the attempt's stderr (it is printed, kept in the tail
    /// and in its log as the task's own lines are), after the task has ended.
    pub fn note(&mut self, line: &str) {
        let _ = self.streams.err.append(format!("{line}\n").as_bytes(), &self.budget);
    }

    /// The pipes to watch while the task runs.
    pub fn open_pipes(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.pipes.iter().flatten().map(std::os::fd::AsFd::as_fd)
    }

    /// Reads what the pipes hold now, so that a task printing more than a pipe holds never
    /// waits for us long. A pipe that ended (or failed) is closed.
    pub fn collect(&mut self) {
        let Capture { streams, pipes, budget, .. } = self;
        for (pipe, collected) in pipes.iter_mut().zip([&mut streams.out, &mut streams.err]) {
            if let Some(fd) = pipe
                && !collected.read_from(&*fd, budget).unwrap_or(false)
            {
                *pipe = None;
            }
        }
    }
}

/// What [`Output::end`] needs to know about the attempt.
pub struct Ending<'a> {
    pub seq: u64,
    pub label: &'a str,
    pub job: &'a str,
    pub index: u64,
    pub attempt: u32,
    pub failed: bool,
    /// Batchrun stopped it (an interrupt, a kill): its folded output says so, not "failed".
    pub cancelled: bool,
    /// The task will not run again: print its output.
    pub last_attempt: bool,
}

/// What [`Output::end`] kept of a failed attempt.
#[derive(Debug, Default)]
pub struct Kept {
    pub stderr_tail: Vec<String>,
    /// The head and tail of each stream, for the reports.
    pub evidence: Option<Box<crate::evidence::Evidence>>,
    pub log: Option<PathBuf>,
    /// The attempt's output could not all be written to our stdout or stderr (a closed pipe,
    /// a full disk): why. It is then kept in the log instead.
    pub undelivered: Option<String>,
}

/// What a `tagged` reader thread ends with: the stream as collected, and the first error
/// writing it out, if any.
type Tee = (Collected, Option<io::Error>);

impl Output {
    /// `workers`: how many tasks may run at once.
    pub fn new(
        mode: OutputMode,
        console: Arc<dyn OutputSink>,
        logs: Logs,
        fold_failures: bool,
        workers: usize,
    ) -> Output {
        Output {
            mode,
            console,
            logs,
            fold_failures,
            budget: Arc::new(Budget::new(MEMORY_BUDGET)),
            stdout_pipe: (STDOUT_PIPES_TOTAL / workers.max(1)).clamp(64 << 10, MAX_PIPE),
            pool: Mutex::new(Vec::new()),
            ordered: Mutex::new(Ordered::default()),
        }
    }

    /// Sets up the output of an attempt of the task `label`.
    /// The run's state folder.
    pub fn state(&self) -> &StateDir {
        &self.logs.state
    }

    pub fn begin(&self, label: &str) -> io::Result<Capture> {
        let mut streams = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default();
        let (out_r, out_w) = io::pipe()?;
        let (err_r, err_w) = io::pipe()?;
        let mut capture = Capture {
            stdout: None,
            stderr: None,
            streams: Streams::default(),
            pipes: [None, None],
            tagged: None,
            budget: self.budget.clone(),
        };
        if self.mode == OutputMode::Tagged {
            let prefix = format!("{label} | ");
            let tee = |reader: io::PipeReader, mut collected: Collected, stream: Stream| {
                let (console, budget, prefix) = (self.console.clone(), self.budget.clone(), prefix.clone());
                std::thread::spawn(move || {
                    let mut failed = None;
                    tag_lines(reader, &prefix, |line| {
                        if failed.is_none() {
                            failed = console.write(stream, line).err();
                        }
                        let _ = collected.append(&line[prefix.len()..], &budget);
                    });
                    (collected, failed)
                })
            };
            let out = tee(out_r, std::mem::take(&mut streams.out), Stream::Stdout);
            let err = tee(err_r, std::mem::take(&mut streams.err), Stream::Stderr);
            capture.tagged = Some((out, err));
            (capture.stdout, capture.stderr) = (Some(Stdio::from(out_w)), Some(Stdio::from(err_w)));
        } else {
            for reader in [&out_r, &err_r] {
                rustix::fs::fcntl_setfl(reader, rustix::fs::OFlags::NONBLOCK)?;
            }
            // Best effort: a system with lower limits keeps the default size.
            let _ = rustix::pipe::fcntl_setpipe_size(&out_r, self.stdout_pipe);
            capture.pipes = [Some(out_r.into()), Some(err_r.into())];
            (capture.stdout, capture.stderr) = (Some(Stdio::from(out_w)), Some(Stdio::from(err_w)));
        }
        capture.streams = streams;
        Ok(capture)
    }

    /// Prints an attempt's output as its mode says, and keeps what a failure needs. Must be
    /// called once the child (and its process group) has ended, and the command that held the
    /// child's ends of the pipes is dropped.
    pub fn end(&self, capture: Capture, ending: &Ending) -> Kept {
        let mut capture = capture;
        // The child's ends, when it never started, must close, or the pipes never end.
        drop((capture.stdout.take(), capture.stderr.take()));
        // What the pipes still hold. The task's group is gone; a process that left it and still
        // holds a pipe open is not waited for.
        capture.collect();
        let Capture { mut streams, tagged, .. } = capture;
        let mut kept = Kept::default();
        let mut delivered = Ok(());
        if let Some((out, err)) = tagged {
            let (out, out_failed) = out.join().unwrap_or_default();
            let (err, err_failed) = err.join().unwrap_or_default();
            (streams.out, streams.err) = (out, err);
            if let Some(e) = out_failed.or(err_failed) {
                delivered = Err(e);
            }
        }
        let lost: Vec<String> = [("stdout", &streams.out), ("stderr", &streams.err)]
            .into_iter()
            .filter_map(|(name, c)| {
                c.lost().map(|(e, bytes)| format!("{bytes} bytes of its {name} could not be kept ({e})"))
            })
            .collect();
        if !lost.is_empty() {
            let folder = std::env::temp_dir();
            kept.undelivered = Some(format!("{} in {}; the rest was kept", lost.join(", "), folder.display()));
        }
        if ending.failed {
            kept.stderr_tail = tail_lines(&streams.err.last_bytes(TAIL_BYTES));
            kept.evidence = Some(Box::new(crate::evidence::Evidence::of(&mut streams.out, &mut streams.err)));
        }
        if ending.failed || self.logs.keep_all || !lost.is_empty() {
            kept.log = self.save_log(&mut streams, ending);
        }
        let what = if ending.cancelled { "cancelled" } else { "failed" };
        let fold = (self.fold_failures && ending.failed).then(|| format!("{} {what}", ending.label));
        match self.mode {
            OutputMode::Ordered if ending.last_attempt => {
                // Printed now or when its turn comes; a failure is kept by position, for this
                // ending or (when printed later) for the dispatcher, which holds its record.
                self.print_in_order(ending.seq, Pending::Done(streams, fold));
                if let Some(e) = self.take_failed(ending.seq) {
                    kept.undelivered = Some(kept.undelivered.map_or(e.clone(), |lost| format!("{e}; {lost}")));
                }
                return kept;
            }
            OutputMode::Grouped if ending.last_attempt => delivered = self.print(&mut streams, fold.as_deref()),
            _ => {}
        }
        if let Err(e) = delivered {
            // Not delivered, so kept: the log is the output's only copy now.
            if kept.log.is_none() {
                kept.log = self.save_log(&mut streams, ending);
            }
            kept.undelivered = Some(kept.undelivered.map_or_else(|| e.to_string(), |lost| format!("{e}; {lost}")));
        }
        self.recycle(streams);
        kept
    }

    /// Prints the output a failed attempt left in its log `stem`, when that attempt became the
    /// task's last after it ended (a stop gave up its retry): only the last attempt's output is
    /// printed, and this one was held back for the retry. With `--output ordered` it takes the
    /// task's place `seq`. An error says the output did not all arrive.
    pub fn replay(&self, seq: u64, label: &str, stem: Option<&Path>) -> Result<(), String> {
        let fold = self.fold_failures.then(|| format!("{label} failed"));
        match (self.mode, stem) {
            (OutputMode::Ordered, Some(stem)) => {
                self.print_in_order(seq, Pending::Log(stem.to_path_buf(), fold));
                self.take_failed(seq).map_or(Ok(()), Err)
            }
            (OutputMode::Grouped, Some(stem)) => self.print_log(stem, fold.as_deref()).map_err(|e| e.to_string()),
            (OutputMode::Ordered | OutputMode::Grouped, None) => {
                // Its place must still be passed, or every later task's output waits for it.
                self.nothing(seq, 1);
                Err("its log could not be saved".into())
            }
            _ => Ok(()),
        }
    }

    /// Writes an attempt's log files (their `stem`) as one block per stream, streamed from the
    /// files rather than read into memory.
    fn print_log(&self, stem: &Path, fold: Option<&str>) -> io::Result<()> {
        if let Some(title) = fold {
            self.console.write(Stream::Stdout, format!("::group::{title}\n").as_bytes())?;
        }
        for (stream, ext) in [(Stream::Stdout, "out"), (Stream::Stderr, "err")] {
            let path = log_file(stem, ext);
            let mut file = self
                .logs
                .state
                .open(&path, Open::Read)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))?;
            if file.metadata()?.len() > 0 {
                self.console.write_block(stream, &mut |mut out| io::copy(&mut file, &mut out).map(drop))?;
            }
        }
        if fold.is_some() {
            self.console.write(Stream::Stdout, b"::endgroup::\n")?;
        }
        Ok(())
    }

    /// Writes the streams to the attempt's log files; returns their stem.
    fn save_log(&self, streams: &mut Streams, e: &Ending) -> Option<PathBuf> {
        let stem = log_stem(&self.logs.state.logs(), e.job, e.index, e.attempt);
        let dir = stem.parent().map(Path::to_path_buf).unwrap_or_default();
        let save = |collected: &mut Collected, path: &Path| {
            collected.write_to(&mut self.logs.state.open(path, Open::Replace)?)
        };
        let saved = save(&mut streams.out, &log_file(&stem, "out"))
            .and_then(|()| save(&mut streams.err, &log_file(&stem, "err")));
        match saved {
            Ok(()) => Some(stem),
            Err(err) => {
                let _ = self.console.write(
                    Stream::Stderr,
                    format!("batchrun: cannot save the log of {}[{}] in {}: {err}\n", e.job, e.index, dir.display())
                        .as_bytes(),
                );
                None
            }
        }
    }

    /// Writes a task's output as one block per stream; the first error says it did not all
    /// arrive.
    fn print(&self, streams: &mut Streams, fold: Option<&str>) -> io::Result<()> {
        if let Some(title) = fold {
            self.console.write(Stream::Stdout, format!("::group::{title}\n").as_bytes())?;
        }
        for (stream, collected) in [(Stream::Stdout, &mut streams.out), (Stream::Stderr, &mut streams.err)] {
            if collected.len() > 0 {
                self.console.write_block(stream, &mut |mut out| collected.write_to(&mut out))?;
            }
        }
        if fold.is_some() {
            self.console.write(Stream::Stdout, b"::endgroup::\n")?;
        }
        Ok(())
    }

    /// Empties the streams and keeps them for another task (or frees them if that fails).
    fn recycle(&self, mut streams: Streams) {
        let reset = streams.out.reset(&self.budget).and_then(|()| streams.err.reset(&self.budget));
        if reset.is_ok() {
            self.pool.lock().unwrap_or_else(|e| e.into_inner()).push(streams);
        } else {
            streams.out.release(&self.budget);
            streams.err.release(&self.budget);
        }
    }
}
