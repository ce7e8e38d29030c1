//! Where a job's items are read from: the file itself for a preview, a copy for a run.
//!
//! A run reads each items file once, when its job is planned, into a snapshot in the state
//! folder, and everything after reads only that: the count, the tasks, and the Slurm array
//! elements on other nodes. A file rewritten while the run goes on (by a job it needs, or by
//! anyone) cannot change a job's tasks after they were counted, and a FIFO or `/dev/stdin`
//! works as an items file, since it is read once.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Where planning reads items files.
#[derive(Debug, Clone, Default)]
pub enum Inputs {
    /// `plan`, `validate`, `--dry-run`: each file where it is; a job that waits for its needs
    /// or reads a FIFO is not read (it is planned when it runs).
    #[default]
    InPlace,
    /// A run: each file is copied into this folder when its job is planned.
    Snapshot(PathBuf),
    /// A Slurm array element: the copies its submitter made, in this folder.
    Snapshotted(PathBuf),
}

/// The name of a job's snapshot in a snapshot folder.
pub fn snapshot_path(dir: &Path, job: &str) -> PathBuf {
    dir.join(format!("{job}.items"))
}

/// Copies `source` to `dir`'s snapshot of `job`, whole, and returns its path. The copy is
/// written under a temporary name and renamed, so no reader sees part of it.
pub fn take(dir: &Path, job: &str, source: &Path) -> Result<PathBuf, String> {
    let target = snapshot_path(dir, job);
    let partial = target.with_extension("items.partial");
    let mut from = File::open(source).map_err(|e| format!("cannot read the items file `{}`: {e}", source.display()))?;
    let copied = (|| -> io::Result<()> {
        let mut to = File::create(&partial)?;
        io::copy(&mut from, &mut to)?;
        to.sync_data()?;
        std::fs::rename(&partial, &target)
    })();
    copied.map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        format!("cannot copy the items file `{}` to {}: {e}", source.display(), target.display())
    })?;
    Ok(target)
}

/// A run's own snapshot folder, `inputs/<host>.<pid>.<time>` in the state folder, removed with
/// this value. Two runs sharing a state folder (`--no-journal` does not lock it) each keep
/// their own; the folders of runs on this host that no longer exist (killed) are removed when
/// the next run creates its own.
pub struct Snapshots {
    dir: PathBuf,
}

impl Snapshots {
    pub fn create(state_dir: &Path) -> io::Result<Snapshots> {
        let parent = state_dir.join("inputs");
        std::fs::create_dir_all(&parent)?;
        let host = host_name();
        remove_abandoned(&parent, &host);
        let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let dir = parent.join(format!("{host}.{}.{millis}", std::process::id()));
        std::fs::create_dir(&dir)?;
        Ok(Snapshots { dir: std::path::absolute(&dir).unwrap_or(dir) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(parent) = self.dir.parent() {
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

    #[test]
    fn a_snapshot_is_a_whole_copy_and_its_folder_goes_with_the_run() {
        let state = tempfile::tempdir().unwrap();
        let source = state.path().join("items.txt");
        std::fs::write(&source, "a\nb\n").unwrap();
        let snapshots = Snapshots::create(state.path()).unwrap();
        let copy = take(snapshots.dir(), "job", &source).unwrap();
        std::fs::write(&source, "changed\n").unwrap();
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), "a\nb\n");
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
        let snapshots = Snapshots::create(state.path()).unwrap();
        assert!(!dead.exists());
        assert!(other_host.exists() && live.exists());
        drop(snapshots);
    }
}
