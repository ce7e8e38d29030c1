//! The state folder's layout: the one place that names what batchrun keeps there.
//!
//! ```text
//! <state>/journal.jsonl                      the run's journal
//!         journal.jsonl.previous             the last run's, while a fresh run starts
//!         lock                               held by the run that uses the folder
//!         logs/<job>/<index>.<attempt>.out   a task attempt's output (and .err)
//!         inputs/<host>.<pid>.<time>/<job>.items   a run's snapshots of items files
//!         slurm/manifests/<array>.json|.sh   what each Slurm array runs
//!         slurm/out/<id>_<element>.out       Slurm's output of each element
//!         slurm/journals/<array>.<element>.jsonl   each element's journal
//! ```

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> StateDir {
        StateDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn journal(&self) -> PathBuf {
        self.root.join("journal.jsonl")
    }

    pub fn previous_journal(&self) -> PathBuf {
        self.root.join("journal.jsonl.previous")
    }

    pub fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn inputs(&self) -> PathBuf {
        self.root.join("inputs")
    }

    pub fn slurm_manifests(&self) -> PathBuf {
        self.root.join("slurm").join("manifests")
    }

    pub fn slurm_output(&self) -> PathBuf {
        self.root.join("slurm").join("out")
    }

    pub fn shard_journals(&self) -> PathBuf {
        self.root.join("slurm").join("journals")
    }

    /// The journal of element `element` of the array named `array`.
    pub fn shard_journal(&self, array: &str, element: u64) -> PathBuf {
        self.shard_journals().join(format!("{array}.{element}.jsonl"))
    }
}

/// Where an attempt's output is logged: `<logs>/<job>/<index>.<attempt>`, with `.out` and
/// `.err` beside this stem.
pub fn log_stem(logs: &Path, job: &str, index: u64, attempt: u32) -> PathBuf {
    logs.join(job).join(format!("{index}.{attempt}"))
}

/// The stem's file for `ext` (`out` or `err`).
pub fn log_file(stem: &Path, ext: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_files_sit_beside_their_stem() {
        let stem = log_stem(Path::new("/s/logs"), "export", 3, 2);
        assert_eq!(stem, Path::new("/s/logs/export/3.2"));
        assert_eq!(log_file(&stem, "err"), Path::new("/s/logs/export/3.2.err"));
    }
}
