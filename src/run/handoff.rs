//! How attempts reach the workers and results reach the dispatcher, with as few wake-ups of the
//! dispatcher as the work allows.
//!
//! A dispatcher woken by every result costs a context switch per task, and on two cores that
//! switch is taken from the tasks: a run of 5,000 `true`s at `-j 2` took 2.39 s that way, 2.25 s
//! this way (interleaved runs, medians). So the dispatcher queues attempts ahead, as many as it
//! judges right (see [`Feed::queue_ahead`]), and workers leave their results in a queue of their
//! own. A worker wakes the dispatcher only when
//! it matters: the attempts queued have run low, the queue is empty as it looks for its next
//! attempt, or an attempt failed (so that `on_failure` and retries act at once). The dispatcher
//! also wakes on its own at each tick, and takes every result waiting whenever it wakes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded, unbounded};

use super::worker::{Attempt, AttemptDone};

/// The most attempts queued per worker, whatever the tasks: enough that a worker of tasks as
/// short as `true` wakes the dispatcher once per several tasks, and a bound on the memory held.
pub const MAX_AHEAD_PER_WORKER: usize = 16;

/// The dispatcher's side.
pub struct Feed {
    attempts: Sender<Attempt>,
    results: Receiver<AttemptDone>,
    wakes: Receiver<()>,
    /// A worker that finds this many attempts queued or fewer after its result wakes the dispatcher.
    wake_at: Arc<AtomicUsize>,
    plans: Sender<usize>,
    planned: Receiver<(usize, Result<u64, String>)>,
    /// The planner's wakes: apart from the workers', so that the dispatcher still learns when
    /// every worker is gone.
    plan_wakes: Receiver<()>,
}

/// A worker's side.
#[derive(Clone)]
pub struct Intake {
    attempts: Receiver<Attempt>,
    results: Sender<AttemptDone>,
    wake: Sender<()>,
    wake_at: Arc<AtomicUsize>,
}

/// Plans the jobs planned when they become ready, beside the dispatcher: an items command may
/// run for minutes, and meanwhile the dispatcher starts other tasks and hears signals.
pub struct Planner {
    asks: Receiver<usize>,
    answers: Sender<(usize, Result<u64, String>)>,
    wake: Sender<()>,
}

/// The channels between one dispatcher, `workers` workers and the planner.
pub fn handoff(workers: usize) -> (Feed, Intake, Planner) {
    let (attempt_tx, attempt_rx) = bounded(workers.saturating_mul(MAX_AHEAD_PER_WORKER + 1));
    let (result_tx, result_rx) = unbounded();
    // One pending wake is enough: the dispatcher takes every result when it wakes.
    let (wake_tx, wake_rx) = bounded(1);
    let (plans, asks) = unbounded();
    let (answers, planned) = unbounded();
    let (plan_wake, plan_wakes) = bounded(1);
    let wake_at = Arc::new(AtomicUsize::new(usize::MAX));
    let feed = Feed {
        attempts: attempt_tx,
        results: result_rx,
        wakes: wake_rx,
        wake_at: wake_at.clone(),
        plans,
        planned,
        plan_wakes,
    };
    let planner = Planner { asks, answers, wake: plan_wake };
    (feed, Intake { attempts: attempt_rx, results: result_tx, wake: wake_tx, wake_at }, planner)
}

impl Planner {
    /// Plans each job asked for, until the dispatcher is gone; `stop` stops an items command.
    pub fn serve(self, plan: &crate::plan::Plan, stop: &(dyn Fn() -> bool + Sync)) {
        for job in self.asks.iter() {
            let planned = plan.plan_when_ready(job, stop);
            if self.answers.send((job, planned)).is_err() {
                return;
            }
            let _ = self.wake.try_send(());
        }
    }
}

/// The workers are gone.
#[derive(Debug, PartialEq, Eq)]
pub struct Disconnected;

impl Feed {
    /// Hands an attempt to the next free worker. Never blocks while the dispatcher keeps its
    /// sends within one per idle worker plus [`MAX_AHEAD_PER_WORKER`] per worker queued.
    pub fn send(&self, attempt: Attempt) {
        // The workers outlive the dispatcher's loop, so the channel is open.
        let _ = self.attempts.send(attempt);
    }

    /// Tells workers how many attempts the dispatcher keeps queued ahead: they wake it once
    /// half of them have been taken. With one per worker or fewer, every result wakes it.
    pub fn queue_ahead(&self, workers: usize, ahead: usize) {
        let wake_at = if ahead > workers { ahead / 2 } else { usize::MAX };
        self.wake_at.store(wake_at, Ordering::Relaxed);
    }

    /// Sleeps until a worker or the planner wakes the dispatcher or `timeout` passes. Every
    /// worker gone, or the planner, is [`Disconnected`]: what they had would never come.
    pub fn wait(&self, timeout: Duration) -> Result<(), Disconnected> {
        crossbeam_channel::select! {
            recv(self.wakes) -> woken => woken.map_err(|_| Disconnected),
            recv(self.plan_wakes) -> woken => woken.map_err(|_| Disconnected),
            default(timeout) => Ok(()),
        }
    }

    /// The results waiting, oldest first.
    pub fn results(&self) -> impl Iterator<Item = AttemptDone> + '_ {
        self.results.try_iter()
    }

    /// Asks the planner to plan job `job` (see [`crate::plan::Plan::plan_when_ready`]).
    pub fn plan(&self, job: usize) {
        // The planner outlives the dispatcher's loop, so the channel is open.
        let _ = self.plans.send(job);
    }

    /// The jobs planned since last asked: each with its task count, or why it could not be.
    pub fn planned(&self) -> impl Iterator<Item = (usize, Result<u64, String>)> + '_ {
        self.planned.try_iter()
    }
}

impl Intake {
    /// The next attempt; `None` once the dispatcher has closed the queue. A worker that finds
    /// the queue empty wakes the dispatcher before it sleeps, so it is never left idle waiting
    /// for the next tick.
    pub fn next(&self) -> Option<Attempt> {
        match self.attempts.try_recv() {
            Ok(attempt) => Some(attempt),
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => {
                self.wake();
                self.attempts.recv().ok()
            }
        }
    }

    /// Leaves a result for the dispatcher; false when it is gone.
    pub fn report(&self, done: AttemptDone) -> bool {
        let failed = !done.outcome.is_success();
        if self.results.send(done).is_err() {
            return false;
        }
        if failed || self.attempts.len() <= self.wake_at.load(Ordering::Relaxed) {
            self.wake();
        }
        true
    }

    fn wake(&self) {
        // Full means a wake is already pending, which is as good.
        let _ = self.wake.try_send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Outcome;
    use crate::plan::Task;

    fn attempt(index: u64) -> Attempt {
        Attempt { task: Task { index, ..Task::default() }, number: 1 }
    }

    fn done(index: u64, outcome: Outcome) -> AttemptDone {
        AttemptDone {
            task: Task { index, ..Task::default() },
            ran: true,
            number: 1,
            outcome,
            duration: Duration::ZERO,
            kept: Default::default(),
            slot: 0,
            last: true,
            product: None,
        }
    }

    fn woken(feed: &Feed) -> bool {
        feed.wakes.try_recv().is_ok()
    }

    #[test]
    fn with_one_attempt_per_worker_queued_every_result_wakes_the_dispatcher() {
        let (feed, intake, _planner) = handoff(2);
        feed.queue_ahead(2, 2);
        feed.send(attempt(1));
        feed.send(attempt(2));
        feed.send(attempt(3));
        assert!(intake.report(done(0, Outcome::Succeeded)));
        assert!(woken(&feed));
        assert_eq!(feed.results().map(|d| d.task.index).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn a_deep_queue_wakes_the_dispatcher_once_half_of_it_is_taken_or_on_a_failure() {
        let (feed, intake, _planner) = handoff(2);
        feed.queue_ahead(2, 8);
        (1..=8).for_each(|i| feed.send(attempt(i)));
        let mut wakes = Vec::new();
        for _ in 0..5 {
            let next = intake.next().map(|a| a.task.index);
            assert!(intake.report(done(next.unwrap_or_default(), Outcome::Succeeded)));
            wakes.push(woken(&feed));
        }
        // 8 queued: taking the 4th leaves 4, half of them.
        assert_eq!(wakes, [false, false, false, true, true]);
        assert!(intake.report(done(99, Outcome::Exited(1))));
        assert!(woken(&feed));
        assert_eq!(feed.results().count(), 6);
    }

    #[test]
    fn a_worker_that_finds_the_queue_empty_wakes_the_dispatcher_before_it_sleeps() {
        let (feed, intake, _planner) = handoff(1);
        feed.queue_ahead(1, 16);
        std::thread::scope(|scope| {
            let worker = scope.spawn(|| intake.next().map(|a| a.task.index));
            // Its wake comes before any attempt is sent, so it is not the tick's timeout.
            assert_eq!(feed.wakes.recv_timeout(Duration::from_secs(60)), Ok(()));
            feed.send(attempt(7));
            assert_eq!(worker.join().ok().flatten(), Some(7));
        });
    }

    #[test]
    fn the_dispatcher_learns_when_every_worker_is_gone() {
        let (feed, intake, _planner) = handoff(1);
        drop(intake);
        assert_eq!(feed.wait(Duration::from_secs(60)), Err(Disconnected));
    }
}
