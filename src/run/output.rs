//! Where task output goes, per `--output` mode, without ever interleaving or holding it whole.
//!
//! - `grouped`: the child writes to two spool files (unnamed temporary files, reused by the next
//!   task); when it ends, each is copied as one block to our stdout / stderr.
//! - `ordered`: the same, but blocks are printed in plan order. A finished task's spools wait
//!   (as open files, not memory) until every earlier task has printed; the dispatcher stops
//!   starting tasks more than [`ORDERED_WINDOW`] ahead of the oldest unprinted one, which bounds
//!   the files kept open.
//! - `tagged`: pipes, read live by two threads that prefix each line with the task's label.
//! - `none`: stdout is discarded; stderr is spooled only for the failure summary.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::console::{Console, Stream};

/// How many tasks `ordered` mode lets run ahead of the oldest one not yet printed.
pub const ORDERED_WINDOW: u64 = 128;
/// Lines of stderr kept for the summary of a failed task.
pub const TAIL_LINES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputMode {
    Grouped,
    Ordered,
    Tagged,
    None,
}

/// A pair of spool files: the task's stdout and stderr.
struct Spools {
    out: File,
    err: File,
}

impl Spools {
    fn new() -> io::Result<Spools> {
        Ok(Spools {
            out: tempfile::tempfile()?,
            err: tempfile::tempfile()?,
        })
    }

    fn reset(&mut self) -> io::Result<()> {
        for f in [&mut self.out, &mut self.err] {
            f.set_len(0)?;
            f.seek(SeekFrom::Start(0))?;
        }
        Ok(())
    }
}

enum Pending {
    Done(Spools),
    /// Tasks that ended without output to print (skipped, or not started), as a run of seqs.
    Nothing(u64),
}

struct Ordered {
    next: u64,
    pending: BTreeMap<u64, Pending>,
}

pub struct Output {
    mode: OutputMode,
    console: Arc<Console>,
    pool: Mutex<Vec<Spools>>,
    ordered: Mutex<Ordered>,
}

/// The child's side of a task's output, from [`Output::begin`] to [`Output::end`].
pub struct Capture {
    pub stdout: Stdio,
    pub stderr: Stdio,
    kind: CaptureKind,
}

enum CaptureKind {
    Spooled(Spools),
    Tagged {
        out: JoinHandle<()>,
        err: JoinHandle<Vec<String>>,
    },
}

impl Output {
    pub fn new(mode: OutputMode, console: Arc<Console>) -> Output {
        Output {
            mode,
            console,
            pool: Mutex::new(Vec::new()),
            ordered: Mutex::new(Ordered {
                next: 0,
                pending: BTreeMap::new(),
            }),
        }
    }

    pub fn mode(&self) -> OutputMode {
        self.mode
    }

    /// Sets up the output of the task `label`.
    pub fn begin(&self, label: &str) -> io::Result<Capture> {
        if self.mode == OutputMode::Tagged {
            return self.begin_tagged(label);
        }
        let mut spools = match self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            Some(s) => s,
            None => Spools::new()?,
        };
        spools.reset()?;
        let stdout = match self.mode {
            OutputMode::None => Stdio::null(),
            _ => Stdio::from(spools.out.try_clone()?),
        };
        let stderr = Stdio::from(spools.err.try_clone()?);
        Ok(Capture {
            stdout,
            stderr,
            kind: CaptureKind::Spooled(spools),
        })
    }

    fn begin_tagged(&self, label: &str) -> io::Result<Capture> {
        let (out_r, out_w) = io::pipe()?;
        let (err_r, err_w) = io::pipe()?;
        let prefix = format!("{label} | ");
        let (c1, c2, p2) = (self.console.clone(), self.console.clone(), prefix.clone());
        let out = std::thread::spawn(move || {
            tag_lines(out_r, &prefix, |line| c1.write(Stream::Stdout, line));
        });
        let err = std::thread::spawn(move || {
            let mut tail = std::collections::VecDeque::with_capacity(TAIL_LINES);
            tag_lines(err_r, &p2, |line| {
                c2.write(Stream::Stderr, line);
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                let text = String::from_utf8_lossy(&line[p2.len()..]);
                tail.push_back(text.trim_end_matches(['\n', '\r']).to_owned());
            });
            tail.into()
        });
        Ok(Capture {
            stdout: Stdio::from(out_w),
            stderr: Stdio::from(err_w),
            kind: CaptureKind::Tagged { out, err },
        })
    }

    /// Prints the task's output as its mode says, and returns the tail of its stderr when it
    /// `failed`. Must be called once the child has exited.
    pub fn end(&self, seq: u64, capture: Capture, failed: bool) -> Vec<String> {
        // Our copies of the child's ends must close, or the tagged readers never see EOF.
        drop((capture.stdout, capture.stderr));
        match capture.kind {
            CaptureKind::Tagged { out, err } => {
                let _ = out.join();
                let tail = err.join().unwrap_or_default();
                if failed { tail } else { Vec::new() }
            }
            CaptureKind::Spooled(mut spools) => {
                let tail = if failed {
                    tail_of(&mut spools.err)
                } else {
                    Vec::new()
                };
                match self.mode {
                    OutputMode::Ordered => self.print_in_order(seq, Pending::Done(spools)),
                    OutputMode::Grouped => {
                        self.print(&mut spools);
                        self.recycle(spools);
                    }
                    _ => self.recycle(spools),
                }
                tail
            }
        }
    }

    /// Records that `count` tasks from `seq` on will print nothing (ordered mode waits for them).
    pub fn nothing(&self, seq: u64, count: u64) {
        if self.mode == OutputMode::Ordered && count > 0 {
            self.print_in_order(seq, Pending::Nothing(count));
        }
    }

    /// Whether the task at `seq` may start now (ordered mode bounds how far ahead runs go).
    pub fn may_start(&self, seq: u64) -> bool {
        self.mode != OutputMode::Ordered
            || seq < self.ordered.lock().unwrap_or_else(|e| e.into_inner()).next + ORDERED_WINDOW
    }

    fn print_in_order(&self, seq: u64, entry: Pending) {
        let mut ordered = self.ordered.lock().unwrap_or_else(|e| e.into_inner());
        ordered.pending.insert(seq, entry);
        loop {
            let next = ordered.next;
            match ordered.pending.remove(&next) {
                Some(Pending::Done(mut spools)) => {
                    self.print(&mut spools);
                    self.recycle(spools);
                    ordered.next += 1;
                }
                Some(Pending::Nothing(count)) => ordered.next += count,
                None => break,
            }
        }
    }

    fn print(&self, spools: &mut Spools) {
        for (stream, file) in [
            (Stream::Stdout, &mut spools.out),
            (Stream::Stderr, &mut spools.err),
        ] {
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            self.console.copy_file(stream, file, len);
        }
    }

    fn recycle(&self, spools: Spools) {
        self.pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(spools);
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

/// The last few lines of a spool file, read from its end.
fn tail_of(file: &mut File) -> Vec<String> {
    const TAIL_BYTES: u64 = 4096;
    let mut read = || -> io::Result<Vec<u8>> {
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let bytes = read().unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
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
            [
                b"t | a\n".to_vec(),
                b"t | b\n".to_vec(),
                b"t | \n".to_vec(),
                b"t | c\n".to_vec()
            ]
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
