//! Journal records: one JSON object per line, each carrying the format version.

use serde::{Deserialize, Serialize};

pub use crate::events::{Status, TaskEnd, now};

/// Bumped when a record changes incompatibly; readers skip records of other versions.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A run began (`resume`: it continued the journal instead of starting it afresh), with
    /// what it planned: each selected job's task count and the vars as resolved (computed
    /// ones included), so `batchrun status` answers from the journal alone.
    Run {
        v: u32,
        name: String,
        at: String,
        resume: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        jobs: Vec<PlannedJob>,
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        vars: serde_json::Map<String, serde_json::Value>,
    },
    /// A job planned when it became ready (after the jobs it needs), with its task count.
    Planned { v: u32, job: String, planned: u64, at: String },
    /// An attempt started. Shard journals (Slurm array elements) also carry the command, for
    /// the submitting batchrun to show.
    Start {
        v: u32,
        #[serde(flatten)]
        task: crate::events::TaskStart,
        at: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        command: Option<String>,
    },
    /// An attempt ended. Only `status: ok` makes a task done. `retrying`: the run decided to
    /// retry the task; when it gives that retry up, the same attempt is recorded again without
    /// it (a Slurm submitter replays these decisions rather than making its own).
    End {
        v: u32,
        #[serde(flatten)]
        task: TaskEnd,
        at: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retrying: bool,
    },
    /// Every task of `job` runs again in this run, those done earlier too (a job it needs was
    /// rebuilt): what an earlier run recorded as done for it is no longer done.
    Rerun { v: u32, job: String, at: String },
    /// The run ended (missing when it crashed or was killed).
    RunEnd {
        v: u32,
        at: String,
        /// The run's counts (a journal written before they were all recorded holds some).
        #[serde(flatten)]
        counts: crate::events::Counts,
        interrupted: Option<i32>,
    },
}

/// A job as a run planned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedJob {
    pub name: String,
    pub planned: u64,
    /// Planned when it becomes ready: `planned` is 0 until a [`Record::Planned`] says more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub when_ready: bool,
}

impl Record {
    pub fn version(&self) -> u32 {
        match self {
            Record::Run { v, .. }
            | Record::Planned { v, .. }
            | Record::Start { v, .. }
            | Record::End { v, .. }
            | Record::Rerun { v, .. }
            | Record::RunEnd { v, .. } => *v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An end record reads back as written, and a version-1 line of an older batchrun (no
    /// `exit: null`, no `reason`) still reads.
    #[test]
    fn end_records_round_trip_and_older_lines_read() {
        let task = TaskEnd {
            job: "export".into(),
            index: 3,
            label: "export[3]".into(),
            key: "00000000000000ab".into(),
            attempt: 2,
            status: Status::NotStarted,
            exit: None,
            signal: None,
            duration_ms: 0,
            reason: Some("command not found: `x`".into()),
            product: Some(crate::events::Committed {
                path: "/data/out/3.csv".into(),
                bytes: 1234,
                modified_ns: Some(1_764_900_000_000_000_000),
                rows: Some(1000),
            }),
        };
        let record = Record::End { v: VERSION, task, at: now(), retrying: true };
        let line = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), record);
        let older = r#"{"type":"end","v":1,"key":"00000000000000ab","job":"export","index":3,"label":"export[3]","attempt":1,"status":"ok","exit":0,"duration_ms":12,"at":"2026-11-25T10:00:00.000Z"}"#;
        let Record::End { task, .. } = serde_json::from_str::<Record>(older).unwrap() else { panic!("an end record") };
        assert_eq!((task.status, task.exit, task.reason), (Status::Ok, Some(0), None));
    }

    /// A run end written before it held every count still reads, with 0 for the rest.
    #[test]
    fn older_run_ends_read() {
        let older = r#"{"type":"run_end","v":1,"at":"t","succeeded":2,"failed":1,"skipped":0,"interrupted":null}"#;
        let Record::RunEnd { counts, .. } = serde_json::from_str::<Record>(older).unwrap() else { panic!("a run end") };
        assert_eq!((counts.succeeded, counts.failed, counts.not_run, counts.total), (2, 1, 0, 0));
    }
}
