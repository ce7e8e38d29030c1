//! Where a job's items are read from: the file itself for a preview, a copy for a run.
//!
//! A run reads each items file once, when its job is planned, into a snapshot, and everything
//! after reads only that: the count, the tasks, and the Slurm array elements on other nodes. A
//! file rewritten while the run goes on (by a job it needs, or by anyone) cannot change a job's
//! tasks after they were counted, and a FIFO or `/dev/stdin` works as an items file, since it
//! is read once. A snapshot up to [`IN_MEMORY`] bytes is kept in memory; a larger one (or any,
//! for Slurm, whose elements read it on their nodes) goes to the state folder.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::state_dir::{Dir, Kind, Open, StateDir};

/// The largest snapshot kept in memory rather than in the state folder.
pub const IN_MEMORY: u64 = 8 << 20;

/// Where planning reads items files.
#[derive(Debug, Clone, Default)]
pub enum Inputs {
    /// `plan`, `validate`, `--dry-run`: each file where it is; a job that waits for its needs
    /// or reads a FIFO is not read (it is planned when it runs).
    #[default]
    InPlace,
    /// A run: each file is read into a snapshot when its job is planned.
    Snapshot(SnapshotDir),
    /// A Slurm array element: the snapshots its submitter wrote, in this folder of the state
    /// folder.
    Snapshotted(StateDir, PathBuf),
}

/// Where a run writes the snapshots it does not keep in memory: a folder in the state folder.
#[derive(Debug, Clone)]
pub struct SnapshotDir {
    pub state: StateDir,
    pub dir: PathBuf,
    /// Every snapshot is written here (Slurm: the elements read them).
    pub all_on_disk: bool,
}

/// Items as a run read them.
#[derive(Debug, Clone)]
pub enum Snapshot {
    Memory(Arc<[u8]>),
    /// The file itself (a preview).
    File(PathBuf),
    /// Its copy in the state folder.
    Kept(StateDir, PathBuf),
}

impl Snapshot {
    pub fn open(&self) -> io::Result<Box<dyn io::BufRead + Send>> {
        Ok(match self {
            Snapshot::Memory(bytes) => Box::new(io::Cursor::new(bytes.clone())),
            Snapshot::File(path) => Box::new(io::BufReader::new(File::open(path)?)),
            Snapshot::Kept(state, path) => Box::new(io::BufReader::new(state.open(path, Open::Read)?)),
        })
    }
}

/// Reads `source` whole into a snapshot for `job`: in memory when it is small, else in `to`'s
/// folder. A file is written under a temporary name and renamed, so no reader sees part of it,
/// and not synced to disk: it serves this run only, which a crash ends.
pub fn take(to: &SnapshotDir, job: &str, source: &Path) -> Result<Snapshot, String> {
    let mut from = File::open(source).map_err(|e| format!("cannot read the items file `{}`: {e}", source.display()))?;
    // Checked again here: a job it needs may have put a device or a folder where the file was.
    let kind = from.metadata().map_err(|e| format!("cannot read the items file `{}`: {e}", source.display()))?;
    if let Some(what) = crate::config::not_readable_as_items(&kind.file_type()) {
        return Err(format!("the items file `{}` {what}", source.display()));
    }
    take_from(to, job, &mut from, &format!("the items file `{}`", source.display()))
}

/// Runs `command` (`/bin/sh -c`) in `cwd` and snapshots what it prints, as [`take`] does a
/// file. When it fails, so does this, with the last lines of its stderr. It runs in a process
/// group of its own, ended with it (a background child it left cannot hold its output open),
/// and killed after `timeout` (the job's).
pub fn take_output(
    to: &SnapshotDir,
    job: &str,
    command: &str,
    cwd: &Path,
    timeout: Option<std::time::Duration>,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Snapshot, String> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let what = format!("the output of `{command}`");
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run `{command}`: {e}"))?;
    // Its stderr is read beside its stdout, so that neither pipe fills while the other waits.
    let stderr = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = err.read_to_end(&mut text);
            text
        })
    });
    let out = child.stdout.take();
    // Waited for beside the reading: its group ends when it does, or at the timeout, so the
    // pipes close and the reading ends.
    let group = rustix::process::Pid::from_child(&child);
    std::thread::scope(|scope| {
        let waiter = scope.spawn(move || {
            let started = std::time::Instant::now();
            let kill = || _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        kill();
                        return Ok(status);
                    }
                    Ok(None) if timeout.is_some_and(|limit| started.elapsed() >= limit) => {
                        kill();
                        let _ = child.wait();
                        return Err(format!(
                            "timed out after {}",
                            humantime::format_duration(timeout.unwrap_or_default())
                        ));
                    }
                    Ok(None) if stop() => {
                        kill();
                        let _ = child.wait();
                        return Err("stopped with the run".to_owned());
                    }
                    Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
                    Err(e) => {
                        kill();
                        return Err(format!("cannot wait for it: {e}"));
                    }
                }
            }
        });
        let taken = match out {
            Some(mut out) => take_from(to, job, &mut out, &what),
            None => Err(format!("cannot read {what}")),
        };
        let status = waiter
            .join()
            .map_err(|_| format!("cannot wait for `{command}`"))?
            .map_err(|why| format!("`{command}`: {why}"))?;
        let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
        if !status.success() {
            let text = String::from_utf8_lossy(&stderr);
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
            return Err(format!(
                "`{command}` failed ({status}){}",
                if tail.is_empty() { String::new() } else { format!(": {tail}") }
            ));
        }
        taken
    })
}

/// Snapshots what `from` reads (`what`, for messages): in memory when it is small.
fn take_from(to: &SnapshotDir, job: &str, from: &mut impl Read, what: &str) -> Result<Snapshot, String> {
    let mut head = Vec::new();
    if !to.all_on_disk {
        from.by_ref().take(IN_MEMORY + 1).read_to_end(&mut head).map_err(|e| format!("cannot read {what}: {e}"))?;
        if head.len() as u64 <= IN_MEMORY {
            return Ok(Snapshot::Memory(head.into()));
        }
    }
    let target = crate::state_dir::snapshot(&to.dir, job);
    let (_, name) = to.state.split(&target).map_err(|e| e.to_string())?;
    let partial = crate::state_dir::partial_name(&name);
    let mut folder = None;
    let copied = (|| -> io::Result<()> {
        let dir = folder.insert(create(to)?);
        let mut file = dir.open(&partial, Open::Replace)?;
        io::Write::write_all(&mut file, &head)?;
        // In the kernel (`copy_file_range`) when both are files.
        io::copy(from, &mut file)?;
        dir.rename(&partial, &name)
    })();
    copied.map_err(|e| {
        if let Some(dir) = &folder {
            let _ = dir.remove(&partial);
        }
        format!("cannot copy {what} to {}: {e}", target.display())
    })?;
    Ok(Snapshot::Kept(to.state.clone(), target))
}

/// Opens a run's snapshot folder, creating it the first time after removing those of this
/// host's runs that were killed.
fn create(to: &SnapshotDir) -> io::Result<Arc<Dir>> {
    match to.state.folder(&to.dir, false) {
        Ok(dir) => return Ok(dir),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let (parent, name) = to.state.split(&to.dir)?;
    let inputs = to.state.folder(parent, true)?;
    remove_abandoned(&inputs, &host_name());
    inputs.folder(&name, true).map(Arc::new)
}

/// A run's own snapshot folder, `inputs/<host>.<pid>.<time>` in the state folder, created when
/// a first snapshot is written there and removed with this value. Two runs sharing a state
/// folder (`--no-journal` does not lock it) each keep their own; the folders of runs on this
/// host that no longer exist (killed) are removed when the next run creates its own.
pub struct Snapshots {
    state: StateDir,
    dir: PathBuf,
}

impl Snapshots {
    pub fn new(state: &StateDir) -> Snapshots {
        let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let dir = state.run_inputs(&host_name(), std::process::id(), millis);
        Snapshots { state: state.clone(), dir }
    }

    /// Where this run's snapshots go.
    pub fn to(&self, all_on_disk: bool) -> SnapshotDir {
        SnapshotDir { state: self.state.clone(), dir: self.dir.clone(), all_on_disk }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        let Ok((parent, name)) = self.state.split(&self.dir) else { return };
        if let Ok(inputs) = self.state.folder(parent, false) {
            remove_snapshots(&inputs, &name);
            let Ok((root, inputs)) = self.state.split(parent) else { return };
            if let Ok(root) = self.state.folder(root, false) {
                root.remove_empty_folder(&inputs);
            }
        }
    }
}

/// Removes the snapshot folder `name` in `inputs` with the files in it; anything else there
/// (a link) is left, and with it the folder.
fn remove_snapshots(inputs: &Dir, name: &str) {
    if let Ok(folder) = inputs.folder(name, false) {
        for (file, kind) in folder.entries().unwrap_or_default() {
            if kind == Kind::File {
                let _ = folder.remove(&file);
            }
        }
        inputs.remove_empty_folder(name);
    }
}

fn host_name() -> String {
    let name = rustix::system::uname();
    let name = name.nodename().to_string_lossy();
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// Removes the snapshot folders of this host's runs whose process is gone.
fn remove_abandoned(inputs: &Dir, host: &str) {
    let Ok(entries) = inputs.entries() else { return };
    for (name, kind) in entries {
        if kind != Kind::Folder {
            continue;
        }
        let mut parts = name.split('.');
        let (Some(h), Some(pid)) = (parts.next(), parts.next().and_then(|p| p.parse::<i32>().ok())) else {
            continue;
        };
        let gone = h == host
            && rustix::process::Pid::from_raw(pid)
                .is_some_and(|pid| rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH));
        if gone {
            remove_snapshots(inputs, &name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(snapshot: &Snapshot) -> String {
        let mut text = String::new();
        snapshot.open().unwrap().read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn a_snapshot_is_a_whole_copy_in_memory_or_in_the_run_folder_that_goes_with_the_run() {
        let state = tempfile::tempdir().unwrap();
        let source = state.path().join("items.txt");
        std::fs::write(&source, "a\nb\n").unwrap();
        let snapshots = Snapshots::new(&StateDir::claimed(state.path()));
        let small = snapshots.to(false);
        let in_memory = take(&small, "job", &source).unwrap();
        assert!(matches!(in_memory, Snapshot::Memory(_)));
        assert!(!snapshots.dir().exists(), "nothing written for a small file");
        let on_disk = take(&SnapshotDir { all_on_disk: true, ..small }, "job", &source).unwrap();
        std::fs::write(&source, "changed\n").unwrap();
        assert_eq!(read(&in_memory), "a\nb\n");
        assert_eq!(read(&on_disk), "a\nb\n");
        let dir = snapshots.dir().to_path_buf();
        drop(snapshots);
        assert!(!dir.exists());
        assert!(!state.path().join("inputs").exists(), "an empty inputs folder is removed too");
    }

    #[test]
    fn folders_of_dead_runs_on_this_host_are_removed() {
        let state = tempfile::tempdir().unwrap();
        let inputs = state.path().join("inputs");
        // A pid above the kernel's maximum never exists.
        let dead = inputs.join(format!("{}.{}.1", host_name(), i32::MAX));
        let other_host = inputs.join("elsewhere.1.1");
        let live = inputs.join(format!("{}.{}.1", host_name(), std::process::id()));
        for d in [&dead, &other_host, &live] {
            std::fs::create_dir_all(d).unwrap();
        }
        let source = state.path().join("items.txt");
        std::fs::write(&source, "a\n").unwrap();
        let snapshots = Snapshots::new(&StateDir::claimed(state.path()));
        take(&snapshots.to(true), "job", &source).unwrap();
        assert!(!dead.exists());
        assert!(other_host.exists() && live.exists());
    }
}
