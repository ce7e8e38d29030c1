//! The journal: an append-only record of every attempt, for `--resume` and `batchrun status`.
//!
//! It lives in the state folder (`.batchrun/<name>/` beside the job file, or `--state-dir`),
//! as `journal.jsonl`, next to a `lock` file that keeps two runs from sharing the folder.
//!
//! The journal is fed the same events as the reporters, on the dispatcher's thread. Records
//! are handed to the OS once per dispatcher wake-up (so a killed batchrun loses none that
//! describe a finished task), and made durable by `fdatasync` in a background thread at most
//! every tick (group commit: durability costs a sync per 100 ms, not per task), and once more,
//! synchronously, before the run reports its result.

pub mod reader;
pub mod record;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};

use crate::events::Listener;
use crate::events::{Counts, Event, Finished};
use crate::state_dir::{Dir, JOURNAL, Kind, LOCK, Open, PREVIOUS_JOURNAL as PREVIOUS, StateDir};
use record::{Record, TaskEnd, VERSION};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("another batchrun is using the state folder {0} (its lock is held); wait for it, or use --state-dir")]
    Locked(PathBuf),
    #[error(
        "cannot use the state folder {path}: {source}; choose another with --state-dir DIR, or run with --no-journal"
    )]
    Io { path: PathBuf, source: io::Error },
}

pub struct Journal {
    out: BufWriter<File>,
    path: PathBuf,
    /// Its state folder, to make again if it is deleted during the run.
    state: StateDir,
    /// Held for the whole run; the OS releases it when batchrun ends, however it ends.
    _lock: File,
    /// `None` asks the syncer thread for a sync; a file replaces the one it syncs.
    syncs: Sender<Option<File>>,
    /// Written since the last sync request.
    dirty: bool,
    failed: bool,
    /// Job names by index, as records name jobs.
    jobs: Vec<String>,
    /// What it could not do, for [`Listener::warnings`] to pass on.
    warnings: Vec<String>,
    /// Start records carry the command (shard journals, which a submitter follows).
    with_commands: bool,
    /// What the run planned, for its run record (see [`Journal::with_plan`]).
    planned: Vec<record::PlannedJob>,
    vars: serde_json::Map<String, serde_json::Value>,
}

impl Journal {
    /// Locks the state folder and opens its journal: continued with `resume`, else started afresh.
    pub fn open(state: &StateDir, resume: bool, jobs: Vec<String>) -> Result<Journal, JournalError> {
        let io_error = |source| JournalError::Io { path: state.root().to_path_buf(), source };
        let root = state.open_root().map_err(io_error)?;
        let lock = take_lock(&root).map_err(|e| match e {
            None => JournalError::Locked(state.root().to_path_buf()),
            Some(e) => io_error(e),
        })?;
        if !resume {
            // A fresh run: shard journals of earlier Slurm runs must not count for a later
            // `--resume` of this one.
            forget_shard_journals(state, None).map_err(io_error)?;
        }
        let path = state.journal();
        // Renaming would replace a link, not follow it; but a link there was planted, so say so.
        for name in [JOURNAL, PREVIOUS] {
            if root.kind(name).map_err(io_error)? == Some(Kind::Link) {
                root.open(name, Open::Read).map_err(io_error)?;
            }
        }
        let moved = !resume && root.rename(JOURNAL, PREVIOUS).is_ok();
        let how = if resume { Open::Append } else { Open::Replace };
        let file = root.open(JOURNAL, how).map_err(io_error)?;
        let syncs = spawn_syncer(file.try_clone().map_err(io_error)?, moved.then_some(root));
        Ok(Journal {
            out: BufWriter::with_capacity(64 * 1024, file),
            path,
            state: state.clone(),
            _lock: lock,
            syncs,
            dirty: false,
            failed: false,
            warnings: Vec::new(),
            jobs,
            with_commands: false,
            planned: Vec::new(),
            vars: serde_json::Map::new(),
        })
    }

    /// Records with the run what it planned: each selected job's task count, and the vars as
    /// resolved. `batchrun status` reads these instead of planning the file again (which would
    /// run its computed vars, and take as long as the plan is large).
    pub fn with_plan(mut self, jobs: Vec<record::PlannedJob>, vars: Vec<(String, serde_json::Value)>) -> Journal {
        self.planned = jobs;
        self.vars = vars.into_iter().collect();
        self
    }

    /// The journal of one Slurm array element, at `path`: appended to (a requeued element
    /// continues it), not locked (each element has its own), with commands in start records.
    pub fn open_shard(state: &StateDir, path: &Path, jobs: Vec<String>) -> Result<Journal, JournalError> {
        let io_error = |source| JournalError::Io { path: path.to_path_buf(), source };
        let file = state.open(path, Open::Append).map_err(io_error)?;
        let lock = file.try_clone().map_err(io_error)?;
        let syncs = spawn_syncer(file.try_clone().map_err(io_error)?, None);
        Ok(Journal {
            out: BufWriter::with_capacity(64 * 1024, file),
            path: path.to_path_buf(),
            state: state.clone(),
            _lock: lock,
            syncs,
            dirty: false,
            failed: false,
            warnings: Vec::new(),
            jobs,
            with_commands: true,
            planned: Vec::new(),
            vars: serde_json::Map::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, record: &Record) {
        let written = serde_json::to_writer(&mut self.out, record)
            .map_err(io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        self.dirty = true;
        self.check(written);
    }

    /// When the journal's file was deleted (the state folder removed while the run goes on),
    /// says so once and puts it back: the folder, the lock and the journal with every record so
    /// far, read back from the deleted file, which stays open. Without this every later record
    /// would go to a file no one can open, and `--resume` would redo the work.
    fn recreate_if_deleted(&mut self) {
        use std::os::unix::fs::MetadataExt as _;
        let deleted = self.out.get_ref().metadata().is_ok_and(|m| m.nlink() == 0);
        if !deleted || self.failed {
            return;
        }
        self.warnings.push(format!(
            "the state folder {} was deleted during the run: recreating it and the journal",
            self.state.root().display()
        ));
        let recreated = (|| -> io::Result<(File, File)> {
            self.out.flush()?;
            let root = self.state.open_root()?;
            let lock = take_lock(&root).map_err(|e| e.unwrap_or_else(|| io::Error::other("its lock is held")))?;
            let mut new = self.state.open(&self.path, Open::Replace)?;
            let mut old = self.out.get_ref().try_clone()?;
            io::Seek::seek(&mut old, io::SeekFrom::Start(0))?;
            io::copy(&mut old, &mut new)?;
            Ok((new, lock))
        })();
        match recreated {
            Ok((new, lock)) => {
                if let Ok(copy) = new.try_clone() {
                    let _ = self.syncs.send(Some(copy));
                }
                self.out = BufWriter::with_capacity(64 * 1024, new);
                self._lock = lock;
            }
            Err(e) => self.check(Err(e)),
        }
    }

    fn check(&mut self, result: io::Result<()>) {
        if let Err(e) = result
            && !self.failed
        {
            self.failed = true;
            self.warnings
                .push(format!("cannot write the journal {}: {e}; --resume will redo work", self.path.display()));
        }
    }

    fn end_record(&self, task: &Finished, retrying: bool) -> Record {
        Record::End { v: VERSION, task: TaskEnd::of(task, &self.jobs[task.job]), at: record::now(), retrying }
    }
}

/// The state folder's lock, taken, with this process's id in it for `status` to name; `None`
/// as the error when another process holds it.
fn take_lock(root: &Dir) -> Result<File, Option<io::Error>> {
    let mut lock = root.open(LOCK, Open::Keep).map_err(Some)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(None),
        Err(std::fs::TryLockError::Error(e)) => return Err(Some(e)),
    }
    lock.set_len(0).and_then(|()| writeln!(lock, "{}", std::process::id())).map_err(Some)?;
    Ok(lock)
}

/// Removes the journals of an earlier run's Slurm array elements (of one job, when `job` names
/// it); a link among them is an error, and anything that is not such a journal is left.
fn forget_shard_journals(state: &StateDir, job: Option<&str>) -> io::Result<()> {
    let dir = match state.folder(&state.shard_journals(), false) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for (name, kind) in dir.entries()? {
        match kind {
            Kind::File
                if name.ends_with(".jsonl")
                    && job.is_none_or(|job| crate::state_dir::job_of_shard_journal(&name) == Some(job)) =>
            {
                dir.remove(&name)?
            }
            Kind::Link => dir.open(&name, Open::Read).map(drop)?,
            _ => {}
        }
    }
    Ok(())
}

/// A thread that deletes the previous journal, if it was renamed aside in `previous`'s folder
/// (deleting or truncating a file frees its blocks, and on a filesystem mounted with `discard`
/// that waits for the disk, on the way to every run's first task: PERFORMANCE.md), then
/// `fdatasync`s the journal when asked. Requests arriving while one sync is pending fold into
/// it.
fn spawn_syncer(file: File, previous: Option<std::sync::Arc<Dir>>) -> Sender<Option<File>> {
    let (tx, rx) = crossbeam_channel::bounded::<Option<File>>(1);
    std::thread::spawn(move || {
        if let Some(dir) = previous {
            let _ = dir.remove(PREVIOUS);
        }
        let mut file = file;
        for message in rx {
            if let Some(replacement) = message {
                file = replacement;
            }
            let _ = file.sync_data();
        }
    });
    tx
}

impl Listener for Journal {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { name, .. } => {
                let resume = self.out.get_ref().metadata().map(|m| m.len() > 0).unwrap_or(false);
                let (jobs, vars) = (self.planned.clone(), self.vars.clone());
                self.write(&Record::Run { v: VERSION, name: name.to_string(), at: record::now(), resume, jobs, vars });
            }
            Event::TaskStarted { task, attempt, .. } => self.write(&Record::Start {
                v: VERSION,
                task: crate::events::TaskStart::of(task, &self.jobs[task.job], *attempt),
                at: record::now(),
                command: self.with_commands.then(|| task.command.to_owned()),
            }),
            Event::TaskRetrying { task, .. } => {
                let record = self.end_record(task, true);
                self.write(&record);
            }
            // When a stop gave up a retry, this is the attempt already recorded as retrying,
            // recorded again as the task's last: the decision, which a Slurm submitter replays.
            Event::TaskFinished { task, .. } => {
                let record = self.end_record(task, false);
                self.write(&record);
            }
            Event::JobPlanned { job, tasks, .. } => {
                let record = Record::Planned { v: VERSION, job: job.to_string(), planned: *tasks, at: record::now() };
                self.write(&record);
            }
            Event::JobRerun { job, .. } => {
                let record = Record::Rerun { v: VERSION, job: job.to_string(), at: record::now() };
                self.write(&record);
                // Its elements' journals from earlier runs hold the results it no longer trusts.
                if let Err(e) = forget_shard_journals(&self.state, Some(job)) {
                    let path = self.state.shard_journals();
                    self.warnings.push(format!(
                        "cannot remove the earlier journals of `{job}`'s array elements in {}: {e}; a later --resume may count their tasks done",
                        path.display()
                    ));
                }
            }
            Event::JobSkipped { .. } | Event::RunCancelling { .. } | Event::Warning { .. } => {}
            Event::RunFinished { counts, interrupted_by, .. } => {
                self.recreate_if_deleted();
                let at = record::now();
                self.write(&Record::RunEnd { v: VERSION, at, counts: *counts, interrupted: *interrupted_by });
                let flushed = self.out.flush().and_then(|()| self.out.get_ref().sync_data());
                self.check(flushed);
            }
        }
    }

    fn flush(&mut self) {
        let flushed = self.out.flush();
        self.check(flushed);
    }

    fn warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn tick(&mut self, _counts: &Counts, _elapsed: Duration) {
        if self.dirty {
            self.recreate_if_deleted();
            self.flush();
            self.dirty = false;
            match self.syncs.try_send(None) {
                Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_run_forgets_shard_journals_and_a_resumed_one_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::claimed(dir.path());
        let shard = state.shard_journal("j-1-0", 0);
        std::fs::create_dir_all(shard.parent().unwrap()).unwrap();
        std::fs::write(&shard, "").unwrap();
        let other = shard.with_file_name("notes.txt");
        std::fs::write(&other, "").unwrap();
        drop(Journal::open(&state, true, vec!["j".into()]).unwrap());
        assert!(shard.exists(), "--resume reads them");
        drop(Journal::open(&state, false, vec!["j".into()]).unwrap());
        assert!(!shard.exists(), "a fresh run must not count an earlier run's shards");
        assert!(other.exists(), "what is not a shard journal is left");
    }

    #[test]
    fn a_fresh_run_starts_an_empty_journal_and_deletes_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::claimed(dir.path());
        let journal = state.journal();
        std::fs::write(&journal, "{\"type\":\"run\"}\n").unwrap();
        drop(Journal::open(&state, true, vec!["j".into()]).unwrap());
        assert_eq!(std::fs::read(&journal).unwrap().len(), 15, "--resume continues the journal");
        let _open = Journal::open(&state, false, vec!["j".into()]).unwrap();
        assert_eq!(std::fs::read(&journal).unwrap(), b"");
        assert_eq!(std::fs::read_to_string(state.lock()).unwrap(), format!("{}\n", std::process::id()));
        // The syncer thread deletes it in the background.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while state.previous_journal().exists() {
            assert!(std::time::Instant::now() < deadline, "the previous journal was never deleted");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
