//! Reading a journal back: for `--resume` and `batchrun status`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};

use crate::state_dir::{Open, StateDir};

use super::record::{PlannedJob, Record, Status, VERSION};

/// What the journal says about each task, by key.
#[derive(Debug, Default)]
pub struct History {
    /// Key → whether some attempt succeeded, and its job.
    pub tasks: HashMap<u64, Recorded>,
    /// Job names, as [`Recorded::job`] indexes them.
    pub job_names: Vec<String>,
    /// What the last run planned (its run record), when it recorded it.
    pub planned: Vec<PlannedJob>,
    /// When the last run ended, or the last record's time when it never ended cleanly.
    pub last_activity: Option<String>,
    /// Whether the last run wrote its end record.
    pub last_run_ended: bool,
    /// Lines that could not be read (a torn last line is not counted).
    pub unreadable: usize,
    /// Per place in the plan (job, as [`History::job_names`] indexes it, and index): the task
    /// last recorded there. Read for `batchrun status` alone ([`read_places`]): when the job
    /// file changed between runs, a place holds a task with a new key, and status counts what
    /// is at each place now rather than every key ever recorded.
    pub places: Option<HashMap<(u32, u64), Place>>,
    /// The product each done task committed, for tasks whose job declares one.
    pub products: HashMap<u64, crate::events::Committed>,
}

/// The task last recorded at a place in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub key: u64,
    /// Some attempt of this task succeeded.
    pub done: bool,
    /// Its last recorded attempt was stopped by batchrun (an interrupt, `kill`, a halt).
    pub cancelled: bool,
}

/// A task as the journal recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Some attempt succeeded (`false`: only failures were recorded).
    pub done: bool,
    /// Its last recorded attempt was stopped by batchrun, not failed by itself.
    pub cancelled: bool,
    /// Index into [`History::job_names`] (a small index keeps an entry as small as a bare flag).
    pub job: u32,
}

impl History {
    /// Whether the task is done: some attempt succeeded and, when it committed a product, that
    /// file is still the one it committed (`--resume` runs it again when not).
    pub fn is_done(&self, key: u64) -> bool {
        self.tasks.get(&key).is_some_and(|t| t.done)
            && self.products.get(&key).is_none_or(|p| p.now() == crate::events::ProductNow::Intact)
    }

    /// Records an attempt's end: a task is done once any attempt succeeded.
    fn record(&mut self, key: u64, job: &str, done: bool, cancelled: bool) {
        let job = self.job_index(job);
        let entry = self.tasks.entry(key).or_insert(Recorded { done: false, cancelled, job });
        entry.done |= done;
        entry.cancelled = cancelled;
    }

    /// Records an attempt's end at its place: the same task adds to what is known of it, another
    /// (a later run of a changed job file) takes the place.
    fn record_place(&mut self, key: u64, job: &str, index: u64, done: bool, cancelled: bool) {
        let job = self.job_index(job);
        if let Some(places) = &mut self.places {
            let place = places.entry((job, index)).or_insert(Place { key, done: false, cancelled });
            if place.key != key {
                *place = Place { key, done: false, cancelled };
            }
            place.done |= done;
            place.cancelled = cancelled;
        }
    }

    /// Adds a product a task committed. A task rebuilt by a later run has a commit in each
    /// run's journal, read in no order that says which came last: the one that is the file
    /// now is kept, so a product stays trusted whichever journal recorded its commit.
    fn add_product(&mut self, key: u64, product: crate::events::Committed) {
        match self.products.entry(key) {
            std::collections::hash_map::Entry::Vacant(entry) => _ = entry.insert(product),
            std::collections::hash_map::Entry::Occupied(mut entry) => {
                if *entry.get() != product && product.now() == crate::events::ProductNow::Intact {
                    entry.insert(product);
                }
            }
        }
    }

    /// Forgets what was recorded of job `name`'s tasks: a run decided to run them all again,
    /// so until it records them they are as if never run.
    fn forget(&mut self, name: &str) {
        let Some(job) = history_job(self, name) else { return };
        let products = &mut self.products;
        self.tasks.retain(|key, task| {
            if task.job == job {
                products.remove(key);
            }
            task.job != job
        });
        if let Some(places) = &mut self.places {
            places.retain(|&(j, _), _| j != job);
        }
    }

    fn job_index(&mut self, name: &str) -> u32 {
        let i = match self.job_names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.job_names.push(name.to_owned());
                self.job_names.len() - 1
            }
        };
        u32::try_from(i).unwrap_or(u32::MAX)
    }

    /// Per job name: tasks recorded as done, tasks recorded only as failed, and tasks whose
    /// last attempt batchrun stopped (none succeeded).
    pub fn per_job(&self) -> HashMap<&str, Tally> {
        let mut counts: HashMap<&str, Tally> = HashMap::new();
        for task in self.tasks.values() {
            if let Some(name) = self.job_names.get(task.job as usize) {
                counts.entry(name.as_str()).or_default().add(task.done, task.cancelled);
            }
        }
        counts
    }
}

/// Tasks of a job by how the journal last saw them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub done: u64,
    /// Only failures were recorded, the last of them not a stop by batchrun.
    pub failed: u64,
    /// The last attempt recorded was stopped by batchrun, and none succeeded.
    pub cancelled: u64,
}

impl Tally {
    pub fn add(&mut self, done: bool, cancelled: bool) {
        match (done, cancelled) {
            (true, _) => self.done += 1,
            (false, true) => self.cancelled += 1,
            (false, false) => self.failed += 1,
        }
    }
}

/// Reads the state folder's journal and the journals of its Slurm array elements, merged:
/// a task is done when any of them records a successful attempt.
pub fn read_state(state: &StateDir) -> io::Result<History> {
    read_state_into(state, History::default())
}

/// [`read_state`], with what is at each place in the plan ([`History::places`]).
pub fn read_places(state: &StateDir) -> io::Result<History> {
    read_state_into(state, History { places: Some(HashMap::new()), ..History::default() })
}

fn read_state_into(state: &StateDir, empty: History) -> io::Result<History> {
    let with_places = empty.places.is_some();
    let mut history = read_into(opened(state.open(&state.journal(), Open::Read))?, empty)?;
    let shards = match state.folder(&state.shard_journals(), false) {
        Ok(dir) => dir.entries()?.into_iter().map(|(name, _)| dir.open(&name, Open::Read)).collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    for shard in shards {
        let part = read_into(Some(shard?), History { places: with_places.then(HashMap::new), ..History::default() })?;
        for (key, task) in part.tasks {
            let job = part.job_names.get(task.job as usize).map_or("", String::as_str);
            history.record(key, job, task.done, task.cancelled);
        }
        for (key, product) in part.products {
            history.add_product(key, product);
        }
        // A place the main journal holds another task at keeps it: the main journal has the
        // latest run.
        for ((job, index), place) in part.places.into_iter().flatten() {
            let job = part.job_names.get(job as usize).map_or("", String::as_str);
            let known = history.places.as_ref().and_then(|p| p.get(&(history_job(&history, job)?, index)));
            if known.is_none_or(|known| known.key == place.key) {
                history.record_place(place.key, job, index, place.done, place.cancelled);
            }
        }
        history.unreadable += part.unreadable;
        if part.last_activity > history.last_activity {
            history.last_activity = part.last_activity;
        }
    }
    Ok(history)
}

/// The file opened, or `None` when it does not exist.
fn opened(file: io::Result<File>) -> io::Result<Option<File>> {
    match file {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn history_job(history: &History, name: &str) -> Option<u32> {
    history.job_names.iter().position(|n| n == name).and_then(|i| u32::try_from(i).ok())
}

/// Adds the journal `file` holds to `history`; no file is an empty journal. A last line cut
/// short (a crash in the middle of a write) is ignored.
fn read_into(file: Option<File>, mut history: History) -> io::Result<History> {
    let Some(file) = file else { return Ok(history) };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let complete = line.last() == Some(&b'\n');
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) if record.version() == VERSION => apply(&mut history, record),
            Ok(_) => history.unreadable += 1,
            Err(_) if !complete => break,
            Err(_) => history.unreadable += 1,
        }
    }
    Ok(history)
}

fn apply(history: &mut History, record: Record) {
    match record {
        Record::Run { at, jobs, .. } => {
            history.last_activity = Some(at);
            history.last_run_ended = false;
            if !jobs.is_empty() {
                history.planned = jobs;
            }
        }
        Record::Planned { job, planned, at, .. } => {
            history.last_activity = Some(at);
            if let Some(entry) = history.planned.iter_mut().find(|j| j.name == job) {
                entry.planned = planned;
                entry.when_ready = false;
            }
        }
        Record::Start { at, .. } => history.last_activity = Some(at),
        Record::End { task, at, .. } => {
            if let Some(key) = crate::task_key::parse(&task.key) {
                let (done, cancelled) = (task.status == Status::Ok, task.status == Status::Cancelled);
                history.record(key, &task.job, done, cancelled);
                if let (true, Some(product)) = (done, task.product) {
                    history.add_product(key, product);
                }
                if history.places.is_some() {
                    history.record_place(key, &task.job, task.index, done, cancelled);
                }
            }
            history.last_activity = Some(at);
        }
        Record::Rerun { job, at, .. } => {
            history.forget(&job);
            history.last_activity = Some(at);
        }
        Record::RunEnd { at, .. } => {
            history.last_activity = Some(at);
            history.last_run_ended = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_torn_last_line_is_ignored_and_success_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut f = File::create(&path).unwrap();
        let end = |key: &str, status: &str| {
            format!(
                r#"{{"type":"end","v":1,"key":"{key}","job":"j","index":0,"label":"j","attempt":1,"status":"{status}","duration_ms":1,"at":"t"}}"#
            )
        };
        writeln!(f, "{}", end("00000000000000aa", "failed")).unwrap();
        writeln!(f, "{}", end("00000000000000aa", "ok")).unwrap();
        writeln!(f, "{}", end("00000000000000bb", "failed")).unwrap();
        write!(f, "{}", &end("00000000000000cc", "ok")[..40]).unwrap();
        let h = read_state(&StateDir::claimed(dir.path())).unwrap();
        assert!(h.is_done(0xaa));
        assert!(!h.is_done(0xbb));
        assert!(!h.is_done(0xcc));
        assert_eq!(h.tasks.len(), 2);
        assert_eq!(h.unreadable, 0);
    }

    #[test]
    fn a_state_folder_reads_its_journal_and_its_shard_journals_merged() {
        let dir = tempfile::tempdir().unwrap();
        let end = |key: &str, status: &str| {
            format!(
                "{{\"type\":\"end\",\"v\":1,\"key\":\"{key}\",\"job\":\"j\",\"index\":0,\"label\":\"j\",\"attempt\":1,\"status\":\"{status}\",\"duration_ms\":1,\"at\":\"t\"}}\n"
            )
        };
        let layout = StateDir::claimed(dir.path());
        std::fs::write(layout.journal(), end("00000000000000aa", "failed")).unwrap();
        let shards = layout.shard_journals();
        std::fs::create_dir_all(&shards).unwrap();
        std::fs::write(shards.join("j-1-0.0.jsonl"), end("00000000000000aa", "ok")).unwrap();
        std::fs::write(shards.join("j-1-0.1.jsonl"), end("00000000000000bb", "ok")).unwrap();
        let h = read_state(&layout).unwrap();
        assert!(h.is_done(0xaa), "a success in a shard journal wins");
        assert!(h.is_done(0xbb));
        assert_eq!(h.tasks.len(), 2);
    }

    #[test]
    fn a_place_holds_the_task_last_recorded_there() {
        let dir = tempfile::tempdir().unwrap();
        let end = |key: &str, index: u64, status: &str| {
            format!(
                "{{\"type\":\"end\",\"v\":1,\"key\":\"{key}\",\"job\":\"j\",\"index\":{index},\"label\":\"j\",\"attempt\":1,\"status\":\"{status}\",\"duration_ms\":1,\"at\":\"t\"}}\n"
            )
        };
        let layout = StateDir::claimed(dir.path());
        let journal = [end("aa", 0, "ok"), end("bb", 1, "failed"), end("cc", 1, "ok"), end("cc", 1, "failed")].concat();
        std::fs::write(layout.journal(), journal).unwrap();
        let h = read_places(&layout).unwrap();
        let places = h.places.unwrap();
        assert_eq!(places[&(0, 0)], Place { key: 0xaa, done: true, cancelled: false });
        assert_eq!(
            places[&(0, 1)],
            Place { key: 0xcc, done: true, cancelled: false },
            "another task took the place; success wins"
        );
        assert!(read_state(&layout).unwrap().places.is_none(), "--resume reads keys alone");
    }

    /// A rerun record forgets what earlier runs recorded done for its job, at each place too;
    /// what the run records after it counts again.
    #[test]
    fn a_rerun_forgets_its_job_s_earlier_results() {
        let dir = tempfile::tempdir().unwrap();
        let end = |key: &str, job: &str, status: &str| {
            format!(
                "{{\"type\":\"end\",\"v\":1,\"key\":\"{key}\",\"job\":\"{job}\",\"index\":0,\"label\":\"{job}\",\"attempt\":1,\"status\":\"{status}\",\"duration_ms\":1,\"at\":\"t\"}}\n"
            )
        };
        let rerun = "{\"type\":\"rerun\",\"v\":1,\"job\":\"b\",\"at\":\"t\"}\n";
        let layout = StateDir::claimed(dir.path());
        let journal =
            [end("aa", "a", "ok"), end("bb", "b", "ok"), end("cc", "b", "ok"), rerun.into(), end("cc", "b", "ok")];
        std::fs::write(layout.journal(), journal.concat()).unwrap();
        let h = read_places(&layout).unwrap();
        assert!(h.is_done(0xaa), "another job's results stand");
        assert!(!h.is_done(0xbb), "done before the rerun, not since");
        assert!(!h.tasks.contains_key(&0xbb), "as if never run");
        assert!(h.is_done(0xcc), "done again after it");
        assert_eq!(h.places.unwrap()[&(1, 0)], Place { key: 0xcc, done: true, cancelled: false });
        assert_eq!(h.unreadable, 0);
    }

    /// A product committed twice (a rebuild), in two journals read in no order: the commit
    /// that is the file now is trusted, whichever is read last.
    #[test]
    fn the_commit_that_is_the_file_now_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("part.csv");
        std::fs::write(&file, "rebuilt\n").unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        let now = crate::events::Committed {
            path: file.clone(),
            bytes: meta.len(),
            modified_ns: crate::events::modified_ns(&meta),
            rows: None,
        };
        let before = crate::events::Committed { bytes: 3, modified_ns: Some(1), ..now.clone() };
        let end = |product: &crate::events::Committed| {
            let task = super::super::record::TaskEnd {
                key: "00000000000000aa".into(),
                job: "j".into(),
                index: 0,
                label: "j".into(),
                attempt: 1,
                status: Status::Ok,
                exit: Some(0),
                signal: None,
                duration_ms: 1,
                reason: None,
                product: Some(product.clone()),
            };
            format!(
                "{}\n",
                serde_json::to_string(&Record::End { v: VERSION, task, at: "t".into(), retrying: false }).unwrap()
            )
        };
        let layout = StateDir::claimed(dir.path());
        let shards = layout.shard_journals();
        std::fs::create_dir_all(&shards).unwrap();
        for (main, shard) in [(&now, &before), (&before, &now)] {
            std::fs::write(layout.journal(), end(main)).unwrap();
            std::fs::write(shards.join("j-1-0.0.jsonl"), end(shard)).unwrap();
            let h = read_state(&layout).unwrap();
            assert!(h.is_done(0xaa), "the rebuilt product is trusted: {:?}", h.products);
        }
    }

    #[test]
    fn a_missing_journal_is_empty() {
        let h = read_state(&StateDir::claimed("/nonexistent/state")).unwrap();
        assert!(h.tasks.is_empty());
    }
}
