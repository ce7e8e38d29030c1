//! Processes that leave their task's process group (`setsid`, `set -m`, GNU `timeout`, daemons
//! that double-fork): found and killed like the rest of the task.
//!
//! Two mechanisms, both keyed on a mark every task inherits: `BATCHRUN_RUN` in batchrun's own
//! environment, unique per run (a batchrun run by a task extends its parent's mark, so the
//! parent's mark is a prefix of it).
//!
//! - While batchrun lives it is a child subreaper (`PR_SET_CHILD_SUBREAPER`): a task's
//!   descendant whose parent dies is handed to batchrun instead of init. Each dispatcher tick
//!   looks at batchrun's adopted children (one read of its main thread's `children` file), reads
//!   each one's mark and attempt from its environment, and kills (with its group) each whose
//!   attempt has ended or whose run is not this one; one without a mark (it cleared its
//!   environment) lives until the run ends. Processes are reaped one by one (`waitpid` on that
//!   pid): never `waitpid(-1)`, which would take the statuses the workers wait for. When the run
//!   ends every adopted process is killed and reaped, then those handed over as they died, until
//!   none is left.
//! - When batchrun is SIGKILLed, the subreaper is gone: the watchdog scans `/proc` for
//!   processes carrying the mark in their environment and kills them (see [`kill_marked`],
//!   which allocates nothing, as the watchdog must not).
//!
//! A process that clears its environment and escapes the group while batchrun is SIGKILLed is
//! out of reach; so is one that changes its user (its environment cannot be read).

use std::ffi::OsString;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};

/// The environment variable that marks a run's processes.
pub const RUN_MARK: &str = "BATCHRUN_RUN";

/// This run's mark: the inherited one (a batchrun run by a task) extended with this process's
/// id and start time.
pub fn new_mark(inherited: Option<OsString>) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let own = format!("{}-{nanos:x}", std::process::id());
    match inherited.and_then(|m| m.into_string().ok()).filter(|m| !m.is_empty()) {
        Some(parent) => format!("{parent}.{own}"),
        None => own,
    }
}

/// Whose a process is, by its environment.
#[derive(Debug, PartialEq, Eq)]
pub enum Owner {
    /// A task attempt of this run.
    Attempt { job: String, index: u64, attempt: u32 },
    /// Another run's (a batchrun run by a task, now gone, or a mark set by hand).
    Elsewhere,
    /// No mark: it cleared its environment, or it cannot be read.
    Unknown,
}

/// Reads whose a process is from its NUL-separated environment.
pub fn owner(environ: &[u8], mark: &str) -> Owner {
    let (mut run, mut job, mut index, mut attempt) = (None, None, None, None);
    for entry in environ.split(|&b| b == 0) {
        let Some((key, value)) = entry.iter().position(|&b| b == b'=').map(|at| entry.split_at(at)) else {
            continue;
        };
        let value = String::from_utf8_lossy(&value[1..]);
        match key {
            b"BATCHRUN_RUN" => run = Some(value.into_owned()),
            b"BATCHRUN_JOB" => job = Some(value.into_owned()),
            b"BATCHRUN_INDEX" => index = value.parse().ok(),
            b"BATCHRUN_ATTEMPT" => attempt = value.parse().ok(),
            _ => {}
        }
    }
    match (run, job, index, attempt) {
        (None, ..) => Owner::Unknown,
        (Some(run), Some(job), Some(index), Some(attempt)) if run == mark => Owner::Attempt { job, index, attempt },
        _ => Owner::Elsewhere,
    }
}

/// batchrun as the subreaper of its tasks' descendants.
pub struct Adopted {
    mark: String,
    /// Batchrun's own children that are no task's: the watchdog.
    own: Vec<i32>,
    /// Where the kernel lists the main thread's children (where adopted processes go), when
    /// it does (`CONFIG_PROC_CHILDREN`). Without it, what tasks left behind is found by its
    /// mark when the run ends.
    children_file: Option<String>,
}

impl Adopted {
    /// Makes batchrun a child subreaper; the warning to give where the kernel refuses.
    pub fn start(mark: &str, own: Vec<i32>) -> Result<Adopted, String> {
        if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
            return Err(format!(
                "cannot adopt what tasks leave behind ({e}); processes that leave their task's group may outlive it"
            ));
        }
        let pid = std::process::id();
        let children_file = format!("/proc/{pid}/task/{pid}/children");
        let children_file = std::fs::metadata(&children_file).is_ok().then_some(children_file);
        Ok(Adopted { mark: mark.to_owned(), own, children_file })
    }

    /// Batchrun's children that are not its own: every process it adopted. (Tasks are the
    /// children of the worker threads that started them, listed in those threads' files.)
    fn adopted(&self) -> Vec<Pid> {
        let Some(file) = &self.children_file else { return Vec::new() };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        text.split_ascii_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
            .filter(|p| !self.own.contains(p))
            .filter_map(Pid::from_raw)
            .collect()
    }

    /// Reaps what has exited, and kills each adopted process whose attempt is not `live` or
    /// whose run is not this one. Returns how many were killed.
    pub fn sweep(&self, live: impl Fn(&str, u64, u32) -> bool) -> usize {
        let mut killed = 0;
        for pid in self.adopted() {
            if reaped(pid) {
                continue;
            }
            let environ = std::fs::read(format!("/proc/{}/environ", pid.as_raw_nonzero())).unwrap_or_default();
            let kill = match owner(&environ, &self.mark) {
                Owner::Attempt { job, index, attempt } => !live(&job, index, attempt),
                Owner::Elsewhere => true,
                Owner::Unknown => false,
            };
            if kill {
                kill_with_group(pid);
                killed += 1;
            }
        }
        killed
    }

    /// At the end of the run: kills and reaps every adopted process, and those handed over as
    /// they die, until none is left or `within` has passed. Returns how many were killed.
    pub fn sweep_all(&self, within: Duration) -> usize {
        if self.children_file.is_none() {
            // Every task has ended: whatever still carries the mark was left behind.
            kill_marked(self.mark.as_bytes(), rustix::process::getpid());
            return 0;
        }
        let deadline = Instant::now() + within;
        let mut killed = 0;
        loop {
            let adopted = self.adopted();
            if adopted.is_empty() || Instant::now() >= deadline {
                return killed;
            }
            for pid in adopted {
                if !reaped(pid) {
                    kill_with_group(pid);
                    killed += 1;
                    // Its own children are handed over before its status can be collected.
                    wait_for(pid, deadline);
                }
            }
        }
    }
}

fn reaped(pid: Pid) -> bool {
    matches!(rustix::process::waitpid(Some(pid), WaitOptions::NOHANG), Ok(Some(_)) | Err(_))
}

/// Waits for an adopted, killed process to end, until `deadline` (a process stuck in the
/// kernel does not hold the run up).
fn wait_for(pid: Pid, deadline: Instant) {
    while Instant::now() < deadline {
        if reaped(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// SIGKILLs a process, and its process group when it leads one (what it started stays with it
/// there, as in a task's own group).
fn kill_with_group(pid: Pid) {
    if rustix::process::getpgid(Some(pid)).is_ok_and(|g| g == pid) {
        let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    }
    let _ = rustix::process::kill_process(pid, Signal::KILL);
}

/// Longest mark the watchdog keeps (a mark grows with each nested batchrun).
pub const MAX_MARK: usize = 256;

/// For the watchdog, once batchrun is gone: SIGKILLs every process whose environment carries
/// `mark` (or a mark it is a prefix of: a nested batchrun's), `self_pid` aside, scanning
/// `/proc` until a scan kills nothing (processes may fork meanwhile), at most a few times.
/// Raw system calls and stack buffers only: it runs in the cloned watchdog, which shares
/// batchrun's heap and must not allocate.
pub fn kill_marked(mark: &[u8], self_pid: Pid) {
    for _ in 0..8 {
        if scan_and_kill(mark, self_pid).unwrap_or(0) == 0 {
            return;
        }
    }
}

fn scan_and_kill(mark: &[u8], self_pid: Pid) -> io::Result<usize> {
    use rustix::fs::{Mode, OFlags};
    let proc = rustix::fs::open("/proc", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut dir = rustix::fs::RawDir::new(proc.as_fd(), &mut buf);
    let mut killed = 0;
    while let Some(entry) = dir.next() {
        let Ok(entry) = entry else { break };
        let name = entry.file_name().to_bytes();
        let Some(pid) = parse_pid(name).and_then(Pid::from_raw) else { continue };
        if pid == self_pid {
            continue;
        }
        // "<pid>/environ" and its NUL, on the stack.
        let mut path = [0u8; 32];
        let suffix = b"/environ\0";
        if name.len() + suffix.len() > path.len() {
            continue;
        }
        path[..name.len()].copy_from_slice(name);
        path[name.len()..name.len() + suffix.len()].copy_from_slice(suffix);
        let Ok(path) = std::ffi::CStr::from_bytes_until_nul(&path) else { continue };
        let Ok(file) = rustix::fs::openat(&proc, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else {
            continue;
        };
        let mut matcher = MarkMatcher::new(mark);
        let mut chunk = [0u8; 4096];
        let found = loop {
            match rustix::io::read(&file, &mut chunk) {
                Ok(0) | Err(_) => break matcher.finish(),
                Ok(n) => {
                    if matcher.feed(chunk.get(..n).unwrap_or_default()) {
                        break true;
                    }
                }
            }
        };
        if found {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
            killed += 1;
        }
    }
    Ok(killed)
}

fn parse_pid(digits: &[u8]) -> Option<i32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0i32, |n, &d| {
        if d.is_ascii_digit() { n.checked_mul(10)?.checked_add(i32::from(d - b'0')) } else { None }
    })
}

const MARK_KEY: &[u8] = b"BATCHRUN_RUN=";

/// Finds an environment entry `BATCHRUN_RUN=<mark>` or `BATCHRUN_RUN=<mark>.<more>` in a
/// NUL-separated environment fed in pieces, without a buffer.
struct MarkMatcher<'a> {
    mark: &'a [u8],
    /// Bytes of the current entry matched so far against `BATCHRUN_RUN=<mark>`, or `None` once
    /// it differs.
    matched: Option<usize>,
}

impl<'a> MarkMatcher<'a> {
    fn new(mark: &'a [u8]) -> Self {
        MarkMatcher { mark, matched: Some(0) }
    }

    fn expected(&self, at: usize) -> Option<u8> {
        MARK_KEY.get(at).or_else(|| self.mark.get(at - MARK_KEY.len())).copied()
    }

    /// Whether the entry matched so far is complete.
    fn complete(&self) -> bool {
        self.matched == Some(MARK_KEY.len() + self.mark.len())
    }

    /// True once a matching entry is found.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            if b == 0 {
                if self.complete() {
                    return true;
                }
                self.matched = Some(0);
                continue;
            }
            if self.complete() && b == b'.' {
                return true;
            }
            self.matched = match self.matched {
                Some(n) if self.expected(n) == Some(b) => Some(n + 1),
                _ => None,
            };
        }
        false
    }

    /// The environment ended (its last entry may lack its NUL).
    fn finish(&self) -> bool {
        self.complete()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(mark: &str, environ: &[u8], piece: usize) -> bool {
        let mut m = MarkMatcher::new(mark.as_bytes());
        environ.chunks(piece.max(1)).any(|c| m.feed(c)) || m.finish()
    }

    #[test]
    fn the_mark_matches_itself_and_nested_marks_in_any_pieces() {
        for piece in [1, 2, 3, 7, 100] {
            assert!(matches("12-ab", b"A=1\0BATCHRUN_RUN=12-ab\0B=2\0", piece));
            assert!(matches("12-ab", b"BATCHRUN_RUN=12-ab.34-cd\0", piece), "a nested run's");
            assert!(matches("12-ab", b"X=y\0BATCHRUN_RUN=12-ab", piece), "the last entry without its NUL");
            assert!(!matches("12-ab", b"BATCHRUN_RUN=12-abc\0", piece), "another mark");
            assert!(!matches("12-ab", b"BATCHRUN_RUN=1\0", piece));
            assert!(!matches("12-ab", b"XBATCHRUN_RUN=12-ab\0", piece));
            assert!(!matches("12-ab", b"A=BATCHRUN_RUN=12-ab\0", piece));
            assert!(!matches("12-ab", b"", piece));
        }
    }

    #[test]
    fn owners_are_read_from_the_environment() {
        let env = b"BATCHRUN_RUN=m\0BATCHRUN_JOB=export\0BATCHRUN_INDEX=3\0BATCHRUN_ATTEMPT=2\0";
        assert_eq!(owner(env, "m"), Owner::Attempt { job: "export".into(), index: 3, attempt: 2 });
        assert_eq!(owner(env, "other"), Owner::Elsewhere);
        assert_eq!(
            owner(b"BATCHRUN_RUN=m.n\0BATCHRUN_JOB=a\0BATCHRUN_INDEX=0\0BATCHRUN_ATTEMPT=1\0", "m"),
            Owner::Elsewhere
        );
        assert_eq!(owner(b"PATH=/bin\0", "m"), Owner::Unknown);
    }

    #[test]
    fn a_nested_mark_extends_the_inherited_one() {
        let outer = new_mark(None);
        let inner = new_mark(Some(outer.clone().into()));
        assert!(inner.starts_with(&format!("{outer}.")), "{inner}");
    }
}
