//! Where task output goes, per `--output` mode, without ever interleaving or holding it whole.
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

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::collect::{Budget, Collected, MEMORY_BUDGET};
use crate::events::{OutputSink, Stream};
use crate::state_dir::{log_file, log_stem};

/// How many tasks `ordered` mode lets run ahead of the oldest one not yet printed.
pub const ORDERED_WINDOW: u64 = 128;
/// Lines of stderr kept for the summary of a failed task.
pub const TAIL_LINES: usize = 5;
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

/// Where logs go (see [`crate::state_dir::log_stem`]).
#[derive(Debug, Clone)]
pub struct Logs {
    pub dir: PathBuf,
    /// Keep every attempt's output, not only failed ones.
    pub keep_all: bool,
}

/// A task's stdout and stderr, as collected.
#[derive(Debug, Default)]
struct Streams {
    out: Collected,
    err: Collected,
}

enum Pending {
    /// Output to print, with the title of the fold around it, if any.
    Done(Streams, Option<String>),
    /// Tasks that ended without output to print (skipped, or not started), as a run of seqs.
    Nothing(u64),
}

struct Ordered {
    next: u64,
    pending: BTreeMap<u64, Pending>,
    /// Tasks whose held-back output could not be written when its turn came, by plan
    /// position, with why: taken by the task's own ending or by the dispatcher.
    failed: BTreeMap<u64, String>,
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
    /// The task will not run again: print its output.
    pub last_attempt: bool,
}

/// What [`Output::end`] kept of a failed attempt.
#[derive(Debug, Default)]
pub struct Kept {
    pub stderr_tail: Vec<String>,
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
            ordered: Mutex::new(Ordered { next: 0, pending: BTreeMap::new(), failed: BTreeMap::new() }),
        }
    }

    /// Sets up the output of an attempt of the task `label`.
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
        }
        if ending.failed || self.logs.keep_all || !lost.is_empty() {
            kept.log = self.save_log(&mut streams, ending);
        }
        let fold = (self.fold_failures && ending.failed).then(|| format!("{} failed", ending.label));
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

    /// Writes the streams to the attempt's log files; returns their stem.
    fn save_log(&self, streams: &mut Streams, e: &Ending) -> Option<PathBuf> {
        let stem = log_stem(&self.logs.dir, e.job, e.index, e.attempt);
        let dir = stem.parent().map(Path::to_path_buf).unwrap_or_default();
        let save = |collected: &mut Collected, path: &Path| collected.write_to(&mut File::create(path)?);
        let saved = std::fs::create_dir_all(&dir)
            .and_then(|()| save(&mut streams.out, &log_file(&stem, "out")))
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
            if let Pending::Done(mut streams, fold) = entry {
                if let Err(e) = self.print(&mut streams, fold.as_deref()) {
                    ordered.failed.insert(seq, e.to_string());
                }
                self.recycle(streams);
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
    fn print_in_order(&self, seq: u64, entry: Pending) {
        let mut ordered = self.ordered.lock().unwrap_or_else(|e| e.into_inner());
        ordered.pending.insert(seq, entry);
        loop {
            let next = ordered.next;
            match ordered.pending.remove(&next) {
                Some(Pending::Done(mut streams, fold)) => {
                    if let Err(e) = self.print(&mut streams, fold.as_deref()) {
                        ordered.failed.insert(next, e.to_string());
                    }
                    self.recycle(streams);
                    ordered.next += 1;
                }
                Some(Pending::Nothing(count)) => ordered.next += count,
                None => break,
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

/// Longest line `tagged` mode holds before passing it on in pieces, so a task that prints
/// megabytes without a newline cannot make batchrun hold them.
const MAX_TAGGED_LINE: usize = 64 * 1024;

/// Reads `reader` line by line (bytes, not UTF-8: output is passed on as written) and hands
/// each line, prefixed, to `emit`. A line longer than [`MAX_TAGGED_LINE`] is passed on in pieces,
/// and a last line without a newline gets one.
fn tag_lines(reader: impl Read, prefix: &str, mut emit: impl FnMut(&[u8])) {
    let mut reader = BufReader::with_capacity(MAX_TAGGED_LINE, reader);
    let mut line = prefix.as_bytes().to_vec();
    loop {
        let (used, complete) = match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(buf) => {
                let room = MAX_TAGGED_LINE - (line.len() - prefix.len());
                match buf.iter().take(room).position(|&b| b == b'\n') {
                    Some(at) => {
                        line.extend_from_slice(&buf[..=at]);
                        (at + 1, true)
                    }
                    None => {
                        let take = buf.len().min(room);
                        line.extend_from_slice(&buf[..take]);
                        (take, line.len() - prefix.len() >= MAX_TAGGED_LINE)
                    }
                }
            }
        };
        reader.consume(used);
        if complete {
            if line.last() != Some(&b'\n') {
                line.push(b'\n');
            }
            emit(&line);
            line.truncate(prefix.len());
        }
    }
    if line.len() > prefix.len() {
        line.push(b'\n');
        emit(&line);
    }
}

/// How far from its end the tail of a stream is looked for.
const TAIL_BYTES: u64 = 4096;

/// The last few lines of a log file, read from its end.
pub fn tail_of(file: &mut File) -> Vec<String> {
    let mut read = || -> io::Result<Vec<u8>> {
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    tail_lines(&read().unwrap_or_default())
}

/// The last few non-blank lines of `bytes`.
fn tail_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].iter().map(|l| (*l).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(input: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        tag_lines(input, "t | ", |l| lines.push(l.to_vec()));
        lines
    }

    #[test]
    fn lines_are_prefixed_and_the_last_one_completed() {
        assert_eq!(
            tagged(b"a\nb\n\nc"),
            [b"t | a\n".to_vec(), b"t | b\n".to_vec(), b"t | \n".to_vec(), b"t | c\n".to_vec()]
        );
        assert!(tagged(b"").is_empty());
    }

    #[test]
    fn a_huge_line_is_passed_on_in_bounded_pieces() {
        let input = vec![b'x'; MAX_TAGGED_LINE * 2 + 10];
        let lines = tagged(&input);
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.len() <= MAX_TAGGED_LINE + 5));
        let total: usize = lines.iter().map(|l| l.len() - 5).sum();
        assert_eq!(total, input.len());
    }
}
