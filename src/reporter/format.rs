//! Small formatting helpers shared by the reporters.

use std::time::Duration;

use crate::events::Counts;

/// A command as a report shows it: whole when it has at most `most` bytes, else its start
/// (cut at a character) and how long it is, with where it stands whole (`whole_in`). A
/// generated command can be megabytes.
pub fn cut_command<'a>(command: &'a str, most: usize, whole_in: &str) -> std::borrow::Cow<'a, str> {
    if command.len() <= most {
        return std::borrow::Cow::Borrowed(command);
    }
    let mut end = most;
    while !command.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!(
        "{}… (cut: {} bytes in all; {whole_in} has it whole)",
        &command[..end],
        command.len()
    ))
}

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
    fn rates_come_after_a_second() {
        let counts = Counts { total: 100, succeeded: 50, ..Counts::default() };
        assert_eq!(rate(&counts, Duration::from_millis(500)), None);
        assert_eq!(rate(&counts, Duration::from_secs(4)).as_deref(), Some("12.5 tasks/s"));
        let many = Counts { total: 10_000, succeeded: 5_000, ..Counts::default() };
        assert_eq!(rate(&many, Duration::from_secs(2)).as_deref(), Some("2,500 tasks/s"));
    }
}
