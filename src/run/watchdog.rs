//! A tiny guardian process that kills every task's process group if batchrun dies.
//!
//! The parent-death signal (`PR_SET_PDEATHSIG`) covers only direct children, and needs a
//! `pre_exec` hook that would cost std's fast spawn path. Instead, batchrun starts one watchdog
//! process, in a process group of its own (so a Ctrl-C meant for batchrun does not reach it),
//! and tells it through a pipe the process group of every task it starts (`+PGID`) and ends
//! (`-PGID`). When the pipe reaches end of file, batchrun is gone, whether it exited or was
//! SIGKILLed: the watchdog SIGKILLs every group still registered, then exits. A task that
//! leaves its process group (`setsid`) escapes it.
//!
//! The watchdog is normally a `fork` of batchrun taken while batchrun is still single-threaded
//! (about 0.1 ms, against 1 ms or more to start a new program); when that cannot be checked or
//! is not so (other Unix systems, or threads already running), batchrun starts itself again as
//! `batchrun __watchdog` instead.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use rustix::process::{Pid, Signal};

/// The hidden subcommand that runs the watchdog when it cannot be forked.
pub const SUBCOMMAND: &str = "__watchdog";

/// batchrun's side of the pipe.
pub struct Watchdog {
    pipe: Option<File>,
    process: Process,
}

enum Process {
    Forked(libc::pid_t),
    Spawned(Child),
}

impl Watchdog {
    /// Starts the watchdog; `None` (with a warning) when it cannot be started. Call it before
    /// batchrun starts any thread, so that it can be forked.
    pub fn start() -> Option<Watchdog> {
        let started = if single_threaded() { Self::fork() } else { Self::spawn() };
        match started {
            Ok(watchdog) => Some(watchdog),
            Err(e) => {
                crate::say!("batchrun: warning: cannot start the watchdog ({e}); tasks may outlive a killed batchrun");
                None
            }
        }
    }

    fn fork() -> io::Result<Watchdog> {
        let (reader, writer) = io::pipe()?;
        let reader = OwnedFd::from(reader);
        // SAFETY: the process has a single thread (checked by the caller), so the child may
        // allocate and run ordinary code: no other thread can hold a lock it would need. The
        // child never returns into batchrun's code: it watches, then `_exit`s.
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => Err(io::Error::last_os_error()),
            0 => {
                drop(writer);
                detach_from_terminal_and_stdio();
                let _ = watch(File::from(reader));
                // SAFETY: `_exit` ends the child without running batchrun's exit handlers or
                // flushing buffers that belong to the parent.
                unsafe { libc::_exit(0) }
            }
            pid => Ok(Watchdog { pipe: Some(File::from(OwnedFd::from(writer))), process: Process::Forked(pid) }),
        }
    }

    fn spawn() -> io::Result<Watchdog> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let pipe = child.stdin.take().map(|p| File::from(OwnedFd::from(p)));
        Ok(Watchdog { pipe, process: Process::Spawned(child) })
    }

    pub fn track(&self, pgid: i32) {
        self.send(&format!("+{pgid}\n"));
    }

    pub fn untrack(&self, pgid: i32) {
        self.send(&format!("-{pgid}\n"));
    }

    /// Each record is one `write` well under `PIPE_BUF`, so writes from several workers never
    /// interleave and need no lock.
    fn send(&self, record: &str) {
        if let Some(pipe) = &self.pipe {
            let _ = (&*pipe).write_all(record.as_bytes());
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Closing the pipe tells the watchdog to sweep (nothing, by now) and exit. It is not
        // waited for: that would add its exit to every run's time. It is reaped here if it has
        // already exited, or by init once batchrun has exited.
        drop(self.pipe.take());
        match &mut self.process {
            Process::Forked(pid) => {
                // SAFETY: a plain non-blocking waitpid on our own child.
                unsafe { libc::waitpid(*pid, std::ptr::null_mut(), libc::WNOHANG) };
            }
            Process::Spawned(child) => _ = child.try_wait(),
        }
    }
}

/// In the forked child: its own process group (so a terminal's Ctrl-C for batchrun does not
/// reach it), and stdio on /dev/null (so nobody waiting for batchrun's output waits for it).
fn detach_from_terminal_and_stdio() {
    let _ = rustix::process::setpgid(None, None);
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors, which this process owns.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

/// Whether this process runs a single thread (Linux: from /proc; elsewhere unknown, so no).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Threads:").map(|n| n.trim() == "1")))
        .unwrap_or(false)
}

/// How long the watchdog sleeps between reads, so that records pile up and it wakes a few
/// hundred times a second at most, not twice per task (on two cores, every wake-up is taken
/// from the tasks). It is also the most that noticing batchrun's death is delayed.
const NAP: std::time::Duration = std::time::Duration::from_millis(5);

/// The watchdog itself: reads records until end of file, then kills what is left.
pub fn watch(mut input: impl io::Read) -> io::Result<()> {
    let mut groups = HashSet::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = Vec::new();
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        pending.extend_from_slice(&buf[..n]);
        let complete = pending.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1);
        for line in pending[..complete].split(|&b| b == b'\n') {
            let (op, pgid) = line.split_at(line.len().min(1));
            match (op, std::str::from_utf8(pgid).ok().and_then(|p| p.parse::<i32>().ok())) {
                (b"+", Some(p)) => _ = groups.insert(p),
                (b"-", Some(p)) => _ = groups.remove(&p),
                _ => {}
            }
        }
        pending.drain(..complete);
        std::thread::sleep(NAP);
    }
    for pgid in groups {
        if let Some(pid) = Pid::from_raw(pgid) {
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_kills_only_groups_still_registered() {
        // Unregistered and bogus records are harmless; an empty set kills nothing.
        watch(&b"+999999\n-999999\nnonsense\n+\n"[..]).unwrap();
    }
}
