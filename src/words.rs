//! Numbers and nouns as people read them: `1 task`, `12,500 tasks`.

/// `1234567` as `1,234,567`.
pub fn number(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// The name of an interrupting signal (SIGINT, SIGHUP or SIGTERM), for messages.
pub fn signal(signal: i32) -> &'static str {
    use signal_hook::consts::{SIGHUP, SIGINT};
    match signal {
        SIGINT => "SIGINT",
        SIGHUP => "SIGHUP",
        _ => "SIGTERM",
    }
}

/// `1 task`, `0 tasks`, `5,000 tasks`: `noun` takes an `s` but for one.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{} {noun}s", number(n)) }
}

/// The text with its control characters escaped (`\n`, `\u{1b}`), as batchrun shows a value
/// that came from outside: a value holding a newline cannot start a line of its own (and so
/// cannot become a CI system's workflow command), nor can it move the cursor or colour text.
/// Invisible format characters (bidirectional overrides, zero-width spaces) and the Unicode
/// line separators are escaped too, so a value cannot look like another.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{ad}' | '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}')
            || matches!(c, '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
    };
    if !text.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A size: `177 B`, `5.6 KiB`, `1.2 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut size = n as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_invisible_characters_are_escaped() {
        assert_eq!(escape_controls("plain é"), "plain é");
        assert_eq!(escape_controls("a\n::error::b\u{1b}[2J"), "a\\n::error::b\\u{1b}[2J");
        assert_eq!(escape_controls("\u{202e}gnp.exe a\u{200b}b\u{2028}"), "\\u{202e}gnp.exe a\\u{200b}b\\u{2028}");
    }

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(bytes(177), "177 B");
        assert_eq!(bytes(5734), "5.6 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
    }

    #[test]
    fn thousands_are_separated_and_one_is_singular() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1000), "1,000");
        assert_eq!(number(1_234_567), "1,234,567");
        assert_eq!(count(1, "task"), "1 task");
        assert_eq!(count(0, "job"), "0 jobs");
        assert_eq!(count(12_500, "worker"), "12,500 workers");
    }
}
