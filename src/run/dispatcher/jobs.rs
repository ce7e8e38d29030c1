//! Jobs as the dispatcher hands their tasks out; their phases and counts are the run
//! state's ([`crate::run_state`]).

use std::time::Instant;

use super::Dispatcher;
use crate::plan::PlannedTask;
use crate::policy;
use crate::run::handoff::Feed;
use crate::run::output::Output;

pub(super) struct JobState<'p> {
    pub(super) tasks: Option<Box<dyn Iterator<Item = PlannedTask> + Send + 'p>>,
    /// Where its tasks start in the run's order ([`crate::plan::Task::seq`]): given at the
    /// start to jobs planned then, and when it becomes ready to a job planned then or needing
    /// one that is, so that no task waits in `--output ordered` for a job that runs after it.
    pub(super) first_seq: Option<u64>,
    /// Tasks taken from `tasks`: the next one's index.
    pub(super) dispatched: u64,
    /// Attempts sent to workers and not finished (running or queued).
    pub(super) running: usize,
    /// Attempts that were queued when the run stopped, and never ran.
    pub(super) unstarted: Vec<u64>,
    pub(super) last_start: Option<Instant>,
}

impl JobState<'_> {
    pub(super) fn new() -> Self {
        JobState { tasks: None, first_seq: None, dispatched: 0, running: 0, unstarted: Vec::new(), last_start: None }
    }

    /// Hands out no more of the job's `count` tasks: their places in `--output ordered` are
    /// given up. Returns how many were handed out, and which of those never started.
    pub(super) fn hand_back(&mut self, output: &Output, count: u64) -> (u64, Vec<u64>) {
        self.tasks = None;
        let never_sent = count.saturating_sub(self.dispatched);
        if never_sent > 0
            && let Some(first) = self.first_seq
        {
            output.nothing(first + self.dispatched, never_sent);
        }
        (self.dispatched, std::mem::take(&mut self.unstarted))
    }
}

impl Dispatcher<'_, '_> {
    /// Starts the jobs the run state says are ready; those planned when ready are handed to
    /// the planner first.
    pub(super) fn start_ready_jobs(&mut self, feed: &Feed) {
        let (jobs, output) = (&mut self.jobs, self.output);
        for i in self.state.ready_jobs(|i, count| jobs[i].hand_back(output, count)) {
            if self.plan.jobs[i].waits_to_be_planned() {
                self.state.planning(i);
                self.planning += 1;
                feed.plan(i);
            } else {
                self.activate(i, None);
            }
        }
    }

    /// The planner planned job `i`: its tasks may start, or it fails as one task that could
    /// not (not run, when the run is stopping: its items command was stopped with it).
    pub(super) fn on_planned(&mut self, i: usize, planned: Result<u64, String>) {
        self.planning -= 1;
        self.state.planned(i, &planned);
        match planned {
            Err(_) if self.state.stopping() => {
                let count = self.state.count(i);
                let job = &mut self.jobs[i];
                job.first_seq = Some(self.next_seq);
                self.next_seq += count;
            }
            planned => self.activate(i, planned.err()),
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
                self.next_seq += self.state.count(i);
            }
        }
    }

    /// Starts a job whose needs succeeded (and that is planned), placing it in the run's
    /// order; one that could not be planned fails as one task that could not start, and says
    /// why.
    fn activate(&mut self, i: usize, unplanned: Option<String>) {
        let count = self.state.count(i);
        let job = &mut self.jobs[i];
        if job.first_seq.is_none() {
            job.first_seq = Some(self.next_seq);
            self.next_seq += count;
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

    /// The job's tasks that were never started are skipped (a need failed) or, with
    /// `not_run`, not run (the run stopped), with `reason`.
    pub(super) fn skip_rest_of_job(&mut self, i: usize, reason: &str, not_run: bool) {
        let (from, also) = self.jobs[i].hand_back(self.output, self.state.count(i));
        self.state.unrun(i, from, &also, reason, not_run);
    }
}
