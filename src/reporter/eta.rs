//! The time left, from each job's own pace.
//!
//! One rate for the whole run (tasks done per second) is wrong as soon as jobs differ: after a
//! hundred quick tasks, four slow ones look as quick. So each job keeps its own mean task time
//! (a job none of whose tasks has finished borrows the run's), a task running longer than its
//! job's mean raises that mean to what it has taken so far, and the work left (each job's
//! tasks left times its mean) is divided by how many tasks have run at once on average.

use std::time::{Duration, Instant};

use crate::events::{Counts, Event};

/// No ETA before this much of the run, nor before [`ETA_AFTER_TASKS`] tasks have finished.
const ETA_AFTER: Duration = Duration::from_secs(3);
const ETA_AFTER_TASKS: u64 = 10;

#[derive(Debug, Default, Clone)]
struct Pace {
    planned: u64,
    /// Tasks that will not run again: finished, skipped or not run.
    settled: u64,
    finished: u64,
    /// Time its attempts took, retried ones included.
    time: Duration,
}

/// What an ETA is worked out from, fed with the run's events.
#[derive(Debug, Default)]
pub struct Estimate {
    names: Vec<String>,
    jobs: Vec<Pace>,
    /// Attempts running: job, started.
    running: Vec<(usize, u64, Instant)>,
}

impl Estimate {
    /// `jobs`: each job's name and the tasks planned for it at the start.
    pub fn new(jobs: Vec<(String, u64)>) -> Estimate {
        let (names, planned): (Vec<String>, Vec<u64>) = jobs.into_iter().unzip();
        let jobs = planned.into_iter().map(|planned| Pace { planned, ..Pace::default() }).collect();
        Estimate { names, jobs, running: Vec::new() }
    }

    pub fn event(&mut self, event: &Event) {
        match event {
            Event::TaskStarted { task, .. } => self.running.push((task.job, task.index, Instant::now())),
            Event::TaskRetrying { task, .. } => {
                self.ended(task.job, task.index);
                if let Some(job) = self.jobs.get_mut(task.job) {
                    job.time += task.duration;
                }
            }
            Event::TaskFinished { task, .. } => {
                self.ended(task.job, task.index);
                if let Some(job) = self.jobs.get_mut(task.job) {
                    job.time += task.duration;
                    job.finished += 1;
                    job.settled += 1;
                }
            }
            Event::JobPlanned { job, tasks, .. } => {
                if let Some(i) = self.names.iter().position(|n| n == job) {
                    self.jobs[i].planned = *tasks;
                }
            }
            Event::JobSkipped { which, tasks, .. } => {
                if let Some(job) = self.jobs.get_mut(which.job) {
                    job.settled += tasks;
                }
            }
            _ => {}
        }
    }

    fn ended(&mut self, job: usize, index: u64) {
        if let Some(at) = self.running.iter().position(|&(j, i, _)| j == job && i == index) {
            self.running.swap_remove(at);
        }
    }

    /// The time left, once the pace means something: after a few seconds and a few tasks, so
    /// that the first tasks (often the slowest, or the quickest) do not make it jump.
    pub fn left(&self, counts: &Counts, elapsed: Duration) -> Option<Duration> {
        let done = counts.done();
        if done < ETA_AFTER_TASKS.min(counts.total) || elapsed < ETA_AFTER || done >= counts.total {
            return None;
        }
        let now = Instant::now();
        let finished: u64 = self.jobs.iter().map(|j| j.finished).sum();
        let finished_time: Duration = self.jobs.iter().map(|j| j.time).sum();
        let running_time: Duration = self.running.iter().map(|&(_, _, since)| now - since).sum();
        let left_of = |j: &Pace| j.planned.saturating_sub(j.settled);
        let unsettled: u64 = self.jobs.iter().map(left_of).sum();
        if finished == 0 || unsettled == 0 {
            // Nothing to go by but the count (tasks done in an earlier run, skipped ones; no
            // jobs known): the run's rate so far.
            return Some(elapsed.mul_f64((counts.total - done) as f64 / done as f64));
        }
        let run_mean = finished_time.as_secs_f64() / finished as f64;
        // Tasks that ran at once, on average.
        let parallel = ((finished_time + running_time).as_secs_f64() / elapsed.as_secs_f64()).max(1.0);
        // Tasks done in an earlier run are in no job's count here: the jobs' tasks left are
        // scaled to what the run has left.
        let scale = ((counts.total - done) as f64 / unsettled as f64).min(1.0);
        let work: f64 = self
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| {
                let ran: Vec<f64> = self
                    .running
                    .iter()
                    .filter(|&&(job, _, _)| job == i)
                    .map(|&(_, _, since)| (now - since).as_secs_f64())
                    .collect();
                let work = |mean: f64| left_of(j) as f64 * scale * mean;
                if j.finished > 0 {
                    // Its own pace; what its running tasks have done of it is done.
                    let mean = j.time.as_secs_f64() / j.finished as f64;
                    (work(mean) - ran.iter().map(|r| r.min(mean)).sum::<f64>()).max(0.0)
                } else {
                    // No pace of its own yet: the run's, or, once one of its tasks has run
                    // longer, as long again as that task has run.
                    work(ran.iter().copied().fold(run_mean, f64::max))
                }
            })
            .sum();
        Some(Duration::from_secs_f64(work / parallel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Finished, Outcome};

    fn finished(job: usize, index: u64, took: Duration) -> Finished {
        Finished {
            duration: took,
            ..Finished::without_a_run(job, index, 0, format!("j{job}[{index}]"), Outcome::Succeeded)
        }
    }

    /// Forty quick tasks done and one slow job untouched: its tasks are counted at the quick
    /// pace until one of them has run longer, and then at that.
    #[test]
    fn a_slow_job_is_not_counted_at_a_quick_job_s_pace() {
        let mut estimate = Estimate::new(vec![("quick".into(), 40), ("slow".into(), 2)]);
        let counts = Counts { total: 42, succeeded: 40, ..Counts::default() };
        for i in 0..40 {
            let task = finished(0, i, Duration::from_millis(100));
            estimate.event(&Event::TaskFinished { task: &task, counts });
        }
        let quick = estimate.left(&counts, Duration::from_secs(4)).expect("an ETA");
        assert!(quick < Duration::from_millis(300), "{quick:?}");
        // A slow task that started when the run did: the two left take at least its time so far.
        estimate.running.push((1, 0, Instant::now() - Duration::from_secs(4)));
        let slow = estimate.left(&counts, Duration::from_secs(4)).expect("an ETA");
        assert!(slow >= Duration::from_secs(3), "{slow:?}");
    }

    #[test]
    fn one_pace_gives_the_plain_rate_and_nothing_early() {
        let mut estimate = Estimate::new(vec![("a".into(), 100)]);
        let counts = Counts { total: 100, succeeded: 50, ..Counts::default() };
        for i in 0..50 {
            let task = finished(0, i, Duration::from_millis(200));
            estimate.event(&Event::TaskFinished { task: &task, counts });
        }
        // 50 tasks of 200 ms in 10 s: one at a time, so 50 more take 10 s.
        let left = estimate.left(&counts, Duration::from_secs(10)).expect("an ETA");
        assert!((left.as_secs_f64() - 10.0).abs() < 0.1, "{left:?}");
        assert_eq!(estimate.left(&counts, Duration::from_secs(2)), None, "too early");
        let few = Counts { total: 100, succeeded: 5, ..Counts::default() };
        assert_eq!(estimate.left(&few, Duration::from_secs(10)), None, "too few tasks");
    }
}
