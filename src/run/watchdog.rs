//! A tiny guardian process that kills every task's process group if batchrun dies.
//!
//! The parent-death signal (`PR_SET_PDEATHSIG`) covers only direct children, and needs a
//! `pre_exec` hook that would cost std's fast spawn path. Instead, batchrun starts one watchdog
//! process, in a process group of its own (so a Ctrl-C meant for batchrun does not reach it),
//! that holds the end of a pipe. When the pipe reaches end of file, batchrun is gone, whether
//! it exited or was SIGKILLed: the watchdog SIGKILLs every task group still registered, then
//! every process that carries the run's mark in its environment (one that left its task's
//! group, see [`super::escapes`]), then exits.
//!
//! On Linux the watchdog is a `clone(CLONE_VM)` of batchrun: a process that shares batchrun's
//! memory, as the child of `posix_spawn` does, but lives on, and the kernel keeps the memory
//! mapped for it after batchrun is gone. That costs what starting a thread costs. A `fork`
//! costs more (PERFORMANCE.md): it copies the page tables, and every page batchrun writes
//! afterwards takes a copy-on-write fault. Starting a new program costs more still. Since the
//! memory is shared, so is the registry: workers write each task's group into a slot of an
//! array of atomics, and the watchdog reads the array once batchrun is gone. A task costs no
//! system call and no wake-up of the watchdog. Sharing the memory has rules, which
//! [`clone`]'s `watchdog_main` keeps: the watchdog makes raw system calls only (rustix), on its
//! own stack, and it never allocates, takes a lock or panics. The heap and the thread-local
//! storage it shares belong to batchrun's threads.
//!
//! Elsewhere (or when the clone fails) batchrun starts itself again as
//! `batchrun __watchdog CAPACITY`, and tells it through the pipe the group of every task it
//! starts (`+PGID`) and ends (`-PGID`).

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicI32;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use rustix::process::{Pid, Signal};

/// The hidden subcommand that runs the watchdog in a process of its own.
pub const SUBCOMMAND: &str = "__watchdog";

/// batchrun's side of the pipe, and the registry.
pub struct Watchdog {
    pipe: Option<File>,
    /// The registry shared with a cloned watchdog: a task group per slot, 0 when free. `None`
    /// for a spawned watchdog, which is sent records instead.
    shared: Option<&'static [AtomicI32]>,
    process: Process,
}

enum Process {
    #[cfg(target_os = "linux")]
    Cloned(rustix::process::Pid),
    Spawned(Child),
}

impl Watchdog {
    /// Starts the watchdog for runs of at most `workers` tasks at a time, whose processes
    /// carry `mark`; the warning to give when it cannot be started.
    pub fn start(workers: usize, mark: &str) -> Result<Watchdog, String> {
        let capacity = capacity_for(workers);
        #[cfg(target_os = "linux")]
        let started = clone::start(capacity, mark).or_else(|_| Self::spawn(capacity, mark));
        #[cfg(not(target_os = "linux"))]
        let started = Self::spawn(capacity, mark);
        started.map_err(|e| format!("cannot start the watchdog ({e}); tasks may outlive a killed batchrun"))
    }

    fn spawn(capacity: usize, mark: &str) -> io::Result<Watchdog> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(std::env::current_exe()?)
            .arg(SUBCOMMAND)
            .arg(capacity.to_string())
            .arg(mark)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let pipe = child.stdin.take().map(|p| File::from(OwnedFd::from(p)));
        Ok(Watchdog { pipe, shared: None, process: Process::Spawned(child) })
    }

    /// The watchdog's process id: a child of batchrun that is no task.
    pub fn pid(&self) -> i32 {
        match &self.process {
            #[cfg(target_os = "linux")]
            Process::Cloned(pid) => pid.as_raw_nonzero().get(),
            Process::Spawned(child) => child.id() as i32,
        }
    }

    pub fn track(&self, pgid: i32) {
        match self.shared {
            // Each worker holds one slot at a time, so a free one is always found.
            Some(slots) => _ = slots.iter().find(|slot| slot.compare_exchange(0, pgid, SeqCst, Relaxed).is_ok()),
            None => self.send(&format!("+{pgid}\n")),
        }
    }

    /// A group number the kernel reused for another worker's task while this one was being
    /// untracked is in two slots; either may be freed, and one stays.
    pub fn untrack(&self, pgid: i32) {
        match self.shared {
            Some(slots) => _ = slots.iter().find(|slot| slot.compare_exchange(pgid, 0, SeqCst, Relaxed).is_ok()),
            None => self.send(&format!("-{pgid}\n")),
        }
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
            #[cfg(target_os = "linux")]
            Process::Cloned(pid) => {
                let _ = rustix::process::waitpid(Some(*pid), rustix::process::WaitOptions::NOHANG);
            }
            Process::Spawned(child) => _ = child.try_wait(),
        }
    }
}

/// Room for every group that can be registered at once. Each worker registers one group at
/// a time, but a worker's `-PGID` may arrive after another worker's `+PGID` of the same,
/// reused, number, so a few more.
fn capacity_for(workers: usize) -> usize {
    workers.saturating_mul(2).saturating_add(16)
}

#[cfg(target_os = "linux")]
mod clone {
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

    use std::sync::atomic::AtomicI32;
    use std::sync::atomic::Ordering::SeqCst;

    use super::super::escapes::{MAX_MARK, kill_marked};
    use super::{Process, Watchdog, kill_groups, wait_for_the_end};

    /// The watchdog's stack: [`guard`] needs a few KiB.
    const STACK: usize = 64 * 1024;

    /// What the watchdog starts with; leaked by batchrun, which never touches it again.
    struct Start {
        reader: RawFd,
        writer: RawFd,
        null: RawFd,
        slots: &'static [AtomicI32],
        /// The run's mark, `mark_len` bytes of it (empty when it was too long to keep).
        mark: [u8; MAX_MARK],
        mark_len: usize,
    }

    pub(super) fn start(capacity: usize, mark: &str) -> io::Result<Watchdog> {
        let mut kept = [0u8; MAX_MARK];
        let mark_len = if mark.len() <= MAX_MARK { mark.len() } else { 0 };
        kept[..mark_len].copy_from_slice(&mark.as_bytes()[..mark_len]);
        let (reader, writer) = io::pipe()?;
        let null = File::options().read(true).write(true).open("/dev/null")?;
        let slots: &'static [AtomicI32] = Box::leak((0..capacity).map(|_| AtomicI32::new(0)).collect());
        let start = Box::leak(Box::new(Start {
            reader: reader.as_raw_fd(),
            writer: writer.as_raw_fd(),
            null: null.as_raw_fd(),
            slots,
            mark: kept,
            mark_len,
        }));
        let top = stack()?;
        // SAFETY: the child runs `watchdog_main` on its own stack (`top`), with `start`, which
        // batchrun leaked and never touches again; `watchdog_main` keeps the rules in the
        // module's doc. `SIGCHLD` lets batchrun reap it like any child.
        let pid = unsafe {
            libc::clone(watchdog_main, top, libc::CLONE_VM | libc::SIGCHLD, std::ptr::from_mut(start).cast())
        };
        if pid == -1 {
            return Err(io::Error::last_os_error());
        }
        let pid = rustix::process::Pid::from_raw(pid).ok_or_else(|| io::Error::other("clone returned pid 0"))?;
        // The child has its own copies of these descriptors (no `CLONE_FILES`).
        drop((reader, null));
        Ok(Watchdog {
            pipe: Some(File::from(OwnedFd::from(writer))),
            shared: Some(slots),
            process: Process::Cloned(pid),
        })
    }

    /// A stack for the watchdog, with a guard page below it; returns its top. Never unmapped:
    /// the watchdog outlives batchrun.
    fn stack() -> io::Result<*mut libc::c_void> {
        let page = rustix::param::page_size();
        // SAFETY: a fresh anonymous mapping, which nothing else refers to.
        unsafe {
            let base = rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                STACK + page,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::STACK,
            )?;
            rustix::mm::mprotect(base, page, rustix::mm::MprotectFlags::empty())?;
            Ok(base.cast::<u8>().add(STACK + page).cast())
        }
    }

    extern "C" fn watchdog_main(start: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `start` is the leaked `Start` that `start()` passed, which batchrun never
        // touches again, but for the slots, which are atomics.
        let start = unsafe { &*start.cast::<Start>() };
        // SAFETY: these descriptors are this process's copies, open at the `clone`.
        let (reader, null) = unsafe { (BorrowedFd::borrow_raw(start.reader), BorrowedFd::borrow_raw(start.null)) };
        // SAFETY: batchrun's end of the pipe; this process must not hold it open.
        unsafe { rustix::io::close(start.writer) };
        // Nothing is written to the pipe: it only ends. Then batchrun's last writes to the
        // slots are done.
        wait_for_the_end(reader, Some(null), |_| {});
        kill_groups(start.slots.iter().map(|slot| slot.load(SeqCst)));
        if let Some(mark) = start.mark.get(..start.mark_len).filter(|m| !m.is_empty()) {
            kill_marked(mark, rustix::process::getpid());
        }
        0
    }
}

/// The process groups registered and not yet ended, fed by the stream of records that a
/// spawned watchdog reads.
pub struct Groups<'a> {
    slots: &'a mut [i32],
    live: usize,
    /// The start of a record cut by the end of a read.
    partial: [u8; 16],
    partial_len: usize,
}

impl<'a> Groups<'a> {
    pub fn new(slots: &'a mut [i32]) -> Self {
        Groups { slots, live: 0, partial: [0; 16], partial_len: 0 }
    }

    /// Applies the records in `bytes`, which may end in the middle of one.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte != b'\n' {
                if let Some(slot) = self.partial.get_mut(self.partial_len) {
                    *slot = byte;
                }
                self.partial_len = self.partial_len.saturating_add(1);
                continue;
            }
            let record = self.partial.get(..self.partial_len).unwrap_or_default();
            match record.split_first().and_then(|(&op, digits)| Some((op, parse_pgid(digits)?))) {
                Some((b'+', pgid)) => self.add(pgid),
                Some((b'-', pgid)) => self.remove(pgid),
                _ => {}
            }
            self.partial_len = 0;
        }
    }

    /// A group registered twice (its number reused while the first record's end was on its
    /// way) stays until both have ended.
    fn add(&mut self, pgid: i32) {
        if let Some(slot) = self.slots.get_mut(self.live) {
            *slot = pgid;
            self.live += 1;
        }
    }

    fn remove(&mut self, pgid: i32) {
        let live = self.slots.get_mut(..self.live).unwrap_or_default();
        if let Some(at) = live.iter().position(|&p| p == pgid) {
            let last = live.len() - 1;
            live.swap(at, last);
            self.live = last;
        }
    }

    pub fn registered(&self) -> &[i32] {
        self.slots.get(..self.live).unwrap_or_default()
    }
}

fn parse_pgid(digits: &[u8]) -> Option<i32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0i32, |n, &d| {
        if d.is_ascii_digit() { n.checked_mul(10)?.checked_add(i32::from(d - b'0')) } else { None }
    })
}

/// How long a spawned watchdog sleeps between reads, so that records pile up and it wakes a few
/// hundred times a second at most, not twice per task (on two cores, every wake-up is taken
/// from the tasks). It is also the most that noticing batchrun's death is delayed.
const NAP: rustix::thread::Timespec = rustix::thread::Timespec { tv_sec: 0, tv_nsec: 5_000_000 };

/// The watchdog's wait: leaves batchrun's process group, points its standard streams at
/// `null` (so nobody waiting for batchrun's output waits for it), and reads `input` until end
/// of file, handing what it reads to `feed`. Raw system calls only (see the module's doc).
fn wait_for_the_end(input: BorrowedFd, null: Option<BorrowedFd>, mut feed: impl FnMut(&[u8])) {
    let _ = rustix::process::setpgid(None, None);
    if let Some(null) = null {
        let _ = rustix::stdio::dup2_stdin(null);
        let _ = rustix::stdio::dup2_stdout(null);
        let _ = rustix::stdio::dup2_stderr(null);
    }
    let mut buf = [0u8; 4096];
    loop {
        match rustix::io::read(input, &mut buf) {
            Ok(0) => break,
            Ok(n) => feed(buf.get(..n).unwrap_or_default()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
        let _ = rustix::thread::nanosleep(&NAP);
    }
}

/// SIGKILLs each group; 0 is no group.
fn kill_groups(groups: impl IntoIterator<Item = i32>) {
    for pid in groups.into_iter().filter_map(Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    }
}

/// `batchrun __watchdog CAPACITY MARK`: the watchdog as a process of its own, fed on stdin.
pub fn serve_stdin(capacity: Option<&std::ffi::OsStr>, mark: Option<&std::ffi::OsStr>) -> i32 {
    let capacity = capacity.and_then(|c| c.to_str()?.parse().ok()).unwrap_or_else(|| capacity_for(1024));
    let mut slots = vec![0; capacity];
    let mut groups = Groups::new(&mut slots);
    wait_for_the_end(io::stdin().as_fd(), None, |records| groups.feed(records));
    kill_groups(groups.registered().iter().copied());
    if let Some(mark) = mark.map(std::os::unix::ffi::OsStrExt::as_bytes).filter(|m| !m.is_empty()) {
        super::escapes::kill_marked(mark, rustix::process::getpid());
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(capacity: usize, chunks: &[&[u8]]) -> Vec<i32> {
        let mut slots = vec![0; capacity];
        let mut groups = Groups::new(&mut slots);
        for chunk in chunks {
            groups.feed(chunk);
        }
        let mut registered = groups.registered().to_vec();
        registered.sort_unstable();
        registered
    }

    #[test]
    fn groups_follow_the_records_even_when_reads_cut_them() {
        assert_eq!(fed(8, &[b"+12\n+34\n-12\n"]), [34]);
        assert_eq!(fed(8, &[b"+1", b"2\n+3", b"4\n-", b"34\n"]), [12]);
    }

    #[test]
    fn a_reused_group_number_stays_until_both_records_end() {
        assert_eq!(fed(8, &[b"+7\n+7\n-7\n"]), [7]);
        assert_eq!(fed(8, &[b"+7\n+7\n-7\n-7\n"]), Vec::<i32>::new());
    }

    #[test]
    fn nonsense_and_overflow_are_ignored() {
        assert_eq!(fed(8, &[b"nonsense\n+\n-5\n+99999999999\n+1a\n+123456789012345678901234\n+5\n"]), [5]);
        assert_eq!(fed(2, &[b"+1\n+2\n+3\n"]), [1, 2]);
    }

    #[test]
    fn the_shared_registry_keeps_a_reused_group_number_until_both_tasks_end() {
        // No process has this group (pids stay below 2^22), so nothing is killed at the end.
        let pgid = i32::MAX - 1;
        let watchdog = Watchdog::start(1, "").unwrap();
        let registered = || watchdog.shared.unwrap().iter().filter(|s| s.load(SeqCst) == pgid).count();
        watchdog.track(pgid);
        watchdog.track(pgid);
        assert_eq!(registered(), 2);
        watchdog.untrack(pgid);
        assert_eq!(registered(), 1);
        watchdog.untrack(pgid);
        watchdog.untrack(pgid);
        assert_eq!(registered(), 0);
    }

    #[test]
    fn the_watchdog_kills_what_is_registered_when_the_pipe_closes() {
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        // `sleep` would end by itself after a minute, failing the test instead of hanging it.
        let mut child = Command::new("sleep").arg("60").process_group(0).spawn().unwrap();
        let watchdog = Watchdog::start(1, "").unwrap();
        watchdog.track(child.id() as i32);
        drop(watchdog);
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    }
}
