//! Small formatting helpers shared by the reporters.

use std::time::Duration;

use crate::events::Counts;

/// No ETA before this much of the run, nor before [`ETA_AFTER_TASKS`] tasks have finished.
const ETA_AFTER: Duration = Duration::from_secs(3);
const ETA_AFTER_TASKS: u64 = 10;

/// `850ms`, `1.2s`, `2m05s`, `1h02m`: short and stable widths for log lines.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{}ms", d.as_millis())
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{}h{:02}m", d.as_secs() / 3600, (d.as_secs() % 3600) / 60)
    }
}

/// Time left at the rate so far (finished tasks per second of wall time), once that rate
/// means something: after a few seconds and a few tasks, so that the first tasks (often the
/// slowest, or the quickest) do not make it jump.
pub fn eta(counts: &Counts, elapsed: Duration) -> Option<Duration> {
    let done = counts.done();
    if done < ETA_AFTER_TASKS.min(counts.total) || elapsed < ETA_AFTER || done >= counts.total {
        return None;
    }
    let per_task = elapsed.as_secs_f64() / done as f64;
    Some(Duration::from_secs_f64(per_task * (counts.total - done) as f64))
}

/// Tasks finished per second so far, once a second has passed: `12.5 tasks/s`.
pub fn rate(counts: &Counts, elapsed: Duration) -> Option<String> {
    let secs = elapsed.as_secs_f64();
    if secs < 1.0 || counts.done() == 0 {
        return None;
    }
    let per_sec = counts.done() as f64 / secs;
    Some(if per_sec >= 100.0 {
        format!("{} tasks/s", crate::words::number(per_sec.round() as u64))
    } else {
        format!("{per_sec:.1} tasks/s")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_millis(850)), "850ms");
        assert_eq!(duration(Duration::from_millis(1250)), "1.2s");
        assert_eq!(duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h02m");
    }

    #[test]
    fn eta_follows_the_rate() {
        let counts = Counts { total: 100, succeeded: 50, ..Counts::default() };
        assert_eq!(eta(&counts, Duration::from_secs(10)), Some(Duration::from_secs(10)));
        assert_eq!(eta(&Counts { total: 10, ..Counts::default() }, Duration::from_secs(5)), None);
        let early = Counts { total: 100, succeeded: 5, ..Counts::default() };
        assert_eq!(eta(&early, Duration::from_secs(5)), None, "too few tasks to tell");
        assert_eq!(eta(&counts, Duration::from_secs(1)), None, "too early to tell");
    }

    #[test]
    fn rates_come_after_a_second() {
        let counts = Counts { total: 100, succeeded: 50, ..Counts::default() };
        assert_eq!(rate(&counts, Duration::from_millis(500)), None);
        assert_eq!(rate(&counts, Duration::from_secs(4)).as_deref(), Some("12.5 tasks/s"));
        let many = Counts { total: 10_000, succeeded: 5_000, ..Counts::default() };
        assert_eq!(rate(&many, Duration::from_secs(2)).as_deref(), Some("2,500 tasks/s"));
    }
}
