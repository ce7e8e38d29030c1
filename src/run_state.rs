//! The run's state, kept once for both drivers.
//!
//! The local pool ([`crate::run`]) and the Slurm submitter ([`crate::slurm`]) each drive a
//! [`RunState`]: they report facts (an attempt started or ended, a task was done in an earlier
//! run, a job's remaining tasks will not run, a signal came) and get decisions back (retry
//! after this delay, start nothing new, stop running tasks). The state owns the job phases,
//! the [`Counts`], whether the run is stopping and why, and it alone sends the run's events,
//! so the two drivers cannot count or word a run differently. How a decision is carried out
//! (the pool's cancellation level, `scancel`) stays with the driver.

use std::time::{Duration, Instant};

use crate::events::{Committed, Counts, Event, Finished, Listener, TaskRef, Unrun, UnrunTask};
use crate::plan::Plan;
use crate::policy::{self, JobEnd, Stop};

/// How a run ended.
pub struct RunResult {
    pub counts: Counts,
    /// The signal that interrupted the run, if one did.
    pub interrupted_by: Option<i32>,
    /// Tasks whose output could not all be written out (kept in their logs instead).
    pub undelivered: u64,
}

/// What a driver does about an interrupting signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The first: stop every task, gracefully.
    Stop(Stop),
    /// A second: kill every task now, and wait for nothing.
    KillNow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the jobs it needs.
    Waiting,
    /// Its tasks may start (or are planned to, when it waited to be planned).
    Active,
    Ended(JobEnd),
}

struct JobProgress {
    phase: Phase,
    /// Its tasks, once planned.
    count: u64,
    /// Tasks that will not run again in this run: each is in exactly one of the counts' done
    /// fields.
    settled: u64,
    failed: u64,
    /// Tasks batchrun stopped (not counted in `failed`).
    cancelled: u64,
    /// Tasks whose last attempt ended in this run: what an `on_failure` share is of.
    ended: u64,
    /// Its tasks are being planned (see [`RunState::planning`]).
    planning: bool,
    /// Its committed products, by task index, kept for its manifest.
    products: Vec<(u64, Committed)>,
    /// A job it needs renewed its products in this run: its tasks done earlier run again.
    rerun: bool,
    /// A task of it succeeded in this run and what it made is new: its product, or a task a
    /// renewed need made it run again.
    renewed: bool,
    /// The run said that its earlier results no longer count ([`Event::JobRerun`]).
    rerun_said: bool,
}

pub struct RunState<'p, 'r> {
    plan: &'p Plan,
    reporter: &'r mut dyn Listener,
    jobs: Vec<JobProgress>,
    counts: Counts,
    started: Instant,
    /// Attempts that may run at once (0: no bound the run knows of).
    workers: usize,
    /// Set once no new attempt may start (`on_failure: stop|kill`, undelivered output, or an
    /// interrupt).
    stopping: bool,
    interrupted_by: Option<i32>,
    undelivered: u64,
    /// Whether the plan holds whole jobs, so that a job with a `product` that succeeds has its
    /// manifest written beside its products.
    manifests: bool,
    /// The manifests written in this run, and whose.
    manifests_written: Vec<(std::path::PathBuf, usize)>,
    /// The run continues an earlier one's journal (`--resume`): a job whose tasks run again
    /// because a need was renewed says so.
    resumed: bool,
}

impl<'p, 'r> RunState<'p, 'r> {
    pub fn new(plan: &'p Plan, resumed: bool, reporter: &'r mut dyn Listener) -> Self {
        let jobs = plan
            .jobs
            .iter()
            .map(|j| JobProgress {
                phase: if j.selected { Phase::Waiting } else { Phase::Ended(JobEnd::Succeeded) },
                count: j.count(),
                settled: 0,
                failed: 0,
                cancelled: 0,
                ended: 0,
                planning: false,
                products: Vec::new(),
                rerun: false,
                renewed: false,
                rerun_said: false,
            })
            .collect();
        RunState {
            plan,
            reporter,
            jobs,
            counts: Counts { total: plan.total(), ..Counts::default() },
            started: Instant::now(),
            workers: 0,
            stopping: false,
            interrupted_by: None,
            undelivered: 0,
            // A Slurm element's plan is its share of one job: the submitter, which sees the
            // whole job, writes the manifest.
            manifests: !plan.is_share(),
            manifests_written: Vec::new(),
            resumed,
        }
    }

    /// Whether job `i`'s tasks done in an earlier run count as done: not when a job it needs
    /// renewed its products in this run, since they were made from the old ones.
    pub fn trusts_earlier(&self, i: usize) -> bool {
        !self.jobs[i].rerun
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Whether no new attempt may start.
    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// Whether job `i`'s tasks may start.
    pub fn is_active(&self, i: usize) -> bool {
        self.jobs[i].phase == Phase::Active
    }

    /// Job `i`'s task count, as planned so far.
    pub fn count(&self, i: usize) -> u64 {
        self.jobs[i].count
    }

    /// Whether every job has ended: its tasks all settled, or skipped.
    pub fn all_ended(&self) -> bool {
        self.jobs.iter().all(|j| matches!(j.phase, Phase::Ended(_)))
    }

    /// Jobs not ended yet, in the file's order.
    fn open_jobs(&self) -> Vec<usize> {
        (0..self.jobs.len()).filter(|&i| !matches!(self.jobs[i].phase, Phase::Ended(_))).collect()
    }

    pub fn begin(&mut self, workers: usize, backend: &'static str) {
        self.workers = workers;
        let event = Event::RunStarted { name: &self.plan.file.name, counts: self.counts, workers, backend };
        self.emit(&event);
    }

    /// Ends jobs whose tasks have all settled, skips those with a need that did not succeed,
    /// and returns those whose needs all succeeded, now active, for the driver to start. No
    /// job starts once the run is stopping. Jobs are in needs order, so one pass settles a
    /// whole chain of skips. `hand_back` is as in [`RunState::give_up`].
    pub fn ready_jobs(&mut self, mut hand_back: impl FnMut(usize, u64) -> (u64, Vec<u64>)) -> Vec<usize> {
        let mut ready = Vec::new();
        for i in 0..self.jobs.len() {
            let job = &mut self.jobs[i];
            match job.phase {
                Phase::Active if job.settled == job.count && !job.planning => {
                    // A job that allows failure succeeds for the jobs that need it.
                    let failed = job.failed > 0 && !self.plan.file.jobs[i].allow_failure;
                    job.phase = Phase::Ended(match (failed, job.cancelled > 0) {
                        (true, _) => JobEnd::Failed,
                        (false, true) => JobEnd::Cancelled,
                        (false, false) => JobEnd::Succeeded,
                    });
                    // A job of no tasks has no products to list.
                    let whole = job.failed == 0 && job.cancelled == 0 && job.count > 0;
                    if whole && self.manifests && self.plan.file.jobs[i].product.is_some() {
                        self.write_manifest(i);
                    }
                }
                Phase::Active | Phase::Ended(_) => {}
                Phase::Waiting => {
                    let files = &self.plan.file.jobs;
                    let ends = || files[i].needs.iter().map(|&n| (files[n].name.as_str(), self.end_of(n)));
                    if let Some(reason) = policy::blocked(ends()) {
                        let (from, also) = hand_back(i, self.jobs[i].count);
                        self.unrun(i, from, &also, &reason, false);
                    } else if !self.stopping && policy::ready(ends().map(|(_, end)| end)) {
                        self.jobs[i].rerun = files[i].needs.iter().any(|&n| self.jobs[n].renewed);
                        self.jobs[i].phase = Phase::Active;
                        ready.push(i);
                    }
                }
            }
        }
        ready
    }

    /// Job `i` renewed what it made: every job that depends on it, however far down (and
    /// whether this run runs it or not), no longer counts its earlier results. Said once per
    /// job, as it happens, so the journal holds it even if this run stops before those jobs
    /// run.
    fn say_reruns(&mut self, i: usize) {
        let files = &self.plan.file.jobs;
        // Jobs come in needs order: one pass reaches the whole chain.
        let mut reached = vec![false; files.len()];
        reached[i] = true;
        for d in 0..files.len() {
            reached[d] |= files[d].needs.iter().any(|&n| reached[n]);
        }
        for d in (0..files.len()).filter(|&d| d != i && reached[d]) {
            if std::mem::replace(&mut self.jobs[d].rerun_said, true) {
                continue;
            }
            let plan = self.plan;
            let (job, because) = (&plan.file.jobs[d].name, &plan.file.jobs[i].name);
            self.emit(&Event::JobRerun { job, because, counts: self.counts });
        }
    }

    fn end_of(&self, i: usize) -> JobEnd {
        match self.jobs[i].phase {
            Phase::Waiting | Phase::Active => JobEnd::Open,
            Phase::Ended(end) => end,
        }
    }

    /// A job that waited to become ready is being planned: it does not end before
    /// [`RunState::planned`].
    pub fn planning(&mut self, i: usize) {
        self.jobs[i].planning = true;
    }

    /// A job that waited to become ready was planned: with its task count, or the reason it
    /// could not be, when it counts as one task that the driver ends with
    /// [`policy::unplanned`].
    pub fn planned(&mut self, i: usize, planned: &Result<u64, String>) {
        self.jobs[i].planning = false;
        let tasks = *planned.as_ref().unwrap_or(&1);
        self.jobs[i].count = tasks;
        self.counts.total += tasks;
        let unplanned = planned.as_ref().err().map(String::as_str);
        let event = Event::JobPlanned { job: &self.plan.file.jobs[i].name, tasks, unplanned, counts: self.counts };
        self.emit(&event);
    }

    /// A worker (or an array element) took an attempt.
    pub fn slot_taken(&mut self) {
        self.counts.running += 1;
    }

    /// A worker (or an array element) is done with an attempt.
    pub fn slot_freed(&mut self) {
        self.counts.running = self.counts.running.saturating_sub(1);
    }

    /// An attempt started.
    pub fn started(&mut self, task: TaskRef, attempt: u32) {
        self.emit(&Event::TaskStarted { task, attempt, counts: self.counts });
    }

    /// An attempt that is not `last` ended: whether it is tried again, and after how long.
    pub fn retry(&mut self, finished: &Finished, last: bool) -> Option<Duration> {
        let settings = &self.plan.file.jobs[finished.job].settings;
        let delay =
            if last { None } else { policy::retries(&finished.outcome, finished.attempt, settings, self.stopping) };
        if let Some(delay) = delay {
            self.retrying(finished, delay);
        }
        delay
    }

    /// An attempt ended that will be tried again after `delay`, as decided where it ran.
    pub fn retrying(&mut self, finished: &Finished, delay: Duration) {
        let waits_for_worker = self.workers > 0 && self.counts.running >= self.workers as u64;
        self.emit(&Event::TaskRetrying { task: finished, delay, waits_for_worker, counts: self.counts });
    }

    /// A task was done in an earlier run (`--resume`), committing `product` if its job has one.
    pub fn already_done(&mut self, job: usize, index: u64, product: Option<&Committed>) {
        let progress = &mut self.jobs[job];
        progress.settled += 1;
        if let Some(product) = product.filter(|_| self.manifests) {
            progress.products.push((index, product.clone()));
        }
        self.counts.already_done += 1;
        self.check();
    }

    /// Writes job `i`'s manifest, now that its every task has committed its product.
    fn write_manifest(&mut self, i: usize) {
        let job = &mut self.jobs[i];
        let mut products = std::mem::take(&mut job.products);
        let owner = crate::job_manifest::Owner::of(&self.plan.file, i);
        let written = if products.len() as u64 == job.count {
            products.sort_unstable_by_key(|(index, _)| *index);
            let products: Vec<&Committed> = products.iter().map(|(_, p)| p).collect();
            crate::job_manifest::place(&owner, &products).and_then(|path| {
                // Jobs planned when ready are not checked before the run.
                if let Some((_, other)) = self.manifests_written.iter().find(|(p, _)| *p == path) {
                    let other = &self.plan.file.jobs[*other].name;
                    return Err(format!(
                        "job `{other}` wrote {} in this run: give one of them `manifest:` with a name of its own",
                        path.display()
                    ));
                }
                crate::job_manifest::write(&owner, &path, &products)?;
                self.manifests_written.push((path, i));
                Ok(())
            })
        } else {
            Err(format!(
                "{} of its tasks were done in an earlier run that recorded no product",
                job.count - products.len() as u64
            ))
        };
        if let Err(why) = written {
            let message = format!("job `{}`: its manifest {} was not written: {why}", owner.job, owner.name);
            self.output_not_printed(&message);
        }
    }

    /// A task's last attempt ended: counts it, and applies its job's `on_failure`, returning
    /// the stop the driver carries out. Listeners hear of it now, or with `report` false when
    /// the driver calls [`RunState::report_finished`] (its output waits for earlier tasks').
    #[must_use]
    pub fn finish(&mut self, finished: &Finished, report: bool) -> Option<Stop> {
        let job = &mut self.jobs[finished.job];
        job.settled += 1;
        let was_renewed = job.renewed;
        if finished.outcome == crate::events::Outcome::Cancelled {
            job.cancelled += 1;
        } else if !finished.outcome.is_success() {
            job.failed += 1;
        } else {
            job.renewed |= job.rerun || finished.product.is_some();
        }
        let renewed_now = job.renewed && !was_renewed && self.resumed;
        if let Some(product) = finished.product.as_ref().filter(|_| self.manifests) {
            job.products.push((finished.index, product.clone()));
        }
        let allow_failure = self.plan.file.jobs[finished.job].allow_failure;
        policy::count(&mut self.counts, finished, allow_failure);
        job.ended += 1;
        let (failed, ended) = (job.failed, job.ended);
        if renewed_now {
            self.say_reruns(finished.job);
        }
        let spec = &self.plan.file.jobs[finished.job];
        let own = (spec.settings.on_failure, spec.settings.halt_after);
        let run = (self.counts.failed, self.counts.succeeded + self.counts.failed);
        // A failure the job allows stops nothing, and only failures that count are counted.
        let run = (run.0 - self.counts.allowed, run.1 - self.counts.allowed);
        let asked = if spec.allow_failure {
            None
        } else {
            policy::on_failure(finished, own, failed, ended, policy::Scope::Job(&spec.name)).or_else(|| {
                let halt = self.plan.file.on_failure?;
                policy::on_failure(finished, halt, run.0, run.1, policy::Scope::Run)
            })
        };
        let stop = match asked {
            Some((stop, why)) if !self.stopping => {
                self.stop(&why);
                Some(stop)
            }
            _ => None,
        };
        if report {
            self.report_finished(finished);
        } else {
            self.check();
        }
        stop
    }

    /// Tells listeners of a task's last attempt, counted earlier by [`RunState::finish`].
    pub fn report_finished(&mut self, finished: &Finished) {
        if !finished.outcome.is_success() && self.plan.file.jobs[finished.job].allow_failure {
            let allowed = Finished { allowed: true, ..finished.clone() };
            self.emit(&Event::TaskFinished { task: &allowed, counts: self.counts });
        } else {
            self.emit(&Event::TaskFinished { task: finished, counts: self.counts });
        }
    }

    /// A task counted as succeeded whose output then could not be written out: it is not
    /// done. Returns the stop that follows, as [`RunState::output_lost`].
    #[must_use]
    pub fn undelivered_after_all(&mut self, finished: &mut Finished, why: String) -> Option<Stop> {
        finished.outcome = crate::events::Outcome::Undelivered(why);
        self.counts.succeeded -= 1;
        self.counts.flaky -= u64::from(finished.attempt > 1);
        self.counts.failed += 1;
        let job = &mut self.jobs[finished.job];
        job.failed += 1;
        if job.phase == Phase::Ended(JobEnd::Succeeded) {
            job.phase = Phase::Ended(JobEnd::Failed);
        }
        self.output_lost(&finished.label)
    }

    /// A task's output could not be written out: it is counted undelivered (the run ends with
    /// 3), and no new task starts, since nothing after it would be delivered either (a closed
    /// pipe, a full disk).
    #[must_use]
    pub fn output_lost(&mut self, label: &str) -> Option<Stop> {
        self.undelivered += 1;
        if self.stopping {
            return None;
        }
        self.stop(&format!("the output of {label} was not delivered: starting no new task"));
        Some(Stop::Drain)
    }

    /// Output of a last attempt that could not be printed when its retry was given up: said,
    /// and counted undelivered.
    pub fn output_not_printed(&mut self, message: &str) {
        self.undelivered += 1;
        self.warn(message);
    }

    pub fn warn(&mut self, message: &str) {
        self.emit(&Event::Warning { message });
    }

    /// Job `i`'s tasks that will not run: those from index `from` to its end, and `also`
    /// (tasks handed out that never started); skipped (a need did not succeed) or, with
    /// `not_run`, not run (the run stopped, or its source ran dry). The job ends.
    pub fn unrun(&mut self, i: usize, from: u64, also: &[u64], reason: &str, not_run: bool) {
        let job = &mut self.jobs[i];
        let never_sent = job.count.saturating_sub(from);
        let tasks = never_sent + also.len() as u64;
        // Nothing of it ran: every task handed out is among those that never started.
        let nothing_ran = from == also.len() as u64;
        job.phase = Phase::Ended(if nothing_ran { JobEnd::Skipped } else { JobEnd::Failed });
        job.settled += tasks;
        let plan = self.plan;
        let name = &plan.file.jobs[i].name;
        // A job never planned has no tasks to count, but it is said.
        if tasks == 0 && !plan.jobs[i].waits_to_be_planned() {
            return;
        }
        if not_run {
            self.counts.not_run += tasks;
        } else {
            self.counts.skipped += tasks;
        }
        let to = self.jobs[i].count;
        let mut sorted = also.to_vec();
        sorted.sort_unstable();
        let unrun = |index: u64| (from..to).contains(&index) || sorted.binary_search(&index).is_ok();
        // A job whose items were never read (the run stopped while they were) is one task.
        let never_read = plan.jobs[i].waits_to_be_planned();
        let each = |f: &mut UnrunTask| {
            if tasks == 0 {
                return;
            }
            if never_read {
                f(0, name.clone(), 0);
                return;
            }
            let last = sorted.last().copied().unwrap_or(0).max(if from < to { to - 1 } else { 0 });
            for planned in plan.tasks(i) {
                let index = planned.as_ref().map_or_else(|broken| broken.index, |task| task.index);
                if index > last {
                    break;
                }
                match planned {
                    Ok(task) if unrun(task.index) => f(task.index, task.label, task.key),
                    Err(broken) if unrun(broken.index) => f(broken.index, broken.label, 0),
                    Ok(_) | Err(_) => {}
                }
            }
        };
        let which = Unrun { job: i, from, to, also, tasks: &each };
        self.emit(&Event::JobSkipped { job: name, tasks, which, reason, not_run, counts: self.counts });
    }

    /// An interrupting signal came.
    pub fn interrupt(&mut self, signal: i32) -> Interrupt {
        if self.interrupted_by.is_some() {
            self.emit(&Event::RunCancelling { reason: policy::INTERRUPTED_AGAIN, counts: self.counts });
            return Interrupt::KillNow;
        }
        self.interrupted_by = Some(signal);
        self.stop(&policy::interrupted(signal));
        Interrupt::Stop(Stop::Terminate)
    }

    fn stop(&mut self, reason: &str) {
        self.stopping = true;
        self.emit(&Event::RunCancelling { reason, counts: self.counts });
    }

    pub fn tick(&mut self) {
        self.reporter.tick(&self.counts, self.started.elapsed());
    }

    pub fn flush(&mut self) {
        self.reporter.flush();
    }

    /// After a stop: every job not ended has its remaining tasks counted as not run.
    /// `hand_back` tells, for a job and its task count, how many of its tasks the driver
    /// handed out and which of those never started, and hands out no more.
    pub fn give_up(&mut self, mut hand_back: impl FnMut(usize, u64) -> (u64, Vec<u64>)) {
        for i in self.open_jobs() {
            let (from, also) = hand_back(i, self.jobs[i].count);
            self.unrun(i, from, &also, policy::STOPPED_BEFORE_THEY_STARTED, true);
        }
    }

    /// Says how the run ended.
    pub fn end(mut self) -> RunResult {
        let event = Event::RunFinished {
            counts: self.counts,
            elapsed: self.started.elapsed(),
            interrupted_by: self.interrupted_by,
        };
        self.emit(&event);
        debug_assert_eq!(
            self.counts.done(),
            self.counts.total,
            "every planned task is accounted for: {:?}",
            self.counts
        );
        RunResult { counts: self.counts, interrupted_by: self.interrupted_by, undelivered: self.undelivered }
    }

    fn emit(&mut self, event: &Event) {
        self.reporter.event(event);
        self.check();
    }

    /// The invariant, in debug builds: each job's settled tasks are counted once, in one of the
    /// done counts, and never more than the job has.
    fn check(&self) {
        if cfg!(debug_assertions) {
            let settled: u64 = self.jobs.iter().map(|j| j.settled).sum();
            let planned: u64 = self.jobs.iter().map(|j| j.count).sum();
            assert_eq!(settled, self.counts.done(), "settled tasks and counts disagree: {:?}", self.counts);
            assert_eq!(planned, self.counts.total, "planned tasks and the total disagree: {:?}", self.counts);
            for (i, job) in self.jobs.iter().enumerate() {
                assert!(job.settled <= job.count, "job {i} settled {} of {} tasks", job.settled, job.count);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Outcome;

    #[derive(Default)]
    struct Said(Vec<String>);

    impl Listener for Said {
        fn event(&mut self, event: &Event) {
            match event {
                Event::JobSkipped { job, tasks, reason, not_run, .. } => {
                    self.0.push(format!("{} {job} ({tasks}): {reason}", if *not_run { "not run" } else { "skipped" }))
                }
                Event::RunCancelling { reason, .. } => self.0.push(format!("stopping: {reason}")),
                Event::TaskFinished { task, .. } => self.0.push(format!("{} {}", task.label, task.outcome.describe())),
                _ => {}
            }
        }
    }

    fn plan(yaml: &str) -> Plan {
        let file = crate::config::parse(std::path::Path::new("/tmp/run-state.yaml"), yaml).expect("parses");
        Plan::new(file, &crate::plan::PlanOptions::default()).expect("plans")
    }

    fn failed(job: usize, label: &str) -> Finished {
        Finished::without_a_run(job, 0, 0, label.into(), Outcome::Exited(1))
    }

    /// One failure settles a whole chain: its job fails, the one needing it is skipped and so
    /// is the one needing that, in one pass; a job that needs nothing runs on.
    #[test]
    fn a_failed_job_skips_the_chain_that_needs_it() {
        let plan = plan(
            "jobs:\n  a:\n    command: 'false'\n  b:\n    needs: [a]\n    items: [1, 2]\n    command: 'true'\n  c:\n    needs: [b]\n    command: 'true'\n  d:\n    command: 'true'\n",
        );
        let mut said = Said::default();
        let mut state = RunState::new(&plan, false, &mut said);
        assert_eq!(state.ready_jobs(|_, _| (0, Vec::new())), [0, 3]);
        assert_eq!(state.finish(&failed(0, "a"), true), None, "on_failure is `continue`");
        assert_eq!(state.ready_jobs(|_, _| (0, Vec::new())), Vec::<usize>::new());
        assert!(!state.all_ended(), "d is still running");
        let counts = state.counts();
        assert_eq!((counts.failed, counts.skipped, counts.total), (1, 3, 5));
        drop(state);
        assert_eq!(
            said.0,
            ["a exit 1", "skipped b (2): it needs `a`, which failed", "skipped c (1): it needs `b`, which was skipped"]
        );
    }

    /// A stop starts no job; at the end, what never started is not run, each job said once.
    #[test]
    fn a_stop_starts_nothing_and_gives_up_the_rest_as_not_run() {
        let plan = plan(
            "jobs:\n  a:\n    on_failure: stop\n    items: [1, 2, 3]\n    command: 'false'\n  b:\n    needs: [a]\n    command: 'true'\n",
        );
        let mut said = Said::default();
        let mut state = RunState::new(&plan, false, &mut said);
        assert_eq!(state.ready_jobs(|_, _| (0, Vec::new())), [0]);
        assert_eq!(state.finish(&failed(0, "a[0]"), true), Some(Stop::Drain));
        assert_eq!(state.finish(&failed(0, "a[1]"), true), None, "one stop, not escalated again");
        assert!(state.stopping());
        // a[2] was handed out and never started.
        state.give_up(|i, count| if i == 0 { (count, vec![2]) } else { (0, Vec::new()) });
        let result = state.end();
        assert_eq!((result.counts.failed, result.counts.not_run, result.counts.done()), (2, 2, 4));
        assert_eq!(
            said.0,
            [
                "stopping: a[0] failed and on_failure is `stop`",
                "a[0] exit 1",
                "a[1] exit 1",
                "not run a (1): the run was stopped before they started",
                "not run b (1): the run was stopped before they started"
            ]
        );
    }

    /// The invariant holds in one place: a driver that counts a task twice is caught at once.
    #[test]
    #[should_panic(expected = "settled")]
    fn a_task_counted_twice_is_caught_in_debug_builds() {
        let plan = plan("jobs:\n  a:\n    command: 'true'\n");
        let mut said = Said::default();
        let mut state = RunState::new(&plan, false, &mut said);
        state.ready_jobs(|_, _| (0, Vec::new()));
        let done = Finished::without_a_run(0, 0, 0, "a".into(), Outcome::Succeeded);
        let _ = state.finish(&done, true);
        let _ = state.finish(&done, true);
    }
}
