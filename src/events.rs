//! What the runner tells the outside world.
//!
//! Events are the only link between the dispatcher and the reporters (progress bar, plain
//! lines, summary): every event carries the current [`Counts`], so reporters keep no counting
//! logic of their own. Reporters receive events on the dispatcher's thread, in order.

use std::fs::File;
use std::io;
use std::time::Duration;

/// Tallies of the whole run, as of an event: the one counts view every format writes (the
/// journal's run end, `--events json`, the report), each field read as 0 when a line written
/// by an older batchrun lacks it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Counts {
    pub total: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Stopped by batchrun (an interrupt, `on_failure: kill`, a halt): not failed, and not done.
    pub cancelled: u64,
    /// Of `succeeded`, those that failed first and passed on a retry.
    #[serde(skip_serializing_if = "is_zero")]
    pub flaky: u64,
    /// Of `failed`, those in a job with `allow_failure`: they do not fail the run.
    #[serde(skip_serializing_if = "is_zero")]
    pub allowed: u64,
    /// Not run because a job they need failed or was skipped.
    pub skipped: u64,
    /// Not run because the run stopped first (an interrupt, `on_failure: stop`, output that
    /// could not be delivered).
    pub not_run: u64,
    /// Done in an earlier run (`--resume`): not run again.
    pub already_done: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Counts {
    /// Tasks that will not run again in this run: every planned task once the run has ended
    /// (the invariant the summary checks: done earlier + succeeded + failed + cancelled + skipped + not run
    /// = planned).
    pub fn done(&self) -> u64 {
        self.succeeded + self.failed + self.cancelled + self.skipped + self.not_run + self.already_done
    }

    /// Planned tasks that no count holds once the run has ended: always 0, unless batchrun
    /// lost track of some, which the summary then says.
    pub fn unaccounted(&self) -> u64 {
        self.total.saturating_sub(self.done())
    }
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// Exited with a non-zero code.
    Exited(i32),
    /// Killed by a signal (its number) that batchrun did not send.
    Signalled(i32),
    /// Ran past its `timeout` and was stopped.
    TimedOut(Duration),
    /// Stopped by batchrun: an interrupt, or `on_failure: kill` after another task failed.
    Cancelled,
    /// Could not be started (command not found, bad cwd, …) or rendered.
    NotStarted(String),
    /// Its runner vanished without saying how it ended: a Slurm array element that the
    /// scheduler reports ended (TIMEOUT, NODE_FAIL, CANCELLED by someone else, …).
    Lost(String),
    /// It succeeded, but its output could not be written to batchrun's stdout or stderr (a
    /// closed pipe, a full disk): not done, its output kept in its log.
    Undelivered(String),
    /// Its command succeeded but its work was not done: its `verify` failed, or its declared
    /// product could not be committed (it wrote none, or the rename failed).
    ProductFailed(String),
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        *self == Outcome::Succeeded
    }

    /// Why it did not start, was lost, or was not delivered.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::NotStarted(why) | Outcome::Lost(why) | Outcome::Undelivered(why) | Outcome::ProductFailed(why) => {
                Some(why)
            }
            _ => None,
        }
    }

    /// `exit 1`, `signal 9 (SIGKILL)`, `not started: …`, for summaries and log lines.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Succeeded => "ok".into(),
            Outcome::Exited(code) => format!("exit {code}"),
            Outcome::Signalled(sig) => match signal_name(*sig) {
                Some(name) => format!("signal {sig} ({name})"),
                None => format!("signal {sig}"),
            },
            Outcome::TimedOut(after) => format!("timed out after {}", humantime::format_duration(*after)),
            Outcome::Cancelled => "cancelled".into(),
            Outcome::NotStarted(why) => format!("not started: {why}"),
            Outcome::Lost(why) => format!("lost: {why}"),
            Outcome::Undelivered(why) => format!("output not delivered: {why}"),
            Outcome::ProductFailed(why) => format!("not done: {why}"),
        }
    }
}

fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// An outcome as the journal, `--events json` and the reports state it. One mapping, here, so
/// the three formats cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Failed,
    Signalled,
    Timeout,
    Cancelled,
    NotStarted,
    /// Its Slurm array element ended without recording how the task ended.
    Lost,
    /// It succeeded but its output could not be written out: not done.
    Undelivered,
    /// Its command succeeded but its product could not be committed: not done.
    ProductFailed,
    /// Reports only: not run because a job it needs did not succeed.
    Skipped,
    /// Reports only: not run because the run stopped first.
    NotRun,
}

impl Status {
    /// An outcome as records and reports state it: status, exit code, signal.
    pub fn of(outcome: &Outcome) -> (Status, Option<i32>, Option<i32>) {
        match outcome {
            Outcome::Succeeded => (Status::Ok, Some(0), None),
            Outcome::Exited(code) => (Status::Failed, Some(*code), None),
            Outcome::Signalled(sig) => (Status::Signalled, None, Some(*sig)),
            Outcome::TimedOut(_) => (Status::Timeout, None, None),
            Outcome::Cancelled => (Status::Cancelled, None, None),
            Outcome::NotStarted(_) => (Status::NotStarted, None, None),
            Outcome::Lost(_) => (Status::Lost, None, None),
            Outcome::Undelivered(_) => (Status::Undelivered, Some(0), None),
            Outcome::ProductFailed(_) => (Status::ProductFailed, Some(0), None),
        }
    }
}

/// Now, as records and reports write time: RFC 3339, UTC, milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// The tasks of a job that will not run, by index: `from..to`, and `also` (tasks queued when
/// the run stopped, which never started).
#[derive(Clone, Copy)]
pub struct Unrun<'a> {
    /// Index of the job in the job file.
    pub job: usize,
    pub from: u64,
    pub to: u64,
    pub also: &'a [u64],
    /// Calls back with each of these tasks, in index order: its index, label and key. Their
    /// commands are rendered only when a listener asks (keys count repeated commands), so a
    /// listener that needs only the count costs nothing.
    pub tasks: &'a dyn Fn(&mut UnrunTask),
}

/// What [`Unrun::tasks`] calls back with for each task: its index, label and key.
pub type UnrunTask<'f> = dyn FnMut(u64, String, u64) + 'f;

impl std::fmt::Debug for Unrun<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Unrun({}, {}..{}, {:?})", self.job, self.from, self.to, self.also)
    }
}

/// A started attempt as every format states it: the journal's start record and `--events
/// json`'s `task_started` (each adds its own fields beside these).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaskStart {
    pub job: String,
    pub index: u64,
    pub label: String,
    /// The task's identity across runs, in hex.
    pub key: String,
    /// 1 for the first.
    pub attempt: u32,
}

impl TaskStart {
    pub fn of(task: &TaskRef, job: &str, attempt: u32) -> TaskStart {
        TaskStart {
            job: job.to_owned(),
            index: task.index,
            label: task.label.to_owned(),
            key: crate::task_key::format(task.key),
            attempt,
        }
    }
}

/// A finished attempt as every format states it: the journal's end record, `--events json`'s
/// `task_finished` and `task_retrying`, and each task of `--report run.json` (each adds its
/// own fields beside these). One view, so the field names cannot drift apart.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaskEnd {
    pub job: String,
    pub index: u64,
    pub label: String,
    /// The task's identity across runs, in hex.
    pub key: String,
    /// 1 for the first.
    pub attempt: u32,
    pub status: Status,
    #[serde(default)]
    pub exit: Option<i32>,
    #[serde(default)]
    pub signal: Option<i32>,
    pub duration_ms: u64,
    /// Why it did not start, was lost, or its output was not delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The product its attempt committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Committed>,
}

/// A product as committed: its final path (absolute), size and modification time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Committed {
    pub path: std::path::PathBuf,
    pub bytes: u64,
    /// Nanoseconds since the epoch, when the filesystem keeps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ns: Option<u64>,
    /// Its rows, when `verify` printed a count as its last line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// A committed product as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductNow {
    Intact,
    Missing,
    /// Another size or modification time: rewritten since.
    Changed,
}

impl Committed {
    pub fn now(&self) -> ProductNow {
        match std::fs::metadata(&self.path) {
            Err(_) => ProductNow::Missing,
            Ok(m) if !m.is_file() => ProductNow::Missing,
            Ok(m) if m.len() != self.bytes || (self.modified_ns.is_some() && modified_ns(&m) != self.modified_ns) => {
                ProductNow::Changed
            }
            Ok(_) => ProductNow::Intact,
        }
    }
}

/// A file's modification time, in nanoseconds since the epoch.
pub fn modified_ns(meta: &std::fs::Metadata) -> Option<u64> {
    let since = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    u64::try_from(since.as_nanos()).ok()
}

impl TaskEnd {
    /// A task that will not run (`status` says why: skipped or not run): attempt 0.
    pub fn unrun(job: &str, index: u64, label: String, key: u64, status: Status, reason: &str) -> TaskEnd {
        TaskEnd {
            job: job.to_owned(),
            index,
            label,
            key: crate::task_key::format(key),
            attempt: 0,
            status,
            exit: None,
            signal: None,
            duration_ms: 0,
            reason: Some(reason.to_owned()),
            product: None,
        }
    }

    pub fn of(task: &Finished, job: &str) -> TaskEnd {
        let (status, exit, signal) = Status::of(&task.outcome);
        TaskEnd {
            job: job.to_owned(),
            index: task.index,
            label: task.label.clone(),
            key: crate::task_key::format(task.key),
            attempt: task.attempt,
            status,
            exit,
            signal,
            duration_ms: u64::try_from(task.duration.as_millis()).unwrap_or(u64::MAX),
            reason: task.outcome.reason().map(str::to_owned),
            product: task.product.clone(),
        }
    }

    /// The outcome it states, back: [`Status::of`] the other way. A timeout states no limit:
    /// `timeout` is the task's (its duration when unknown).
    pub fn outcome(&self, timeout: Option<Duration>) -> Outcome {
        let reason = || self.reason.clone().unwrap_or_default();
        match self.status {
            Status::Ok => Outcome::Succeeded,
            Status::Failed => Outcome::Exited(self.exit.unwrap_or(1)),
            Status::Signalled => Outcome::Signalled(self.signal.unwrap_or(9)),
            Status::Timeout => Outcome::TimedOut(timeout.unwrap_or(Duration::from_millis(self.duration_ms))),
            Status::Cancelled => Outcome::Cancelled,
            Status::NotStarted | Status::Skipped | Status::NotRun => Outcome::NotStarted(reason()),
            Status::Lost => Outcome::Lost(reason()),
            Status::Undelivered => Outcome::Undelivered(reason()),
            Status::ProductFailed => Outcome::ProductFailed(reason()),
        }
    }
}

impl Finished {
    /// A task that ends without having run, or whose run left no record: one attempt, no
    /// output, no time.
    pub fn without_a_run(job: usize, index: u64, key: u64, label: String, outcome: Outcome) -> Finished {
        Finished {
            job,
            key,
            index,
            label,
            command: String::new(),
            outcome,
            duration: Duration::ZERO,
            attempt: 1,
            stderr_tail: Vec::new(),
            evidence: None,
            log: None,
            slot: None,
            product: None,
            allowed: false,
        }
    }
}

/// A task whose attempt starts, as listeners see it.
#[derive(Debug, Clone, Copy)]
pub struct TaskRef<'a> {
    /// Index of its job in the job file.
    pub job: usize,
    pub index: u64,
    /// Identity across runs.
    pub key: u64,
    pub label: &'a str,
    /// The command as rendered.
    pub command: &'a str,
}

/// A finished task, as reporters see it.
#[derive(Debug, Clone)]
pub struct Finished {
    pub job: usize,
    /// Identity across runs (see `plan/identity.rs`).
    pub key: u64,
    pub index: u64,
    pub label: String,
    pub command: String,
    pub outcome: Outcome,
    /// Of the last attempt.
    pub duration: Duration,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The last lines of its stderr, kept for failed attempts only.
    pub stderr_tail: Vec<String>,
    /// The head and tail of its stdout and stderr, kept for failed attempts only.
    pub evidence: Option<Box<crate::evidence::Evidence>>,
    /// Where its output was saved (`.out` and `.err` beside this stem), if it was.
    pub log: Option<std::path::PathBuf>,
    /// The worker that ran its last attempt (a local run), for a timeline's lanes.
    pub slot: Option<usize>,
    /// The product its attempt committed, when its job declares one.
    pub product: Option<Committed>,
    /// It failed in a job with `allow_failure`: reported, but the run does not fail for it.
    pub allowed: bool,
}

#[derive(Debug)]
pub enum Event<'a> {
    RunStarted {
        name: &'a str,
        counts: Counts,
        /// Tasks that may run at once: the local pool's size, or a Slurm run's throttle
        /// (0: none).
        workers: usize,
        /// `local` or `slurm`.
        backend: &'static str,
    },
    TaskStarted {
        task: TaskRef<'a>,
        attempt: u32,
        counts: Counts,
    },
    /// An attempt failed and the task will run again after `delay`; with `waits_for_worker`,
    /// every worker was busy then: it runs when one is free (first in line) after the delay.
    TaskRetrying {
        task: &'a Finished,
        delay: Duration,
        waits_for_worker: bool,
        counts: Counts,
    },
    /// The task's last attempt ended.
    TaskFinished {
        task: &'a Finished,
        counts: Counts,
    },
    /// A job was planned when it became ready (its items are read after the jobs it needs
    /// ran): `tasks` more are planned, and `counts.total` includes them. When it could not
    /// be planned, it counts as one task, which fails (or is not run, once the run stops), and
    /// `unplanned` says why.
    JobPlanned {
        job: &'a str,
        tasks: u64,
        unplanned: Option<&'a str>,
        counts: Counts,
    },
    /// A resumed run no longer counts the earlier results of `job`, which runs every task again
    /// when it runs: `because`, a job it depends on (however far up), renewed what it made in
    /// this run, and the earlier results were made from the old. The journal records it, so a
    /// later `--resume` does not trust them either.
    JobRerun {
        job: &'a str,
        because: &'a str,
        counts: Counts,
    },
    /// Tasks of a job that will not run: a job it needs did not succeed (skipped), or the run
    /// stopped before they started (`not_run`).
    JobSkipped {
        job: &'a str,
        tasks: u64,
        /// Which they are (for reports that list them).
        which: Unrun<'a>,
        reason: &'a str,
        not_run: bool,
        counts: Counts,
    },
    /// Something the run could not do that the user should know, which changes no count (no
    /// signal handling, Slurm not answering for a while): printed as `batchrun: warning: …`.
    Warning {
        message: &'a str,
    },
    /// No new task will start: a task failed under `on_failure: stop|kill`, or an interrupt.
    RunCancelling {
        reason: &'a str,
        counts: Counts,
    },
    RunFinished {
        counts: Counts,
        elapsed: Duration,
        interrupted_by: Option<i32>,
    },
}

/// Standard output or standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Where task output goes. Output is not an event: it is bytes, copied as they come or as one
/// block per task, and this is as direct as writing to the file itself.
pub trait OutputSink: Send + Sync {
    /// Writes `bytes` as one block. The error says the block did not all arrive (a closed
    /// pipe, a full disk).
    fn write(&self, stream: Stream, bytes: &[u8]) -> io::Result<()>;
    /// Lets `write` write one block (several writes that nothing else comes between) to the
    /// stream's file: a file, so that copies of spilled output stay in the kernel.
    fn write_block(&self, stream: Stream, write: &mut dyn FnMut(&File) -> io::Result<()>) -> io::Result<()>;
}

/// What listens to a run: reporters, the journal. The runner and the Slurm driver know only
/// this trait; nothing behind it knows them.
pub trait Listener {
    fn event(&mut self, event: &Event);
    /// Called about ten times a second while the run goes on.
    fn tick(&mut self, _counts: &Counts, _elapsed: Duration) {}
    /// Called before the dispatcher waits: hand buffered output to the OS.
    fn flush(&mut self) {}
    /// What this listener could not do that the user should know (the journal could not be
    /// written): a listener sends no events, so [`Listeners`] passes these on to every
    /// listener as [`Event::Warning`], at once.
    fn warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// Several listeners fed the same events, in order.
pub struct Listeners(pub Vec<Box<dyn Listener>>);

impl Listeners {
    /// Sends listener `from`'s warnings to every listener, before any later listener hears
    /// more (a warning about the journal comes before the summary).
    fn pass_on_warnings(&mut self, from: usize) {
        for message in self.0[from].warnings() {
            for r in &mut self.0 {
                r.event(&Event::Warning { message: &message });
            }
        }
    }
}

impl Listener for Listeners {
    fn event(&mut self, event: &Event) {
        for i in 0..self.0.len() {
            self.0[i].event(event);
            self.pass_on_warnings(i);
        }
    }

    fn tick(&mut self, counts: &Counts, elapsed: Duration) {
        for i in 0..self.0.len() {
            self.0[i].tick(counts, elapsed);
            self.pass_on_warnings(i);
        }
    }

    fn flush(&mut self) {
        for i in 0..self.0.len() {
            self.0[i].flush();
            self.pass_on_warnings(i);
        }
    }

    fn warnings(&mut self) -> Vec<String> {
        self.0.iter_mut().flat_map(|r| r.warnings()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Warns once, on the run's end.
    struct Warner(Vec<String>);

    impl Listener for Warner {
        fn event(&mut self, event: &Event) {
            if let Event::RunFinished { .. } = event {
                self.0.push("cannot write the journal".into());
            }
        }

        fn warnings(&mut self) -> Vec<String> {
            std::mem::take(&mut self.0)
        }
    }

    /// What it heard, in order.
    struct Heard(std::rc::Rc<std::cell::RefCell<Vec<String>>>);

    impl Listener for Heard {
        fn event(&mut self, event: &Event) {
            let what = match event {
                Event::Warning { message } => format!("warning: {message}"),
                Event::RunFinished { .. } => "finished".into(),
                _ => return,
            };
            self.0.borrow_mut().push(what);
        }
    }

    #[test]
    fn a_listener_s_warning_reaches_the_others_before_they_hear_more() {
        let heard = std::rc::Rc::default();
        let mut listeners = Listeners(vec![Box::new(Warner(Vec::new())), Box::new(Heard(std::rc::Rc::clone(&heard)))]);
        listeners.event(&Event::RunFinished {
            counts: Counts::default(),
            elapsed: Duration::ZERO,
            interrupted_by: None,
        });
        assert_eq!(*heard.borrow(), ["warning: cannot write the journal", "finished"]);
    }
}
