//! How a task's key (its identity across runs, `plan::identity`) is written in the journal,
//! the reports, the event stream and the plan, and read back: one formatter, one parser.

/// 16 lowercase hex digits.
pub fn format(key: u64) -> String {
    format!("{key:016x}")
}

/// A key as [`format`] wrote it (or with its leading zeros left out); `None` for anything else.
pub fn parse(text: &str) -> Option<u64> {
    let hex = !text.is_empty() && text.len() <= 16 && text.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| u64::from_str_radix(text, 16).ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_nothing_else_reads() {
        for key in [0, 1, 0xab, u64::MAX, 0x0123_4567_89ab_cdef] {
            assert_eq!(parse(&format(key)), Some(key));
        }
        assert_eq!(parse("ab"), Some(0xab));
        for bad in ["", "+00000000000000", "0123456789abcdef0", "xyz0000000000000"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
