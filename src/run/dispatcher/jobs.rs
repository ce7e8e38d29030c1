//! Jobs as the dispatcher tracks them: waiting for their needs, active, done or skipped.

use std::time::Instant;

use super::Dispatcher;
use crate::events::Event;
use crate::plan::PlannedTask;

pub(super) enum JobStatus {
    /// Waiting for the jobs it needs.
    Waiting,
    Active,
    Done {
        failed: bool,
    },
    Skipped,
}

pub(super) struct JobState<'p> {
    pub(super) status: JobStatus,
    pub(super) tasks: Option<Box<dyn Iterator<Item = PlannedTask> + Send + 'p>>,
    pub(super) count: u64,
    pub(super) dispatched: u64,
    pub(super) finished: u64,
    pub(super) failed: u64,
    /// Attempts sent to workers and not finished (running or queued).
    pub(super) running: usize,
    /// Attempts that were queued when the run stopped, and never ran.
    pub(super) unstarted: u64,
    pub(super) last_start: Option<Instant>,
}

impl<'p> JobState<'p> {
    pub(super) fn new(selected: bool, count: u64) -> Self {
        JobState {
            status: if selected { JobStatus::Waiting } else { JobStatus::Done { failed: false } },
            tasks: None,
            count,
            dispatched: 0,
            finished: 0,
            failed: 0,
            running: 0,
            unstarted: 0,
            last_start: None,
        }
    }
}

impl Dispatcher<'_, '_> {
    pub(super) fn all_jobs_settled(&self) -> bool {
        self.jobs.iter().all(|j| matches!(j.status, JobStatus::Done { .. } | JobStatus::Skipped))
    }

    /// Activates jobs whose needs all succeeded, skips those with a need that did not, and
    /// closes jobs whose every task has finished. Jobs are in needs order, so one pass settles
    /// a whole chain.
    pub(super) fn update_job_statuses(&mut self) {
        for i in 0..self.jobs.len() {
            if let JobStatus::Waiting = self.jobs[i].status {
                let spec = &self.plan.file.jobs[i];
                let blocker = spec.needs.iter().find_map(|&n| match self.jobs[n].status {
                    JobStatus::Done { failed: true } => {
                        Some(format!("`{}`, which failed", self.plan.file.jobs[n].name))
                    }
                    JobStatus::Skipped => Some(format!("`{}`, which was skipped", self.plan.file.jobs[n].name)),
                    _ => None,
                });
                let ready =
                    spec.needs.iter().all(|&n| matches!(self.jobs[n].status, JobStatus::Done { failed: false }));
                if let Some(reason) = blocker {
                    self.skip_rest_of_job(i, &format!("it needs {reason}"), false);
                } else if let Some(reason) = ready.then(|| self.items_changed(i)).flatten() {
                    self.skip_rest_of_job(i, &reason, true);
                } else if ready {
                    self.jobs[i].status = JobStatus::Active;
                    self.jobs[i].tasks = Some(Box::new(self.plan.tasks(i)));
                }
            }
            let job = &mut self.jobs[i];
            if let JobStatus::Active = job.status
                && job.finished == job.count
            {
                job.status = JobStatus::Done { failed: job.failed > 0 };
                job.tasks = None;
            }
        }
    }

    /// A job that waited for its needs reads its items file when it starts, and a job it needs
    /// may have written it: when the file no longer holds the items counted when the run was
    /// planned, running what it holds now would run the wrong number of tasks without a word.
    /// Planning such a job when it becomes ready is not built yet, so it is not run, and why.
    fn items_changed(&self, i: usize) -> Option<String> {
        if self.plan.file.jobs[i].needs.is_empty() {
            return None;
        }
        let crate::plan::expand::Expansion::File { path, format, count } = &self.plan.jobs[i].expansion else {
            return None;
        };
        let now = crate::plan::expand::count_records(path, *format).unwrap_or(0);
        (now != *count).then(|| {
            format!(
                "its items file {} held {count} items when the run was planned and holds {now} now (written by a job it needs?): run this job in a run of its own after the one that writes the file",
                path.display()
            )
        })
    }

    /// Counts the job's tasks that were never started as skipped (a need failed) or, with
    /// `not_run`, as not run (the run stopped), with `reason`.
    pub(super) fn skip_rest_of_job(&mut self, i: usize, reason: &str, not_run: bool) {
        let job = &mut self.jobs[i];
        let never_sent = job.count - job.dispatched;
        let tasks = never_sent + job.unstarted;
        job.status =
            if job.dispatched == job.unstarted { JobStatus::Skipped } else { JobStatus::Done { failed: true } };
        job.tasks = None;
        if tasks == 0 {
            return;
        }
        if not_run {
            self.counts.not_run += tasks;
        } else {
            self.counts.skipped += tasks;
        }
        self.output.nothing(self.plan.jobs[i].first_seq + job.dispatched, never_sent);
        job.finished += tasks;
        let name = &self.plan.file.jobs[i].name;
        self.reporter.event(&Event::JobSkipped { job: name, tasks, reason, not_run, counts: self.counts });
    }
}
