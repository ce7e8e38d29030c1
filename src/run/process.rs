//! One task as a child process: start it, wait for it (with a deadline and cancellation), and
//! stop its whole process group.
//!
//! Each task gets its own process group, so a timeout or a cancellation reaches the task's
//! children and grandchildren too: SIGTERM to the group, a grace period, then SIGKILL. When the
//! group leader exits, the rest of its group is swept with SIGKILL, so no background process of
//! a task outlives it. `process_group` is set through std rather than a `pre_exec` hook, which
//! keeps std's fast `posix_spawn` path.
//!
//! Waiting is event-driven on Linux: the worker polls a pidfd of its child and the task's output
//! pipes, waking at once when the child exits or prints, and at least every [`SLICE`] to look at
//! the cancellation level. Elsewhere it falls back to `try_wait` every few milliseconds.

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use super::cancel::{Cancel, Level};
use super::output::Capture;
use super::program::Programs;
use crate::events::Outcome;
use crate::plan::{CommandLine, Task};

/// Longest a worker waits before looking at the cancellation level again.
const SLICE: Duration = Duration::from_millis(50);
/// After reading a task's output, how long its worker leaves the pipes alone, so that writes
/// gather into a few large reads rather than waking the worker once each. A task cannot be held
/// up by it unless it fills its pipe (1 MiB at up to 16 workers) faster than that.
const GATHER: Duration = Duration::from_millis(1);

pub struct Running {
    child: Child,
    /// Kept until the child has exited, because it holds our copies of the child's ends of its
    /// output pipes. Many programs close their stdout and stderr on the way out (coreutils check
    /// for write errors that way); without these copies that would wake the worker to an end of
    /// file, only to sleep again until the exit.
    _command: Command,
    pgid: Pid,
    #[cfg(target_os = "linux")]
    pidfd: Option<std::os::fd::OwnedFd>,
}

/// How an attempt ended, before it is judged.
pub enum Ended {
    Exited(ExitStatus),
    TimedOut,
    Cancelled,
}

pub struct Spawn<'a> {
    pub task: &'a Task,
    /// The worker's programs found in PATH so far.
    pub programs: &'a mut Programs,
    pub command: &'a CommandLine,
    pub job: &'a str,
    pub cwd: &'a Path,
    pub attempt: u32,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

impl Running {
    pub fn spawn(s: Spawn) -> Result<Running, String> {
        let name = match s.command {
            CommandLine::Shell { program, .. } => *program,
            CommandLine::Argv(argv) => argv[0].as_str(),
        };
        let task_path = s.task.env.iter().rev().find(|(k, _)| k == "PATH").map(|(_, v)| OsStr::new(v));
        let mut command = match s.programs.locate(name, task_path) {
            Some(found) => {
                let mut command = Command::new(found);
                command.arg0(name);
                command
            }
            None => Command::new(name),
        };
        match s.command {
            CommandLine::Shell { script, .. } => command.arg("-c").arg(script),
            CommandLine::Argv(argv) => command.args(&argv[1..]),
        };
        command
            .current_dir(s.cwd)
            .envs(s.task.env.iter().map(|(k, v)| (k, v)))
            .env("BATCHRUN_JOB", s.job)
            .env("BATCHRUN_INDEX", s.task.index.to_string())
            .env("BATCHRUN_TASK", s.task.place(s.job))
            .env("BATCHRUN_ATTEMPT", s.attempt.to_string())
            .stdin(Stdio::null())
            .stdout(s.stdout)
            .stderr(s.stderr)
            .process_group(0);
        if let Some(original) = super::open_files::original() {
            // SAFETY: the closure makes one raw system call and touches no lock or allocation,
            // which is what may run between fork and exec.
            unsafe { command.pre_exec(move || super::open_files::set_in_child(original)) };
        }
        let child = command.spawn().map_err(|e| describe_spawn_error(&e, s.command, s.cwd))?;
        let pgid = Pid::from_child(&child);
        Ok(Running {
            #[cfg(target_os = "linux")]
            pidfd: rustix::process::pidfd_open(pgid, rustix::process::PidfdFlags::empty()).ok(),
            child,
            _command: command,
            pgid,
        })
    }

    /// The task's process group id (the leader's pid).
    pub fn pgid(&self) -> i32 {
        self.pgid.as_raw_nonzero().get()
    }

    /// Waits for the task to end: by itself, by its `timeout`, or by cancellation, reading its
    /// output meanwhile. A timed out or cancelled task is stopped (TERM, `grace`, KILL) before
    /// this returns. Either way the group is swept afterwards.
    pub fn wait(
        &mut self,
        timeout: Option<Duration>,
        grace: Duration,
        cancel: &Cancel,
        output: &mut Capture,
    ) -> io::Result<Ended> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let ended = loop {
            let now = Instant::now();
            let until = deadline.map_or(now + SLICE, |d| d.min(now + SLICE));
            if let Some(status) = self.wait_until(until, output)? {
                break Ended::Exited(status);
            }
            if cancel.level() >= Level::Terminate {
                self.stop(grace, cancel, output)?;
                break Ended::Cancelled;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                self.stop(grace, cancel, output)?;
                break Ended::TimedOut;
            }
        };
        self.sweep();
        Ok(ended)
    }

    /// SIGTERM to the group; SIGKILL when it has not ended after `grace` (or at once when the
    /// cancellation level becomes `Kill`).
    fn stop(&mut self, grace: Duration, cancel: &Cancel, output: &mut Capture) -> io::Result<()> {
        if cancel.level() < Level::Kill {
            let _ = rustix::process::kill_process_group(self.pgid, Signal::TERM);
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline && cancel.level() < Level::Kill {
                if self.wait_until(deadline.min(Instant::now() + SLICE), output)?.is_some() {
                    return Ok(());
                }
            }
        }
        let _ = rustix::process::kill_process_group(self.pgid, Signal::KILL);
        self.child.wait().map(drop)
    }

    /// Kills whatever is left of the task's group (background children of a finished task).
    fn sweep(&self) {
        let _ = rustix::process::kill_process_group(self.pgid, Signal::KILL);
    }

    /// Waits until the child exits or `until` passes, reading its output meanwhile;
    /// `Some(status)` when it exited.
    fn wait_until(&mut self, until: Instant, output: &mut Capture) -> io::Result<Option<ExitStatus>> {
        // With a pidfd, `poll` says when to look.
        #[cfg(target_os = "linux")]
        let mut may_have_exited = self.pidfd.is_none();
        #[cfg(not(target_os = "linux"))]
        let mut may_have_exited = true;
        let mut read_pipes_from = Instant::now();
        loop {
            if may_have_exited && let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            let now = Instant::now();
            let left = until.saturating_duration_since(now);
            if left.is_zero() {
                return Ok(None);
            }
            let pipes = now >= read_pipes_from;
            let woke =
                self.block(if pipes { left } else { left.min(read_pipes_from - now) }, pipes.then_some(&*output));
            if woke.output {
                output.collect();
                read_pipes_from = Instant::now() + GATHER;
            }
            may_have_exited = woke.child;
        }
    }

    /// Sleeps until the child exits, one of the `output` pipes has data, or `left` passes.
    /// Without a pidfd, naps of a few milliseconds stand in for the child's exit.
    fn block(&self, left: Duration, output: Option<&Capture>) -> Woke {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        #[cfg(target_os = "linux")]
        let pidfd = self.pidfd.as_ref();
        #[cfg(not(target_os = "linux"))]
        let pidfd: Option<&std::os::fd::OwnedFd> = None;
        let left = if pidfd.is_some() { left } else { left.min(Duration::from_millis(5)) };
        let mut fds: Vec<PollFd> = output
            .into_iter()
            .flat_map(Capture::open_pipes)
            .map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN))
            .collect();
        let pipes = fds.len();
        fds.extend(pidfd.map(|fd| PollFd::new(fd, PollFlags::IN)));
        let timeout = Timespec { tv_sec: left.as_secs() as i64, tv_nsec: left.subsec_nanos() as i64 };
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) => Woke {
                output: fds[..pipes].iter().any(|fd| !fd.revents().is_empty()),
                child: fds[pipes..].first().is_none_or(|fd| !fd.revents().is_empty()),
            },
            Err(_) => Woke { output: pipes > 0, child: true },
        }
    }
}

/// What a wait woke up for.
struct Woke {
    output: bool,
    /// The child may have exited (always, without a pidfd to say so).
    child: bool,
}

impl Drop for Running {
    /// A task is never left behind, whatever path led here.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = rustix::process::kill_process_group(self.pgid, Signal::KILL);
            let _ = self.child.wait();
        }
    }
}

fn describe_spawn_error(e: &io::Error, command: &CommandLine, cwd: &Path) -> String {
    if cwd.exists() && !cwd.is_dir() {
        return format!("its `cwd` `{}` is a file, not a folder", cwd.display());
    }
    if e.kind() == io::ErrorKind::NotFound {
        if !cwd.is_dir() {
            return format!("its `cwd` `{}` does not exist", cwd.display());
        }
        let program = match command {
            CommandLine::Shell { program, .. } => program,
            CommandLine::Argv(argv) => argv[0].as_str(),
        };
        return format!("command not found: `{program}`");
    }
    e.to_string()
}

/// Judges how an attempt ended.
pub fn outcome(ended: Ended, timeout: Option<Duration>) -> Outcome {
    match ended {
        Ended::TimedOut => Outcome::TimedOut(timeout.unwrap_or_default()),
        Ended::Cancelled => Outcome::Cancelled,
        Ended::Exited(status) => match (status.code(), status.signal()) {
            (Some(0), _) => Outcome::Succeeded,
            (Some(code), _) => Outcome::Exited(code),
            (None, Some(sig)) => Outcome::Signalled(sig),
            (None, None) => Outcome::Exited(-1),
        },
    }
}
