//! Where task output goes, per `--output` mode, without ever interleaving or holding it whole.
//!
//! Every attempt's stdout and stderr go to a pair of spool files (unnamed temporary files,
//! reused from a pool, so no file is created per task). What happens next depends on the mode:
//!
//! - `grouped`: when the task ends, each spool is copied as one block to our stdout / stderr.
//! - `ordered`: the same, in plan order. A finished task's spools wait (as open files, not
//!   memory) until every earlier task has printed; the dispatcher stops starting tasks more than
//!   [`ORDERED_WINDOW`] ahead of the oldest unprinted one, which bounds the files kept open.
//! - `tagged`: the child writes to pipes; two threads copy each line to the spools and, prefixed
//!   with the task's label, to our stdout / stderr as it comes.
//! - `none`: nothing is printed.
//!
//! Only a task's last attempt is printed. A failed attempt's spools are saved as its log (every
//! attempt's with `--keep-logs`), and the last lines of its stderr go to the summary.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
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

/// Where logs go: `<dir>/<job>/<index>.<attempt>.out|err`.
#[derive(Debug, Clone)]
pub struct Logs {
    pub dir: PathBuf,
    /// Keep every attempt's output, not only failed ones.
    pub keep_all: bool,
}

/// A pair of spool files: the task's stdout and stderr.
struct Spools {
    out: File,
    err: File,
}

impl Spools {
    fn new() -> io::Result<Spools> {
        Ok(Spools { out: tempfile::tempfile()?, err: tempfile::tempfile()? })
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
    /// Output to print, with the title of the fold around it, if any.
    Done(Spools, Option<String>),
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
    logs: Logs,
    /// Fold each failed task's output in `::group::`/`::endgroup::` (GitHub Actions).
    fold_failures: bool,
    pool: Mutex<Vec<Spools>>,
    ordered: Mutex<Ordered>,
}

/// The child's side of a task's output, from [`Output::begin`] to [`Output::end`].
pub struct Capture {
    pub stdout: Option<Stdio>,
    pub stderr: Option<Stdio>,
    spools: Spools,
    tagged: Option<(JoinHandle<()>, JoinHandle<()>)>,
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
}

impl Output {
    pub fn new(mode: OutputMode, console: Arc<Console>, logs: Logs, fold_failures: bool) -> Output {
        Output {
            mode,
            console,
            logs,
            fold_failures,
            pool: Mutex::new(Vec::new()),
            ordered: Mutex::new(Ordered { next: 0, pending: BTreeMap::new() }),
        }
    }

    /// Sets up the output of an attempt of the task `label`.
    pub fn begin(&self, label: &str) -> io::Result<Capture> {
        let mut spools = match self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            Some(s) => s,
            None => Spools::new()?,
        };
        spools.reset()?;
        if self.mode == OutputMode::Tagged {
            return self.begin_tagged(label, spools);
        }
        let stdout = Stdio::from(spools.out.try_clone()?);
        let stderr = Stdio::from(spools.err.try_clone()?);
        Ok(Capture { stdout: Some(stdout), stderr: Some(stderr), spools, tagged: None })
    }

    fn begin_tagged(&self, label: &str, spools: Spools) -> io::Result<Capture> {
        let (out_r, out_w) = io::pipe()?;
        let (err_r, err_w) = io::pipe()?;
        let prefix = format!("{label} | ");
        let tee = |reader: io::PipeReader, mut spool: File, stream: Stream| {
            let console = self.console.clone();
            let prefix = prefix.clone();
            std::thread::spawn(move || {
                tag_lines(reader, &prefix, |line| {
                    console.write(stream, line);
                    let _ = spool.write_all(&line[prefix.len()..]);
                })
            })
        };
        let out = tee(out_r, spools.out.try_clone()?, Stream::Stdout);
        let err = tee(err_r, spools.err.try_clone()?, Stream::Stderr);
        Ok(Capture {
            stdout: Some(Stdio::from(out_w)),
            stderr: Some(Stdio::from(err_w)),
            spools,
            tagged: Some((out, err)),
        })
    }

    /// Prints an attempt's output as its mode says, and keeps what a failure needs. Must be
    /// called once the child (and its process group) has ended.
    pub fn end(&self, capture: Capture, ending: &Ending) -> Kept {
        let Capture { stdout, stderr, mut spools, tagged } = capture;
        // Our copies of the child's ends must close, or the tagged readers never see EOF.
        drop((stdout, stderr));
        if let Some((out, err)) = tagged {
            let _ = out.join();
            let _ = err.join();
        }
        let mut kept = Kept::default();
        if ending.failed {
            kept.stderr_tail = tail_of(&mut spools.err);
        }
        if ending.failed || self.logs.keep_all {
            kept.log = self.save_log(&mut spools, ending);
        }
        let fold = (self.fold_failures && ending.failed).then(|| format!("{} failed", ending.label));
        match self.mode {
            OutputMode::Ordered if ending.last_attempt => self.print_in_order(ending.seq, Pending::Done(spools, fold)),
            OutputMode::Grouped if ending.last_attempt => {
                self.print(&mut spools, fold.as_deref());
                self.recycle(spools);
            }
            _ => self.recycle(spools),
        }
        kept
    }

    /// Copies the spools to `<logs>/<job>/<index>.<attempt>.out|err`; returns the path stem.
    fn save_log(&self, spools: &mut Spools, e: &Ending) -> Option<PathBuf> {
        let dir = self.logs.dir.join(e.job);
        let stem = dir.join(format!("{}.{}", e.index, e.attempt));
        let save = |file: &mut File, path: &Path| -> io::Result<()> {
            file.seek(SeekFrom::Start(0))?;
            io::copy(file, &mut File::create(path)?).map(drop)
        };
        let saved = std::fs::create_dir_all(&dir)
            .and_then(|()| save(&mut spools.out, &dir.join(format!("{}.{}.out", e.index, e.attempt))))
            .and_then(|()| save(&mut spools.err, &dir.join(format!("{}.{}.err", e.index, e.attempt))));
        match saved {
            Ok(()) => Some(stem),
            Err(err) => {
                self.console.write(
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
                Some(Pending::Done(mut spools, fold)) => {
                    self.print(&mut spools, fold.as_deref());
                    self.recycle(spools);
                    ordered.next += 1;
                }
                Some(Pending::Nothing(count)) => ordered.next += count,
                None => break,
            }
        }
    }

    fn print(&self, spools: &mut Spools, fold: Option<&str>) {
        if let Some(title) = fold {
            self.console.write(Stream::Stdout, format!("::group::{title}\n").as_bytes());
        }
        for (stream, file) in [(Stream::Stdout, &mut spools.out), (Stream::Stderr, &mut spools.err)] {
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            self.console.copy_file(stream, file, len);
        }
        if fold.is_some() {
            self.console.write(Stream::Stdout, b"::endgroup::\n");
        }
    }

    fn recycle(&self, spools: Spools) {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).push(spools);
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

/// The last few lines of a spool (or log) file, read from its end.
pub fn tail_of(file: &mut File) -> Vec<String> {
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
