//! A tiny guardian process that kills every task's process group if batchrun dies.
//!
//! The parent-death signal (`PR_SET_PDEATHSIG`) covers only direct children, and needs a
//! `pre_exec` hook that would cost std's fast spawn path. Instead, batchrun starts one
//! watchdog (itself, run as `batchrun __watchdog`, in a process group of its own so a Ctrl-C
//! meant for batchrun does not reach it) and tells it, through a pipe, the process group of
//! every task it starts (`+PGID`) and ends (`-PGID`). When the pipe reaches end of file,
//! batchrun is gone, whether it exited or was SIGKILLed: the watchdog SIGKILLs every group
//! still registered, then exits. Linux and other Unix systems alike; a task that leaves its
//! process group (`setsid`) escapes it.

use std::collections::HashSet;
use std::io::{self, BufRead, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};

use rustix::process::{Pid, Signal};

/// The hidden subcommand that runs the watchdog.
pub const SUBCOMMAND: &str = "__watchdog";

/// batchrun's side of the pipe.
pub struct Watchdog {
    pipe: Option<ChildStdin>,
    child: Child,
}

impl Watchdog {
    /// Starts the watchdog; `None` (with a warning) when it cannot be started.
    pub fn start() -> Option<Watchdog> {
        let started = std::env::current_exe().and_then(|exe| {
            Command::new(exe).arg(SUBCOMMAND).stdin(Stdio::piped()).stdout(Stdio::null()).process_group(0).spawn()
        });
        match started {
            Ok(mut child) => {
                let pipe = child.stdin.take();
                Some(Watchdog { pipe, child })
            }
            Err(e) => {
                crate::say!("batchrun: warning: cannot start the watchdog ({e}); tasks may outlive a killed batchrun");
                None
            }
        }
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
        // Closing the pipe tells the watchdog to sweep (nothing, by now) and exit.
        drop(self.pipe.take());
        let _ = self.child.wait();
    }
}

/// The watchdog process itself: reads records until end of file, then kills what is left.
pub fn watch(input: impl io::Read) -> io::Result<()> {
    let mut groups = HashSet::new();
    for line in io::BufReader::new(input).lines() {
        let line = line?;
        let (op, pgid) = line.split_at(line.len().min(1));
        match (op, pgid.parse::<i32>()) {
            ("+", Ok(p)) => _ = groups.insert(p),
            ("-", Ok(p)) => _ = groups.remove(&p),
            _ => {}
        }
    }
    for pgid in groups {
        if let Some(pid) = Pid::from_raw(pgid) {
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
        }
    }
    Ok(())
}
