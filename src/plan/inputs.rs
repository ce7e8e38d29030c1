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
    /// A Slurm array element: the snapshots its submitter wrote, in this folder.
    Snapshotted(PathBuf),
}

/// Where a run writes the snapshots it does not keep in memory.
#[derive(Debug, Clone)]
pub struct SnapshotDir {
    pub dir: PathBuf,
    /// Every snapshot is written here (Slurm: the elements read them).
    pub all_on_disk: bool,
}

/// Items as a run read them.
#[derive(Debug, Clone)]
pub enum Snapshot {
    Memory(Arc<[u8]>),
    /// The file itself (a preview), or its copy in the state folder.
    File(PathBuf),
}

impl Snapshot {
    pub fn open(&self) -> io::Result<Box<dyn io::BufRead + Send>> {
        Ok(match self {
            Snapshot::Memory(bytes) => Box::new(io::Cursor::new(bytes.clone())),
            Snapshot::File(path) => Box::new(io::BufReader::new(File::open(path)?)),
        })
    }
}

/// The name of a job's snapshot in a snapshot folder.
pub fn snapshot_path(dir: &Path, job: &str) -> PathBuf {
    dir.join(format!("{job}.items"))
}

/// Reads `source` whole into a snapshot for `job`: in memory when it is small, else in `to`'s
/// folder. A file is written under a temporary name and renamed, so no reader sees part of it,
/// and not synced to disk: it serves this run only, which a crash ends.
pub fn take(to: &SnapshotDir, job: &str, source: &Path) -> Result<Snapshot, String> {
    let mut from = File::open(source).map_err(|e| format!("cannot read the items file `{}`: {e}", source.display()))?;
    let mut head = Vec::new();
    if !to.all_on_disk {
        (&mut from)
            .take(IN_MEMORY + 1)
            .read_to_end(&mut head)
            .map_err(|e| format!("cannot read the items file `{}`: {e}", source.display()))?;
        if head.len() as u64 <= IN_MEMORY {
            return Ok(Snapshot::Memory(head.into()));
        }
    }
    let target = snapshot_path(&to.dir, job);
    let partial = target.with_extension("items.partial");
    let copied = (|| -> io::Result<()> {
        create(&to.dir)?;
        let mut file = File::create(&partial)?;
        io::Write::write_all(&mut file, &head)?;
        // In the kernel (`copy_file_range`) when both are files.
        io::copy(&mut from, &mut file)?;
        std::fs::rename(&partial, &target)
    })();
    copied.map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        format!("cannot copy the items file `{}` to {}: {e}", source.display(), target.display())
    })?;
    Ok(Snapshot::File(target))
}

/// Creates a run's snapshot folder, first removing those of this host's runs that were killed.
fn create(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
        remove_abandoned(parent, &host_name());
    }
    std::fs::create_dir(dir)
}

/// A run's own snapshot folder, `inputs/<host>.<pid>.<time>` in the state folder, created when
/// a first snapshot is written there and removed with this value. Two runs sharing a state
/// folder (`--no-journal` does not lock it) each keep their own; the folders of runs on this
/// host that no longer exist (killed) are removed when the next run creates its own.
pub struct Snapshots {
    dir: PathBuf,
}

impl Snapshots {
    pub fn new(state_dir: &Path) -> Snapshots {
        let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let dir = crate::state_dir::StateDir::new(state_dir).inputs().join(format!(
            "{}.{}.{millis}",
            host_name(),
            std::process::id()
        ));
        Snapshots { dir: std::path::absolute(&dir).unwrap_or(dir) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        if std::fs::remove_dir_all(&self.dir).is_ok()
            && let Some(parent) = self.dir.parent()
        {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn host_name() -> String {
    let name = rustix::system::uname();
    let name = name.nodename().to_string_lossy();
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// Removes the snapshot folders of this host's runs whose process is gone.
fn remove_abandoned(parent: &Path, host: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let mut parts = name.to_str().unwrap_or_default().split('.');
        let (Some(h), Some(pid)) = (parts.next(), parts.next().and_then(|p| p.parse::<i32>().ok())) else {
            continue;
        };
        let gone = h == host
            && rustix::process::Pid::from_raw(pid)
                .is_some_and(|pid| rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH));
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
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
        let snapshots = Snapshots::new(state.path());
        let small = SnapshotDir { dir: snapshots.dir().to_owned(), all_on_disk: false };
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
        let snapshots = Snapshots::new(state.path());
        take(&SnapshotDir { dir: snapshots.dir().to_owned(), all_on_disk: true }, "job", &source).unwrap();
        assert!(!dead.exists());
        assert!(other_host.exists() && live.exists());
    }
}
