//! The run policy: what happens to a run as its tasks end, whichever driver runs them.
//!
//! The local pool ([`crate::run`]) and the Slurm submitter ([`crate::slurm`]) both ask here
//! whether a failed attempt runs again, what `on_failure` stops, why a job whose needs did not
//! succeed is skipped, how tasks are counted, and what an interrupt says: so the two backends
//! decide alike and say it in the same words. How a driver carries a decision out (raising the
//! pool's cancellation level, `scancel`) stays with the driver.

use std::time::Duration;

use crate::config::{OnFailure, Settings, Threshold};
use crate::events::{Counts, Finished, Outcome};

/// How far a stop goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// No new task starts; running ones finish.
    Drain,
    /// Running tasks are stopped too (SIGTERM, SIGKILL after `kill_grace`).
    Terminate,
}

/// A job, as the policy sees it when deciding whether its dependents may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEnd {
    /// Not ended yet.
    Open,
    Succeeded,
    Failed,
    Skipped,
    /// None of its tasks failed, but batchrun stopped some (the run is stopping): the jobs
    /// that need it are not run, rather than skipped for a failure.
    Cancelled,
}

/// Whether a failed attempt is tried again (`attempt`: 1 for the first). Not once the run is
/// stopping, and not for a task that was cancelled or succeeded without its output delivered.
pub fn retries(outcome: &Outcome, attempt: u32, settings: &Settings, stopping: bool) -> Option<Duration> {
    (retryable(outcome, attempt, settings) && !stopping).then(|| retry_delay(settings.retry_delay, attempt))
}

/// Whether the job's settings retry this attempt's failure: it has retries left, and
/// `retry_on` (when it has one) names what failed.
pub fn retryable(outcome: &Outcome, attempt: u32, settings: &Settings) -> bool {
    !matches!(outcome, Outcome::Succeeded | Outcome::Cancelled | Outcome::Undelivered(_))
        && attempt <= settings.retries
        && left_out_by_retry_on(outcome, settings).is_none()
}

/// Why `retry_on` leaves this failure out, when the job has one that does: "exit 2 is not in
/// retry_on".
pub fn left_out_by_retry_on(outcome: &Outcome, settings: &Settings) -> Option<String> {
    let on = settings.retry_on.as_ref()?;
    let (covered, what) = match outcome {
        Outcome::Exited(code) => {
            (on.exits.iter().any(|&(low, high)| (low..=high).contains(code)), format!("exit {code}"))
        }
        Outcome::TimedOut(_) => (on.timeout, "a timeout".to_owned()),
        Outcome::Signalled(signal) => (on.signal, format!("signal {}", crate::words::signal(*signal))),
        Outcome::ProductFailed(_) => (on.verify, "a failed verify or product".to_owned()),
        Outcome::NotStarted(_) => (false, "a task that could not start".to_owned()),
        Outcome::Lost(_) => (false, "a lost task".to_owned()),
        Outcome::Succeeded | Outcome::Cancelled | Outcome::Undelivered(_) => return None,
    };
    (!covered).then(|| format!("{what} is not in retry_on"))
}

/// The wait before retry number `retry` (1 for the first): `base`, doubling after each further
/// retry, plus up to 10 % jitter so that tasks that failed together do not retry in lockstep.
pub fn retry_delay(base: Duration, retry: u32) -> Duration {
    let doubled = base.saturating_mul(1u32 << (retry.saturating_sub(1)).min(20)).min(crate::config::MAX_DURATION);
    doubled + doubled.mul_f64(fastrand::f64() * 0.1)
}

/// A job planned when it became ready whose items could not be read: it fails as one task
/// that did not start, labelled with the job's name, and says why.
pub fn unplanned(job: usize, name: &str, error: &str) -> Finished {
    Finished::without_a_run(job, 0, 0, name.to_owned(), Outcome::NotStarted(format!("cannot plan the job: {error}")))
}

/// Counts a task's last attempt; a failure in a job with `allow_failure` is `allowed` too.
pub fn count(counts: &mut Counts, finished: &Finished, allow_failure: bool) {
    if finished.outcome.is_success() {
        counts.succeeded += 1;
        counts.flaky += u64::from(finished.attempt > 1);
    } else if finished.outcome == Outcome::Cancelled {
        counts.cancelled += 1;
    } else {
        counts.failed += 1;
        counts.allowed += u64::from(allow_failure);
    }
}

/// Whose failures an `on_failure` counts.
pub enum Scope<'a> {
    Job(&'a str),
    Run,
}

/// What an `on_failure` asks after a task's last attempt, and why, when it asks a stop:
/// `failed` of the `ended` tasks of its scope (this one among them) have failed.
pub fn on_failure(
    finished: &Finished,
    (action, after): (OnFailure, Threshold),
    failed: u64,
    ended: u64,
    scope: Scope,
) -> Option<(Stop, String)> {
    if finished.outcome.is_success() || finished.outcome == Outcome::Cancelled || !after.reached(failed, ended) {
        return None;
    }
    let (stop, word) = match action {
        OnFailure::Continue => return None,
        OnFailure::Stop => (Stop::Drain, "stop"),
        OnFailure::Kill => (Stop::Terminate, "kill"),
    };
    let (whose, setting) = match scope {
        Scope::Job(job) => (format!("`{job}`"), "on_failure"),
        Scope::Run => ("the run".to_owned(), "the run's on_failure"),
    };
    let why = match after {
        Threshold::Count(1) if matches!(scope, Scope::Job(_)) => {
            format!("{} failed and on_failure is `{word}`", finished.label)
        }
        Threshold::Count(n) => format!(
            "{} of {whose} failed ({} the last) and {setting} is `{{{word}: {n}}}`",
            crate::words::count(failed, "task"),
            finished.label
        ),
        Threshold::Percent(_) => format!(
            "{failed} of {whose}'s {ended} finished tasks failed ({:.0}%, {} the last) and {setting} is `{{{word}: {after}}}`",
            failed as f64 * 100.0 / ended as f64,
            finished.label
        ),
    };
    Some((stop, why))
}

/// Why a job that waits for `needs` will not run, once every one of them has ended and one
/// failed or was skipped. Decided only then, as GitHub Actions does, so that the reason (the
/// first such need in the job's order) is the same however the needs' ends interleave.
pub fn blocked<'a>(needs: impl IntoIterator<Item = (&'a str, JobEnd)>) -> Option<String> {
    let needs: Vec<(&str, JobEnd)> = needs.into_iter().collect();
    if needs.iter().any(|&(_, end)| end == JobEnd::Open) {
        return None;
    }
    needs.into_iter().find_map(|(name, end)| match end {
        JobEnd::Failed => Some(format!("it needs `{name}`, which failed")),
        JobEnd::Skipped => Some(format!("it needs `{name}`, which was skipped")),
        JobEnd::Open | JobEnd::Succeeded | JobEnd::Cancelled => None,
    })
}

/// Whether every need succeeded.
pub fn ready(needs: impl IntoIterator<Item = JobEnd>) -> bool {
    needs.into_iter().all(|end| end == JobEnd::Succeeded)
}

/// Why tasks that never started are not run, after a stop.
pub const STOPPED_BEFORE_THEY_STARTED: &str = "the run was stopped before they started";

/// What the first interrupting signal says: every task is stopped.
pub fn interrupted(signal: i32) -> String {
    format!("{} received: stopping every task (again to kill at once)", crate::words::signal(signal))
}

/// What a second interrupting signal says.
pub const INTERRUPTED_AGAIN: &str = "interrupted again: killing every task now";

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(outcome: Outcome) -> Finished {
        Finished::without_a_run(0, 3, 0, "export[3]".into(), outcome)
    }

    #[test]
    fn retries_only_what_failed_while_attempts_are_left_and_the_run_goes_on() {
        let yaml = "jobs:\n  a:\n    retries: 2\n    command: 'true'\n";
        let file = crate::config::parse(std::path::Path::new("/tmp/policy.yaml"), yaml).expect("parses");
        let settings = &file.jobs[0].settings;
        assert!(retries(&Outcome::Exited(1), 1, settings, false).is_some());
        assert!(retries(&Outcome::Exited(1), 2, settings, false).is_some());
        assert!(retries(&Outcome::Exited(1), 3, settings, false).is_none(), "attempts used up");
        assert!(retries(&Outcome::Exited(1), 1, settings, true).is_none(), "the run is stopping");
        for outcome in [Outcome::Succeeded, Outcome::Cancelled, Outcome::Undelivered("x".into())] {
            assert!(retries(&outcome, 1, settings, false).is_none(), "{outcome:?}");
        }
    }

    #[test]
    fn on_failure_stops_with_its_reason_and_a_cancelled_task_stops_nothing() {
        let failed = finished(Outcome::Exited(1));
        let once = |action| (action, Threshold::Count(1));
        let job = || Scope::Job("export");
        assert_eq!(on_failure(&failed, once(OnFailure::Continue), 1, 1, job()), None);
        assert_eq!(
            on_failure(&failed, once(OnFailure::Stop), 1, 1, job()),
            Some((Stop::Drain, "export[3] failed and on_failure is `stop`".into()))
        );
        assert_eq!(on_failure(&failed, once(OnFailure::Kill), 1, 1, job()).map(|(s, _)| s), Some(Stop::Terminate));
        assert_eq!(on_failure(&finished(Outcome::Cancelled), once(OnFailure::Kill), 1, 1, job()), None);
    }

    /// A count waits for that many failures; a share for that share of the finished tasks,
    /// and never before ten have finished.
    #[test]
    fn a_threshold_waits_for_its_count_or_its_share() {
        let failed = finished(Outcome::Exited(1));
        let three = (OnFailure::Stop, Threshold::Count(3));
        assert_eq!(on_failure(&failed, three, 2, 2, Scope::Job("export")), None);
        assert_eq!(
            on_failure(&failed, three, 3, 9, Scope::Run).map(|(_, why)| why).as_deref(),
            Some("3 tasks of the run failed (export[3] the last) and the run's on_failure is `{stop: 3}`")
        );
        let share = (OnFailure::Kill, Threshold::Percent(25.0));
        assert_eq!(on_failure(&failed, share, 5, 9, Scope::Run), None, "fewer than ten finished");
        assert_eq!(on_failure(&failed, share, 2, 10, Scope::Run), None, "20 % of ten");
        assert_eq!(
            on_failure(&failed, share, 3, 12, Scope::Job("export")).map(|(_, why)| why).as_deref(),
            Some(
                "3 of `export`'s 12 finished tasks failed (25%, export[3] the last) and on_failure is `{kill: \"25%\"}`"
            )
        );
    }

    #[test]
    fn a_job_is_blocked_by_a_need_that_failed_or_was_skipped() {
        assert_eq!(blocked([("a", JobEnd::Succeeded), ("b", JobEnd::Open)]), None);
        assert_eq!(blocked([("a", JobEnd::Skipped)]).as_deref(), Some("it needs `a`, which was skipped"));
        assert_eq!(blocked([("a", JobEnd::Failed)]).as_deref(), Some("it needs `a`, which failed"));
        assert_eq!(blocked([("a", JobEnd::Cancelled)]), None, "what needs it is not run, not skipped");
        assert!(!ready([JobEnd::Cancelled]));
        // Not before every need has ended: which failed first must not change the reason.
        assert_eq!(blocked([("a", JobEnd::Open), ("b", JobEnd::Failed)]), None);
        assert_eq!(
            blocked([("a", JobEnd::Failed), ("b", JobEnd::Skipped)]).as_deref(),
            Some("it needs `a`, which failed")
        );
        assert!(ready([JobEnd::Succeeded, JobEnd::Succeeded]));
        assert!(!ready([JobEnd::Succeeded, JobEnd::Open]));
    }

    #[test]
    fn retry_delays_double_with_bounded_jitter() {
        let base = Duration::from_millis(100);
        for (retry, expected) in [(1, 100), (2, 200), (3, 400)] {
            let d = retry_delay(base, retry).as_millis();
            assert!((expected..=expected + expected / 10).contains(&d), "retry {retry}: {d}ms");
        }
        assert_eq!(retry_delay(Duration::ZERO, 3), Duration::ZERO);
    }
}
