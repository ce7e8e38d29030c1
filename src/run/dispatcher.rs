//! The dispatcher: the single owner of run state.
//!
//! It decides which task starts next (jobs whose `needs` succeeded, per-job caps, named limits,
//! `start_gap`, the ordered-output window), hands tasks to idle workers, takes their results,
//! skips jobs whose needs failed, and turns all of it into [`Event`]s for the reporters. Tasks
//! are pulled from the planner's lazy iterators only when a worker is free, so nothing is
//! queued ahead and memory does not grow with the number of tasks.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::output::Output;
use crate::events::{Counts, Event, Finished, Outcome};
use crate::plan::{Plan, PlannedTask, Task};
use crate::reporter::Reporter;

/// How often reporters get a [`Reporter::tick`] (progress redraws, periodic lines).
const TICK: Duration = Duration::from_millis(100);

enum JobStatus {
    /// Waiting for the jobs it needs.
    Waiting,
    Active,
    Done {
        failed: bool,
    },
    Skipped,
}

struct JobState<'p> {
    status: JobStatus,
    tasks: Option<Box<dyn Iterator<Item = PlannedTask> + Send + 'p>>,
    count: u64,
    dispatched: u64,
    finished: u64,
    failed: u64,
    running: usize,
    last_start: Option<Instant>,
}

pub struct Dispatcher<'p, 'r> {
    plan: &'p Plan,
    output: &'p Output,
    reporter: &'r mut dyn Reporter,
    jobs: Vec<JobState<'p>>,
    limits_in_use: Vec<usize>,
    idle: usize,
    counts: Counts,
    started: Instant,
}

impl<'p, 'r> Dispatcher<'p, 'r> {
    pub fn new(
        plan: &'p Plan,
        output: &'p Output,
        workers: usize,
        reporter: &'r mut dyn Reporter,
    ) -> Self {
        let jobs = plan
            .jobs
            .iter()
            .map(|j| JobState {
                status: if j.selected {
                    JobStatus::Waiting
                } else {
                    JobStatus::Done { failed: false }
                },
                tasks: None,
                count: j.count(),
                dispatched: 0,
                finished: 0,
                failed: 0,
                running: 0,
                last_start: None,
            })
            .collect();
        Dispatcher {
            plan,
            output,
            reporter,
            jobs,
            limits_in_use: vec![0; plan.file.limits.len()],
            idle: workers,
            counts: Counts {
                total: plan.total(),
                ..Counts::default()
            },
            started: Instant::now(),
        }
    }

    /// Runs the plan to the end; returns the final counts.
    pub fn run(mut self, tasks: Sender<Task>, results: Receiver<Finished>) -> Counts {
        let workers = self.idle;
        self.reporter.event(&Event::RunStarted {
            name: &self.plan.file.name,
            counts: self.counts,
            workers,
        });
        let mut next_tick = Instant::now() + TICK;
        loop {
            self.update_job_statuses();
            let wake_for_gap = self.start_tasks(&tasks);
            if self.counts.done() == self.counts.total
                && self.counts.running == 0
                && self.all_jobs_settled()
            {
                break;
            }
            let now = Instant::now();
            let wake = wake_for_gap.map_or(next_tick, |w| w.min(next_tick));
            match results.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(finished) => self.on_finished(finished),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= next_tick {
                self.reporter.tick(&self.counts, self.started.elapsed());
                next_tick = Instant::now() + TICK;
            }
        }
        drop(tasks);
        self.reporter.event(&Event::RunFinished {
            counts: self.counts,
            elapsed: self.started.elapsed(),
        });
        self.counts
    }

    fn all_jobs_settled(&self) -> bool {
        self.jobs
            .iter()
            .all(|j| matches!(j.status, JobStatus::Done { .. } | JobStatus::Skipped))
    }

    /// Activates jobs whose needs all succeeded, skips those with a need that did not, and
    /// closes jobs whose every task has finished. Jobs are in needs order, so one pass settles
    /// a whole chain.
    fn update_job_statuses(&mut self) {
        for i in 0..self.jobs.len() {
            if let JobStatus::Waiting = self.jobs[i].status {
                let spec = &self.plan.file.jobs[i];
                let blocker = spec.needs.iter().find_map(|&n| match self.jobs[n].status {
                    JobStatus::Done { failed: true } => {
                        Some(format!("`{}`, which failed", self.plan.file.jobs[n].name))
                    }
                    JobStatus::Skipped => Some(format!(
                        "`{}`, which was skipped",
                        self.plan.file.jobs[n].name
                    )),
                    _ => None,
                });
                let ready = spec
                    .needs
                    .iter()
                    .all(|&n| matches!(self.jobs[n].status, JobStatus::Done { failed: false }));
                if let Some(reason) = blocker {
                    self.skip_job(i, &format!("it needs {reason}"));
                } else if ready {
                    self.jobs[i].status = JobStatus::Active;
                    self.jobs[i].tasks = Some(Box::new(self.plan.tasks(i)));
                }
            }
            let job = &mut self.jobs[i];
            if let JobStatus::Active = job.status
                && job.finished == job.count
            {
                job.status = JobStatus::Done {
                    failed: job.failed > 0,
                };
                job.tasks = None;
            }
        }
    }

    fn skip_job(&mut self, i: usize, reason: &str) {
        let job = &mut self.jobs[i];
        job.status = JobStatus::Skipped;
        let tasks = job.count;
        self.counts.skipped += tasks;
        self.output.nothing(self.plan.jobs[i].first_seq, tasks);
        let name = &self.plan.file.jobs[i].name;
        self.reporter.event(&Event::JobSkipped {
            job: name,
            tasks,
            reason,
            counts: self.counts,
        });
    }

    /// Starts tasks while workers are idle and some job may start one. Returns when a job held
    /// back only by its `start_gap` may start next.
    fn start_tasks(&mut self, tasks: &Sender<Task>) -> Option<Instant> {
        let mut wake = None;
        while self.idle > 0 {
            let now = Instant::now();
            let Some(i) = self.next_job(now, &mut wake) else {
                break;
            };
            let job = &mut self.jobs[i];
            let Some(planned) = job.tasks.as_mut().and_then(Iterator::next) else {
                // The source ran dry early (an items file shrank since planning).
                let missing = job.count - job.dispatched;
                job.count = job.dispatched;
                self.counts.total -= missing;
                self.output
                    .nothing(self.plan.jobs[i].first_seq + job.dispatched, missing);
                continue;
            };
            job.dispatched += 1;
            job.last_start = Some(now);
            match planned {
                Ok(task) => {
                    job.running += 1;
                    for &l in &self.plan.file.jobs[i].uses {
                        self.limits_in_use[l] += 1;
                    }
                    self.idle -= 1;
                    self.counts.running += 1;
                    self.reporter.event(&Event::TaskStarted {
                        label: &task.label,
                        counts: self.counts,
                    });
                    if tasks.send(task).is_err() {
                        break;
                    }
                }
                Err(broken) => {
                    self.output.nothing(broken.seq, 1);
                    let finished = Finished {
                        job: broken.job,
                        index: broken.index,
                        label: broken.label,
                        command: String::new(),
                        outcome: Outcome::NotStarted(broken.error),
                        duration: Duration::ZERO,
                        stderr_tail: Vec::new(),
                    };
                    self.record(finished);
                }
            }
        }
        wake
    }

    /// The first job (in plan order) that may start a task now. Notes in `wake` when a job
    /// that is waiting only for its start gap becomes startable.
    fn next_job(&self, now: Instant, wake: &mut Option<Instant>) -> Option<usize> {
        (0..self.jobs.len()).find(|&i| {
            let job = &self.jobs[i];
            let spec = &self.plan.file.jobs[i];
            if !matches!(job.status, JobStatus::Active) || job.dispatched >= job.count {
                return false;
            }
            if spec.concurrency.is_some_and(|cap| job.running >= cap) {
                return false;
            }
            if spec
                .uses
                .iter()
                .any(|&l| self.limits_in_use[l] >= self.plan.file.limits[l])
            {
                return false;
            }
            if !self
                .output
                .may_start(self.plan.jobs[i].first_seq + job.dispatched)
            {
                return false;
            }
            if let Some(last) = job.last_start {
                let at = last + spec.settings.start_gap;
                if at > now {
                    *wake = Some(wake.map_or(at, |w: Instant| w.min(at)));
                    return false;
                }
            }
            true
        })
    }

    fn on_finished(&mut self, finished: Finished) {
        let i = finished.job;
        self.jobs[i].running -= 1;
        for &l in &self.plan.file.jobs[i].uses {
            self.limits_in_use[l] -= 1;
        }
        self.idle += 1;
        self.counts.running -= 1;
        self.record(finished);
    }

    fn record(&mut self, finished: Finished) {
        let job = &mut self.jobs[finished.job];
        job.finished += 1;
        if finished.outcome.is_success() {
            self.counts.succeeded += 1;
        } else {
            job.failed += 1;
            self.counts.failed += 1;
        }
        self.reporter.event(&Event::TaskFinished {
            task: &finished,
            counts: self.counts,
        });
    }
}
