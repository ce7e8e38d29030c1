//! Small formatting helpers shared by the reporters.

use std::time::Duration;

use crate::events::Counts;

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

/// Time left at the rate so far (finished tasks per second of wall time), once there is a rate.
pub fn eta(counts: &Counts, elapsed: Duration) -> Option<Duration> {
    let done = counts.done();
    if done == 0 || done >= counts.total {
        return None;
    }
    let per_task = elapsed.as_secs_f64() / done as f64;
    Some(Duration::from_secs_f64(per_task * (counts.total - done) as f64))
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
        let counts = Counts { total: 10, succeeded: 5, ..Counts::default() };
        assert_eq!(eta(&counts, Duration::from_secs(10)), Some(Duration::from_secs(10)));
        assert_eq!(eta(&Counts { total: 10, ..Counts::default() }, Duration::from_secs(1)), None);
    }
}
