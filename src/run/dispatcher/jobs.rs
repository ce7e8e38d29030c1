//! Jobs as the dispatcher tracks them: waiting for their needs, active, done or skipped.

use std::time::Instant;

use super::Dispatcher;
use crate::events::{Event, Unrun};
use crate::plan::PlannedTask;
use crate::policy::{self, JobEnd};

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
    /// Where its tasks start in the run's order ([`crate::plan::Task::seq`]): given at the
    /// start to jobs planned then, and when it becomes ready to a job planned then or needing
    /// one that is, so that no task waits in `--output ordered` for a job that runs after it.
    pub(super) first_seq: Option<u64>,
    pub(super) dispatched: u64,
    pub(super) finished: u64,
    pub(super) failed: u64,
    /// Attempts sent to workers and not finished (running or queued).
    pub(super) running: usize,
    /// Attempts that were queued when the run stopped, and never ran.
    pub(super) unstarted: Vec<u64>,
    pub(super) last_start: Option<Instant>,
}

impl JobStatus {
    fn end(&self) -> JobEnd {
        match self {
            JobStatus::Waiting | JobStatus::Active => JobEnd::Open,
            JobStatus::Done { failed: false } => JobEnd::Succeeded,
            JobStatus::Done { failed: true } => JobEnd::Failed,
            JobStatus::Skipped => JobEnd::Skipped,
        }
    }
}

impl<'p> JobState<'p> {
    pub(super) fn new(selected: bool, count: u64) -> Self {
        JobState {
            status: if selected { JobStatus::Waiting } else { JobStatus::Done { failed: false } },
            tasks: None,
            count,
            first_seq: None,
            dispatched: 0,
            finished: 0,
            failed: 0,
            running: 0,
            unstarted: Vec::new(),
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
                let needs = &self.plan.file.jobs[i].needs;
                let files = &self.plan.file.jobs;
                let ends = || needs.iter().map(|&n| (files[n].name.as_str(), self.jobs[n].status.end()));
                if let Some(reason) = policy::blocked(ends()) {
                    self.skip_rest_of_job(i, &reason, false);
                } else if policy::ready(ends().map(|(_, end)| end)) {
                    self.activate(i);
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

    /// Gives each job planned at the start, and needing no job planned later, its place in
    /// the run's order: job after job, in the file's (needs-respecting) order.
    pub(super) fn place_jobs_planned_at_start(&mut self) {
        let mut later = vec![false; self.jobs.len()];
        for i in 0..self.jobs.len() {
            later[i] =
                self.plan.jobs[i].waits_to_be_planned() || self.plan.file.jobs[i].needs.iter().any(|&n| later[n]);
            if !later[i] {
                self.jobs[i].first_seq = Some(self.next_seq);
                self.next_seq += self.jobs[i].count;
            }
        }
    }

    /// Starts a job whose needs succeeded: plans it first if it waited to (its items are read
    /// now, after the jobs that may write them), and places it in the run's order.
    fn activate(&mut self, i: usize) {
        let mut unplanned = None;
        if self.plan.jobs[i].waits_to_be_planned() {
            let (count, error) = match self.plan.plan_when_ready(i) {
                Ok(count) => (count, None),
                // The job fails as one task that could not start, and says why.
                Err(e) => (1, Some(e)),
            };
            self.jobs[i].count = count;
            self.counts.total += count;
            let name = &self.plan.file.jobs[i].name;
            self.reporter.event(&Event::JobPlanned { job: name, tasks: count, counts: self.counts });
            unplanned = error;
        }
        let job = &mut self.jobs[i];
        job.status = JobStatus::Active;
        if job.first_seq.is_none() {
            job.first_seq = Some(self.next_seq);
            self.next_seq += job.count;
        }
        match unplanned {
            None => job.tasks = Some(Box::new(self.plan.tasks(i))),
            Some(error) => {
                let seq = job.first_seq.unwrap_or_default();
                job.dispatched = 1;
                self.output.nothing(seq, 1);
                self.finish(policy::unplanned(i, &self.plan.file.jobs[i].name, &error), None);
            }
        }
    }

    /// Counts the job's tasks that were never started as skipped (a need failed) or, with
    /// `not_run`, as not run (the run stopped), with `reason`.
    pub(super) fn skip_rest_of_job(&mut self, i: usize, reason: &str, not_run: bool) {
        let plan = self.plan;
        let label = move |index| plan.label(i, index);
        let job = &mut self.jobs[i];
        let never_sent = job.count - job.dispatched;
        let unstarted = job.unstarted.len() as u64;
        let tasks = never_sent + unstarted;
        job.status = if job.dispatched == unstarted { JobStatus::Skipped } else { JobStatus::Done { failed: true } };
        job.tasks = None;
        let which = Unrun { job: i, from: job.dispatched, to: job.count, also: &job.unstarted, label: &label };
        let name = &plan.file.jobs[i].name;
        if tasks == 0 {
            if plan.jobs[i].waits_to_be_planned() {
                // Never planned: it has no tasks to count, but it is said.
                self.reporter.event(&Event::JobSkipped {
                    job: name,
                    tasks,
                    which,
                    reason,
                    not_run,
                    counts: self.counts,
                });
            }
            return;
        }
        if not_run {
            self.counts.not_run += tasks;
        } else {
            self.counts.skipped += tasks;
        }
        if let Some(first) = job.first_seq {
            self.output.nothing(first + job.dispatched, never_sent);
        }
        job.finished += tasks;
        self.reporter.event(&Event::JobSkipped { job: name, tasks, which, reason, not_run, counts: self.counts });
    }
}
