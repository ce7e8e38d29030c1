//! The manifest of one job array: what each of its elements runs.
//!
//! The submitting batchrun writes it to the state folder (shared with the nodes) before
//! `sbatch`; each element reads it in `batchrun exec`. It names the job file by path and hash
//! rather than copying tasks, so an element plans its own share with the same code as a local
//! run; the vars travel as values, so computed vars are not run again on the nodes.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::state_dir::{Open, StateDir};

pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// The job file, absolute.
    pub file: PathBuf,
    /// xxh3 of the job file's bytes at submission: an element refuses a file that changed.
    pub file_hash: String,
    pub job: String,
    /// Every var's value as the submitter resolved it.
    pub vars: Vec<(String, Json)>,
    pub state_dir: PathBuf,
    /// The task indices the array runs, as half-open ranges in order; element `e` runs the
    /// `tasks_per_element` of them that start at position `e × tasks_per_element`.
    pub indices: Vec<(u64, u64)>,
    pub tasks_per_element: u64,
    /// Tasks an element runs at once.
    pub workers: usize,
    pub keep_logs: bool,
    /// Unique among the run's arrays: names the elements' journals.
    pub name: String,
    /// The submitter's snapshots of items files, which elements read instead of the files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<PathBuf>,
    /// What the submitting command line set over the file's settings.
    #[serde(default)]
    pub overrides: crate::config::Overrides,
}

impl Manifest {
    pub fn task_count(&self) -> u64 {
        self.indices.iter().map(|(a, b)| b - a).sum()
    }

    pub fn element_count(&self) -> u64 {
        self.task_count().div_ceil(self.tasks_per_element.max(1))
    }

    /// The task indices element `element` runs.
    pub fn element_indices(&self, element: u64) -> Vec<Range<u64>> {
        let tpe = self.tasks_per_element.max(1);
        let (mut skip, mut want) = (element.saturating_mul(tpe), tpe);
        let mut out = Vec::new();
        for &(a, b) in &self.indices {
            let len = b - a;
            if skip >= len {
                skip -= len;
                continue;
            }
            let start = a + skip;
            let end = (start + want).min(b);
            out.push(start..end);
            want -= end - start;
            skip = 0;
            if want == 0 {
                break;
            }
        }
        out
    }

    pub fn journal_path(&self, element: u64) -> PathBuf {
        StateDir::claimed(&self.state_dir).shard_journal(&self.name, element)
    }

    /// Writes the manifest at `path` in `state`, whole or not at all.
    pub fn write(&self, state: &StateDir, path: &Path) -> io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        state.write_whole(path, &text)
    }

    pub fn read(state: &StateDir, path: &Path) -> Result<Manifest, String> {
        let mut text = Vec::new();
        state
            .open(path, Open::Read)
            .and_then(|file| io::Read::read_to_end(&mut io::Read::take(file, MAX_MANIFEST), &mut text))
            .map_err(|e| format!("cannot read the manifest {}: {e}", path.display()))?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| format!("the manifest {} is not one batchrun can read: {e}", path.display()))?;
        if manifest.version != VERSION {
            return Err(format!(
                "the manifest {} has version {}; this batchrun reads version {VERSION}",
                path.display(),
                manifest.version
            ));
        }
        Ok(manifest)
    }
}

/// The most a manifest may hold when read back: its indices are ranges, so far less.
const MAX_MANIFEST: u64 = 64 << 20;

/// Sorted indices as half-open ranges: 0,1,2,5,6 → [0,3), [5,7).
pub fn ranges_of(indices: impl IntoIterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for i in indices {
        match ranges.last_mut() {
            Some((_, end)) if *end == i => *end += 1,
            _ => ranges.push((i, i + 1)),
        }
    }
    ranges
}

pub fn hash_of(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    fn manifest(indices: Vec<(u64, u64)>, tasks_per_element: u64) -> Manifest {
        Manifest {
            version: VERSION,
            file: "/j.yaml".into(),
            file_hash: String::new(),
            job: "j".into(),
            vars: Vec::new(),
            state_dir: "/s".into(),
            indices,
            tasks_per_element,
            workers: 1,
            keep_logs: false,
            name: "j-1".into(),
            inputs: None,
            overrides: crate::config::Overrides::default(),
        }
    }

    #[test]
    fn elements_share_the_indices_in_order_without_gaps_or_overlaps() {
        let m = manifest(ranges_of([0, 1, 2, 5, 6, 7, 8, 20]), 3);
        assert_eq!(m.task_count(), 8);
        assert_eq!(m.element_count(), 3);
        assert_eq!(m.element_indices(0), vec![0..3]);
        assert_eq!(m.element_indices(1), vec![5..8]);
        assert_eq!(m.element_indices(2), vec![8..9, 20..21]);
        assert!(m.element_indices(3).is_empty());
        let m = manifest(vec![(0, 10)], 4);
        let all: Vec<u64> = (0..m.element_count()).flat_map(|e| m.element_indices(e)).flatten().collect();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::claimed(dir.path());
        let path = state.slurm_manifests().join("m.json");
        let m = manifest(vec![(0, 4)], 2);
        m.write(&state, &path).unwrap();
        assert_eq!(Manifest::read(&StateDir::of_manifest(&path), &path).unwrap(), m);
        std::fs::write(&path, "{}").unwrap();
        assert!(Manifest::read(&state, &path).unwrap_err().contains("not one batchrun can read"));
    }
}
