//! The dispatcher: the single owner of run state.
//!
//! It decides which attempt starts next (due retries first, then jobs whose `needs` succeeded,
//! within per-job caps, named limits, `start_gap` and the ordered-output window), hands it to
//! a worker, takes results, schedules retries, applies `on_failure`, handles interrupts,
//! skips jobs whose needs failed, and turns all of it into [`Event`]s for the reporters. Tasks
//! are pulled from the planner's lazy iterators only when a worker is free or about to be (a
//! few attempts are queued per worker, see [`QUEUE_HORIZON`]), so memory does not grow with the
//! number of tasks.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

mod jobs;

use super::cancel::{Cancel, Level};
use super::escapes::Adopted;
use super::handoff::{Feed, MAX_AHEAD_PER_WORKER};
use super::output::Output;
use super::signals::Interrupts;
use super::worker::{Attempt, AttemptDone};
use crate::config::OnFailure;
use crate::events::Listener;
use crate::events::{Finished, Outcome, TaskRef};
use crate::journal::reader::History;
use crate::plan::{Plan, Task};
use crate::policy;
use crate::run_state::{Interrupt, RunResult, RunState};
use jobs::JobState;

/// How often reporters get a [`Listener::tick`] (progress redraws, periodic lines).
const TICK: Duration = Duration::from_millis(100);
/// How much work, in time, is queued ahead per worker: attempts of 1 ms are queued ten deep, so
/// the dispatcher wakes once per several results instead of once per task; attempts of 10 ms or
/// more, one deep. It bounds how long a retry or a newly unblocked job waits behind the queue.
const QUEUE_HORIZON: Duration = Duration::from_millis(10);

/// How many attempts to queue per worker when attempts typically take `typical`.
fn queued_per_worker(typical: Duration) -> usize {
    let per_worker = QUEUE_HORIZON.as_nanos() / typical.as_nanos().max(1);
    usize::try_from(per_worker).unwrap_or(usize::MAX).clamp(1, MAX_AHEAD_PER_WORKER)
}

/// A failed attempt waiting for its retry.
struct Retry {
    task: Task,
    next: u32,
    at: Instant,
    last: Finished,
}

pub struct Dispatcher<'p, 'r> {
    plan: &'p Plan,
    /// With `--resume`: what earlier runs finished.
    history: Option<&'p History>,
    output: &'p Output,
    cancel: &'p Cancel,
    /// Job phases, counts, stopping: what the run policy decides, and the events it sends.
    state: RunState<'p, 'r>,
    jobs: Vec<JobState<'p>>,
    limits_in_use: Vec<usize>,
    retries: Vec<Retry>,
    workers: usize,
    /// Workers waiting for an attempt.
    free_workers: usize,
    /// Attempts sent while every worker was busy, oldest first: each starts as soon as a worker
    /// finishes (the channel is first in, first out), so a worker never waits for the
    /// dispatcher between two tasks. Their `TaskStarted` is sent when they start.
    queued: VecDeque<(Task, u32)>,
    /// Queued attempts that reached a worker once the run was stopping, which may refuse them:
    /// their `TaskStarted` waits until they are known to have run.
    unannounced: HashSet<(usize, u64)>,
    /// How many attempts may be queued: one per worker, more when attempts are short.
    ahead: usize,
    /// A moving average of how long attempts take, once one has run.
    typical_attempt: Option<Duration>,
    /// Whether attempts may be queued ahead at all: not when a failure must stop everything,
    /// since a queued attempt starts before the dispatcher hears of the failure.
    prefetch: bool,
    /// The place in the run's order that the next job placed gets.
    next_seq: u64,
    /// Jobs handed to the planner and not yet planned.
    planning: usize,
    /// Attempts sent to workers and not yet done, by (job, index): what an adopted process
    /// that left its task's group may live for.
    attempts: HashMap<(usize, u64), u32>,
    /// With `--output ordered`: finished tasks whose output still waits for earlier tasks,
    /// by plan position. Their `TaskFinished` (and so their journal record) waits too, so a
    /// batchrun killed meanwhile does not leave them recorded as done with their output lost.
    held: BTreeMap<u64, Finished>,
}

impl<'p, 'r> Dispatcher<'p, 'r> {
    pub fn new(
        plan: &'p Plan,
        history: Option<&'p History>,
        output: &'p Output,
        cancel: &'p Cancel,
        workers: usize,
        reporter: &'r mut dyn Listener,
    ) -> Self {
        let jobs = plan.jobs.iter().map(|_| JobState::new()).collect();
        let mut dispatcher = Dispatcher {
            plan,
            history,
            output,
            cancel,
            state: RunState::new(plan, history.is_some(), reporter),
            jobs,
            limits_in_use: vec![0; plan.file.limits.len()],
            retries: Vec::new(),
            workers,
            free_workers: workers,
            queued: VecDeque::new(),
            unannounced: HashSet::new(),
            ahead: workers,
            typical_attempt: None,
            prefetch: plan.file.jobs.iter().all(|j| j.settings.on_failure == OnFailure::Continue)
                && plan.file.on_failure.is_none_or(|(action, _)| action == OnFailure::Continue),
            next_seq: 0,
            planning: 0,
            attempts: HashMap::new(),
            held: BTreeMap::new(),
        };
        dispatcher.place_jobs_planned_at_start();
        dispatcher
    }

    /// Runs the plan to the end (or until stopped); returns how it ended.
    /// `interrupts` are taken each time the dispatcher wakes (at least every tick); `adopted`
    /// is swept each tick.
    pub fn run(mut self, feed: Feed, mut interrupts: Option<Interrupts>, adopted: Option<&Adopted>) -> RunResult {
        let workers = self.workers;
        self.state.begin(workers, "local");
        let mut next_tick = Instant::now() + TICK;
        feed.queue_ahead(workers, self.ahead);
        loop {
            self.start_ready_jobs(&feed);
            let settled_before = self.state.counts().done();
            let mut wake = next_tick;
            if !self.state.stopping()
                && let Some(at) = self.start_attempts(&feed)
            {
                wake = wake.min(at);
            }
            let stopping = self.state.stopping();
            if self.state.counts().running == 0
                && self.planning == 0
                && (stopping || (self.retries.is_empty() && self.state.all_ended()))
            {
                break;
            }
            if self.state.counts().done() != settled_before && self.free_workers > 0 {
                // Tasks settled without running (already done, or broken): that may have
                // finished a job and freed its dependents. Look again without waiting, but
                // still take messages and ticks.
                wake = Instant::now();
            }
            self.state.flush();
            let woken = feed.wait(wake.saturating_duration_since(Instant::now()));
            // Interrupts first, so that their report comes before the tasks they cancelled.
            for signal in interrupts.iter_mut().flat_map(Interrupts::take) {
                self.on_signal(signal);
            }
            for done in feed.results() {
                self.on_done(done);
            }
            for (job, planned) in feed.planned() {
                self.on_planned(job, planned);
            }
            self.release_printed();
            if woken.is_err() {
                break;
            }
            self.adjust_queue(&feed);
            if Instant::now() >= next_tick {
                self.state.tick();
                if let Some(adopted) = adopted {
                    self.sweep(adopted);
                }
                next_tick = Instant::now() + TICK;
            }
        }
        drop(feed);
        if self.state.stopping() {
            self.give_up_on_the_rest();
        }
        // Whatever still waits for a task that will never print (a stop, a retry given up).
        self.output.flush_pending();
        for (seq, finished) in std::mem::take(&mut self.held) {
            self.release(seq, finished);
        }
        self.state.end()
    }

    /// Starts attempts while a worker is idle (or one may be queued) and something may start. Returns when the
    /// earliest held-back attempt (a retry, or a job waiting for its start gap) may start.
    fn start_attempts(&mut self, feed: &Feed) -> Option<Instant> {
        let mut wake: Option<Instant> = None;
        let mut note = |at: Instant| wake = Some(wake.map_or(at, |w| w.min(at)));
        // Tasks that settle without a worker (already done, broken) are capped per call, so
        // a resume over millions of done tasks still draws progress and hears signals.
        let mut settled_inline = 0;
        // Nothing is queued ahead while a retry waits: when it is due, it is first in line.
        let queue_ahead = self.prefetch && self.retries.is_empty();
        while (self.free_workers > 0 || (queue_ahead && self.queued.len() < self.ahead)) && settled_inline < 4096 {
            let now = Instant::now();
            if let Some(r) = self.due_retry(now, &mut note) {
                let retry = self.retries.swap_remove(r);
                self.send(feed, retry.task, retry.next, now);
                continue;
            }
            let Some(i) = self.next_job(now, &mut note) else { break };
            let count = self.state.count(i);
            let job = &mut self.jobs[i];
            let Some(planned) = job.tasks.as_mut().and_then(Iterator::next) else {
                // The source ran dry early (an items file shrank since planning): the tasks it
                // no longer holds are not run, and said so, never dropped from the count.
                let missing = count - job.dispatched;
                let reason = format!(
                    "its items file holds {missing} items fewer than when the run was planned (it changed while the run went on)"
                );
                self.skip_rest_of_job(i, &reason, true);
                continue;
            };
            let seq = job.first_seq.unwrap_or_default() + job.dispatched;
            job.dispatched += 1;
            match planned {
                Ok(task) if self.state.trusts_earlier(i) && self.history.is_some_and(|h| h.is_done(task.key)) => {
                    let product = self.history.and_then(|h| h.products.get(&task.key));
                    self.state.already_done(i, task.index, product);
                    self.output.nothing(seq, 1);
                    settled_inline += 1;
                }
                Ok(task) => self.send(feed, Task { seq, ..task }, 1, now),
                Err(broken) => {
                    self.output.nothing(seq, 1);
                    self.finish(not_started(broken.job, broken.index, broken.label, broken.error), None);
                    settled_inline += 1;
                }
            }
        }
        wake
    }

    fn send(&mut self, feed: &Feed, task: Task, number: u32, now: Instant) {
        let i = task.job;
        self.attempts.insert((i, task.index), number);
        let job = &mut self.jobs[i];
        job.running += 1;
        job.last_start = Some(now);
        for &l in &self.plan.file.jobs[i].uses {
            self.limits_in_use[l] += 1;
        }
        if self.free_workers > 0 {
            self.free_workers -= 1;
            self.state.slot_taken();
            self.state.started(started(&task), number);
        } else {
            self.queued.push_back((task.clone(), number));
        }
        feed.send(Attempt { task, number });
    }

    /// Sets how many attempts to queue ahead from how long attempts take.
    fn adjust_queue(&mut self, feed: &Feed) {
        let Some(typical) = self.typical_attempt else { return };
        let ahead = self.workers * queued_per_worker(typical);
        if ahead != self.ahead {
            self.ahead = ahead;
            feed.queue_ahead(self.workers, ahead);
        }
    }

    /// Whether job `i` may start an attempt now, as far as caps, limits and gaps go.
    fn job_has_room(&self, i: usize, now: Instant, note: &mut impl FnMut(Instant)) -> bool {
        let job = &self.jobs[i];
        let spec = &self.plan.file.jobs[i];
        // A job that spaces its starts is never queued ahead: its start time must be exact.
        if self.free_workers == 0 && !spec.settings.start_gap.is_zero() {
            return false;
        }
        if spec.concurrency.is_some_and(|cap| job.running >= cap) {
            return false;
        }
        if spec.uses.iter().any(|&l| self.limits_in_use[l] >= self.plan.file.limits[l]) {
            return false;
        }
        if let Some(last) = job.last_start {
            let at = last + spec.settings.start_gap;
            if at > now {
                note(at);
                return false;
            }
        }
        true
    }

    fn due_retry(&self, now: Instant, note: &mut impl FnMut(Instant)) -> Option<usize> {
        self.retries.iter().position(|r| {
            if r.at > now {
                note(r.at);
                return false;
            }
            self.job_has_room(r.task.job, now, note)
        })
    }

    /// The first job (in plan order) that may start a new task now.
    fn next_job(&self, now: Instant, note: &mut impl FnMut(Instant)) -> Option<usize> {
        (0..self.jobs.len()).find(|&i| {
            let job = &self.jobs[i];
            self.state.is_active(i)
                && job.dispatched < self.state.count(i)
                && job.first_seq.is_some_and(|first| self.output.may_start(first + job.dispatched))
                && self.job_has_room(i, now, note)
        })
    }

    fn on_done(&mut self, done: AttemptDone) {
        let i = done.task.job;
        self.attempts.remove(&(i, done.task.index));
        self.jobs[i].running -= 1;
        for &l in &self.plan.file.jobs[i].uses {
            self.limits_in_use[l] -= 1;
        }
        // The attempt this worker takes next: the channel is first in, first out.
        let next = self.queued.pop_front();
        if next.is_none() {
            self.free_workers += 1;
            self.state.slot_freed();
        }
        self.typical_attempt = Some(match self.typical_attempt {
            Some(typical) if done.ran => (typical * 7 + done.duration) / 8,
            Some(typical) => typical,
            None => done.duration,
        });
        let announced = self.unannounced.is_empty() || !self.unannounced.remove(&(i, done.task.index));
        if !done.ran {
            self.output.nothing(done.task.seq, 1);
            if announced {
                // Said to have started, then refused by its worker: the stop came in between.
                // It ends as cancelled, so that every start listeners heard of has an end.
                let finished = Finished {
                    command: done.task.rendered.clone(),
                    attempt: done.number,
                    slot: Some(done.slot),
                    ..Finished::without_a_run(i, done.task.index, done.task.key, done.task.label, Outcome::Cancelled)
                };
                self.finish(finished, None);
            } else {
                // Queued before a stop, and refused by its worker: it never ran.
                self.jobs[i].unstarted.push(done.task.index);
            }
            self.announce(next);
            return;
        }
        if !announced {
            self.state.started(started(&done.task), done.number);
        }
        let undelivered = done.kept.undelivered.is_some();
        let finished = Finished {
            job: i,
            key: done.task.key,
            index: done.task.index,
            label: done.task.label.clone(),
            command: done.task.rendered.clone(),
            outcome: done.outcome,
            duration: done.duration,
            attempt: done.number,
            stderr_tail: done.kept.stderr_tail,
            evidence: done.kept.evidence,
            log: done.kept.log,
            slot: Some(done.slot),
            product: done.product,
            allowed: false,
        };
        if undelivered {
            let stop = self.state.output_lost(&finished.label);
            self.carry_out(stop);
        }
        // The worker decided with what it knew whether this attempt was the last; a retry it did
        // not hold the output back for is not made.
        if let Some(delay) = self.state.retry(&finished, done.last) {
            self.retries.push(Retry {
                task: done.task,
                next: done.number + 1,
                at: Instant::now() + delay,
                last: finished,
            });
        } else {
            if !done.last {
                // Held back for a retry that the run, stopping since, will not make.
                self.replay(&finished, done.task.seq);
            }
            // A last attempt that ran has its output in `--output ordered`'s queue.
            self.finish(finished, done.ran.then_some(done.task.seq));
        }
        self.announce(next);
    }

    /// Tells listeners that the queued attempt a worker has taken has started; once the run is
    /// stopping, only when it is known to have run (its worker may have refused it).
    fn announce(&mut self, next: Option<(Task, u32)>) {
        let Some((task, number)) = next else { return };
        if self.state.stopping() || self.cancel.level() >= Level::Drain {
            self.unannounced.insert((task.job, task.index));
        } else {
            self.state.started(started(&task), number);
        }
    }

    /// Kills what tasks left behind (adopted by batchrun) once their attempt has ended.
    fn sweep(&self, adopted: &Adopted) {
        let jobs = &self.plan.file.jobs;
        adopted.sweep(|job, index, attempt| {
            jobs.iter().position(|j| j.name == job).and_then(|j| self.attempts.get(&(j, index))) == Some(&attempt)
        });
    }

    /// Reports the held tasks whose output has now been printed.
    fn release_printed(&mut self) {
        let Some(printed) = self.output.printed_through() else { return };
        while let Some(entry) = self.held.first_entry()
            && *entry.key() < printed
        {
            let seq = *entry.key();
            let finished = entry.remove();
            self.release(seq, finished);
        }
    }

    /// Reports a held task now that its output's turn has come. If its output could not be
    /// written then, it succeeded but is not done: counted as failed, and undelivered.
    fn release(&mut self, seq: u64, mut finished: Finished) {
        if let Some(why) = self.output.take_failed(seq)
            && finished.outcome.is_success()
        {
            let stop = self.state.undelivered_after_all(&mut finished, why);
            self.carry_out(stop);
        }
        self.state.report_finished(&finished);
    }

    /// Prints the output of a failed attempt that was held back for a retry that will not come
    /// (the run stopped): it is the task's last attempt. When it cannot be printed, a warning
    /// says so, the output is in its log, and the run ends with 3 rather than lose it silently.
    fn replay(&mut self, last: &Finished, seq: u64) {
        if let Err(why) = self.output.replay(seq, &last.label, last.log.as_deref()) {
            let message = format!("the output of {} could not be printed ({why}); it is in its log", last.label);
            self.state.output_not_printed(&message);
        }
    }

    /// Records a task's last attempt, and applies its job's `on_failure`. `seq`: where its
    /// output waits in `--output ordered`'s queue, if it does.
    fn finish(&mut self, mut finished: Finished, seq: Option<u64>) {
        // Printed by another task's turn before this result arrived, and not written.
        if let Some(why) = seq.and_then(|seq| self.output.take_failed(seq))
            && finished.outcome.is_success()
        {
            finished.outcome = Outcome::Undelivered(why);
            let stop = self.state.output_lost(&finished.label);
            self.carry_out(stop);
        }
        let held = matches!((seq, self.output.printed_through()), (Some(seq), Some(printed)) if seq >= printed);
        let stop = self.state.finish(&finished, !held);
        self.carry_out(stop);
        if let (true, Some(seq)) = (held, seq) {
            self.held.insert(seq, finished);
        }
    }

    fn on_signal(&mut self, signal: i32) {
        match self.state.interrupt(signal) {
            Interrupt::Stop(stop) => self.carry_out(Some(stop)),
            Interrupt::KillNow => self.cancel.raise(Level::Kill),
        }
    }

    /// Raises the pool's cancellation level as far as a stop asks.
    fn carry_out(&self, stop: Option<policy::Stop>) {
        if let Some(stop) = stop {
            self.cancel.raise(level_of(stop));
        }
    }

    /// After a stop: pending retries end with their last failure, and every task that never
    /// started is counted as not run.
    fn give_up_on_the_rest(&mut self) {
        for retry in std::mem::take(&mut self.retries) {
            self.replay(&retry.last, retry.task.seq);
            self.finish(retry.last, None);
        }
        let (jobs, output) = (&mut self.jobs, self.output);
        self.state.give_up(|i, count| jobs[i].hand_back(output, count));
    }
}

/// The pool's cancellation level that carries out a stop.
fn level_of(stop: policy::Stop) -> Level {
    match stop {
        policy::Stop::Drain => Level::Drain,
        policy::Stop::Terminate => Level::Terminate,
    }
}

/// A task as listeners see it when an attempt starts.
fn started(task: &Task) -> TaskRef<'_> {
    TaskRef { job: task.job, index: task.index, key: task.key, label: &task.label, command: &task.rendered }
}

/// A task that failed without starting, for `why`.
fn not_started(job: usize, index: u64, label: String, why: String) -> Finished {
    Finished::without_a_run(job, index, 0, label, Outcome::NotStarted(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_attempts_are_queued_deeper_up_to_a_bound_and_long_ones_one_per_worker() {
        let ms = Duration::from_millis;
        assert_eq!(queued_per_worker(ms(1)), 10);
        assert_eq!(queued_per_worker(ms(4)), 2);
        assert_eq!(queued_per_worker(ms(10)), 1);
        assert_eq!(queued_per_worker(Duration::from_secs(3600)), 1);
        assert_eq!(queued_per_worker(Duration::from_micros(100)), MAX_AHEAD_PER_WORKER);
        assert_eq!(queued_per_worker(Duration::ZERO), MAX_AHEAD_PER_WORKER);
    }
}
