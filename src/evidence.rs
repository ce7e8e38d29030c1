//! What a failed attempt leaves for the reports, so that a reader learns what broke without
//! opening the log folder: of each stream, its first and last lines, capped, and how much was
//! left out between them (the whole stream stays in the attempt's log).
//!
//! Both drivers make it alike: the local pool from the output it collected, the Slurm submitter
//! from the logs an element wrote. A cause printed early (`FATAL: …` and then pages of cleanup)
//! is in the head; the end of a long trace is in the tail.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

/// Lines kept from the start of a stream.
pub const HEAD_LINES: usize = 20;
/// Lines kept from its end.
pub const TAIL_LINES: usize = 60;
/// How far into a stream its head is looked for.
const HEAD_BYTES: u64 = 2 << 10;
/// How far from its end its tail is looked for: with the head, what one stream may cost a
/// report, however much the task printed.
const TAIL_BYTES: u64 = 6 << 10;
/// A longer line keeps its start and is marked cut, so one line of minified JSON cannot take
/// the whole excerpt.
const LINE_CHARS: usize = 300;

/// A failed attempt's stdout and stderr, excerpted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub stdout: Excerpt,
    pub stderr: Excerpt,
}

impl Evidence {
    pub fn of(stdout: &mut impl Source, stderr: &mut impl Source) -> Evidence {
        Evidence { stdout: Excerpt::of(stdout), stderr: Excerpt::of(stderr) }
    }
}

/// One stream's first lines and, when it was longer than those can show, its last lines and
/// what lies between.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excerpt {
    /// Its size.
    pub bytes: u64,
    /// Its first lines: all of them when nothing was left out.
    pub head: Vec<String>,
    /// Its last lines, after what was left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tail: Vec<String>,
    /// Bytes between the head and the tail, not shown.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_bytes: u64,
    /// Lines between the head and the tail, when they were counted (the stream was short
    /// enough to read whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omitted_lines: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Excerpt {
    pub fn of(source: &mut impl Source) -> Excerpt {
        let bytes = source.size();
        if bytes <= HEAD_BYTES + TAIL_BYTES {
            let all = source.first(bytes);
            let lines = split(&all);
            if lines.len() <= HEAD_LINES + TAIL_LINES {
                let (head, shown) = texts(&lines, Cut::None, true);
                return Excerpt { bytes, head, omitted_bytes: bytes.saturating_sub(shown), ..Excerpt::default() };
            }
            let (head, head_shown) = texts(&lines[..HEAD_LINES], Cut::None, false);
            let (tail, tail_shown) = texts(&lines[lines.len() - TAIL_LINES..], Cut::None, true);
            return Excerpt {
                bytes,
                head,
                tail,
                omitted_bytes: bytes.saturating_sub(head_shown + tail_shown),
                omitted_lines: Some((lines.len() - HEAD_LINES - TAIL_LINES) as u64),
            };
        }
        let first = source.first(HEAD_BYTES);
        let head_lines = split(&first);
        let head = &head_lines[..head_lines.len().min(HEAD_LINES)];
        let head_cut = head.len() == head_lines.len() && !first.ends_with(b"\n");
        let (head, head_shown) = texts(head, if head_cut { Cut::LastEnd } else { Cut::None }, false);
        // The window starts inside a line (most likely): that part is not a line of its own,
        // unless the window holds no other, when the end of that line is all there is to show.
        let last = source.last(TAIL_BYTES);
        let tail_lines = split(&last);
        let (tail, tail_shown) = match tail_lines.len() {
            0 => (Vec::new(), 0),
            1 => texts(&tail_lines, Cut::FirstStart, true),
            n => texts(&tail_lines[1.max(n.saturating_sub(TAIL_LINES))..], Cut::None, true),
        };
        Excerpt { bytes, head, tail, omitted_bytes: bytes.saturating_sub(head_shown + tail_shown), omitted_lines: None }
    }

    /// Whether anything was left out.
    pub fn is_cut(&self) -> bool {
        self.omitted_bytes > 0
    }

    /// What was left out, in words: `1,234 lines (56.0 KiB) not shown`.
    pub fn omitted(&self) -> Option<String> {
        if !self.is_cut() {
            return None;
        }
        let size = crate::words::bytes(self.omitted_bytes);
        Some(match self.omitted_lines {
            Some(lines) => format!("{} ({size}) not shown", crate::words::count(lines, "line")),
            None => format!("{size} not shown"),
        })
    }

    /// The excerpt as text: head, a line saying what was left out, tail.
    pub fn text(&self) -> String {
        let mut lines: Vec<String> = self.head.clone();
        if let Some(omitted) = self.omitted() {
            lines.push(format!("… {omitted} …"));
        }
        lines.extend(self.tail.iter().cloned());
        lines.join("\n")
    }
}

/// A stream held somewhere: its size, and its first or last bytes.
pub trait Source {
    fn size(&self) -> u64;
    fn first(&mut self, bytes: u64) -> Vec<u8>;
    fn last(&mut self, bytes: u64) -> Vec<u8>;
}

/// A log file; one that cannot be read reads as empty.
impl Source for File {
    fn size(&self) -> u64 {
        self.metadata().map_or(0, |m| m.len())
    }

    fn first(&mut self, bytes: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let read = self.seek(SeekFrom::Start(0)).and_then(|_| self.take(bytes).read_to_end(&mut out));
        if read.is_err() {
            out.clear();
        }
        out
    }

    fn last(&mut self, bytes: u64) -> Vec<u8> {
        let from = self.size().saturating_sub(bytes);
        let mut out = Vec::new();
        let read = self.seek(SeekFrom::Start(from)).and_then(|_| self.take(bytes).read_to_end(&mut out));
        if read.is_err() {
            out.clear();
        }
        out
    }
}

/// The lines of `bytes`, each with its newline (the last may have none).
fn split(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

/// Where the window a stream was read through cut its lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    None,
    /// The first line's start lies before the window.
    FirstStart,
    /// The last line's end lies after the window.
    LastEnd,
}

/// The lines as text (invalid UTF-8 replaced, newlines dropped), with the bytes shown. A line
/// cut by the window, or longer than [`LINE_CHARS`], is marked `…` where text is missing: a
/// long line keeps its start, except the stream's last line (`ends_stream`), which keeps its
/// start and its end, where a failure's last word usually is.
fn texts(lines: &[&[u8]], cut: Cut, ends_stream: bool) -> (Vec<String>, u64) {
    let n = lines.len();
    let mut shown = 0;
    let texts = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let raw = String::from_utf8_lossy(line);
            let text = raw.trim_end_matches('\n').trim_end_matches('\r');
            let newline = (raw.len() - text.len()) as u64;
            let starts_cut = cut == Cut::FirstStart && i == 0;
            let ends_cut = cut == Cut::LastEnd && i + 1 == n;
            let count = text.chars().count();
            let at = |k: usize| text.char_indices().nth(k).map_or(text.len(), |(at, _)| at);
            if count <= LINE_CHARS {
                shown += text.len() as u64 + if ends_cut { 0 } else { newline };
                let before = if starts_cut { "…" } else { "" };
                let after = if ends_cut { "…" } else { "" };
                return format!("{before}{text}{after}");
            }
            if ends_stream && i + 1 == n {
                // Its end, and its start too unless the window cut that off.
                let end = at(count - LINE_CHARS * 2 / 3);
                let start = if starts_cut { 0 } else { at(LINE_CHARS / 3) };
                shown += (start + text.len() - end) as u64 + newline;
                return format!("{}…{}", &text[..start], &text[end..]);
            }
            let start = at(LINE_CHARS);
            shown += start as u64;
            let before = if starts_cut { "…" } else { "" };
            format!("{before}{}…", &text[..start])
        })
        .collect();
    (texts, shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A stream in memory.
    struct Bytes(Vec<u8>);

    impl Source for Bytes {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn first(&mut self, bytes: u64) -> Vec<u8> {
            self.0[..(bytes as usize).min(self.0.len())].to_vec()
        }
        fn last(&mut self, bytes: u64) -> Vec<u8> {
            self.0[self.0.len().saturating_sub(bytes as usize)..].to_vec()
        }
    }

    fn numbered(n: usize) -> Vec<u8> {
        (1..=n).map(|i| format!("line {i}\n")).collect::<String>().into_bytes()
    }

    #[test]
    fn a_short_stream_is_shown_whole() {
        let e = Excerpt::of(&mut Bytes(numbered(80)));
        assert_eq!((e.head.len(), e.tail.len(), e.omitted()), (80, 0, None));
        assert_eq!(e.head[79], "line 80");
    }

    #[test]
    fn a_cause_printed_first_survives_pages_of_cleanup() {
        let mut text = b"FATAL: no such table\n".to_vec();
        text.extend(numbered(100));
        let e = Excerpt::of(&mut Bytes(text));
        assert_eq!(e.head[0], "FATAL: no such table");
        assert_eq!(e.tail.last().map(String::as_str), Some("line 100"));
        assert_eq!(e.omitted_lines, Some(21));
        assert_eq!(e.omitted().as_deref(), Some("21 lines (168 B) not shown"));
        assert!(e.text().contains("\n… 21 lines (168 B) not shown …\nline 41\n"), "{}", e.text());
    }

    #[test]
    fn a_large_stream_costs_its_caps_and_says_how_much_was_left_out() {
        let text = numbered(100_000);
        let e = Excerpt::of(&mut Bytes(text.clone()));
        assert_eq!(e.head.first().map(String::as_str), Some("line 1"));
        assert_eq!(e.head.len(), HEAD_LINES);
        assert_eq!(e.tail.len(), TAIL_LINES);
        assert_eq!(e.tail.last().map(String::as_str), Some("line 100000"));
        assert_eq!(e.tail[0], "line 99941", "whole lines only");
        let shown: u64 = e.head.iter().chain(&e.tail).map(|l| l.len() as u64 + 1).sum();
        assert_eq!(e.omitted_bytes + shown, text.len() as u64);
        assert_eq!(e.omitted_lines, None);
    }

    #[test]
    fn a_long_line_keeps_its_start_and_is_marked_cut() {
        let e = Excerpt::of(&mut Bytes(format!("{}\nend\n", "é".repeat(5000)).into_bytes()));
        assert_eq!(e.head[0].chars().count(), LINE_CHARS + 1);
        assert!(e.head[0].ends_with('…'));
        assert_eq!(e.tail, ["end"]);
    }

    /// A stream that ends in one long line (progress redrawn with `\r`, then the error) shows
    /// that line's end, and counts only what it shows as shown.
    #[test]
    fn a_stream_ending_in_a_long_line_shows_its_end() {
        let mut text: Vec<u8> = (0..3000).flat_map(|i| format!("downloading {i}%\r").into_bytes()).collect();
        text.extend(b"FATAL: connection reset by peer\n");
        let e = Excerpt::of(&mut Bytes(text.clone()));
        assert!(e.tail.last().is_some_and(|l| l.ends_with("FATAL: connection reset by peer")), "{e:?}");
        assert!(e.tail.last().is_some_and(|l| l.starts_with('…')), "its start is not in the window");
        let small = b"x".repeat(1000).into_iter().chain(*b" the end\n").collect::<Vec<u8>>();
        let e = Excerpt::of(&mut Bytes(small));
        assert!(e.head[0].starts_with("xxx") && e.head[0].ends_with("x the end"), "{e:?}");
        assert_eq!(e.omitted_bytes, 1009 - (LINE_CHARS / 3 + LINE_CHARS * 2 / 3 + 1) as u64);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Whatever was printed, the excerpt stays within its caps, shows the stream's first
        /// line (cut or whole), and what it shows plus what it left out is the stream.
        #[test]
        fn the_excerpt_is_capped_and_accounts_for_every_byte(
            lines in proptest::collection::vec("[a-z é\t]{0,400}", 0..300),
        ) {
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let e = Excerpt::of(&mut Bytes(text.clone().into_bytes()));
            prop_assert!(e.head.len() <= HEAD_LINES + TAIL_LINES && e.tail.len() <= TAIL_LINES);
            prop_assert_eq!(e.bytes, text.len() as u64);
            if let Some(first) = lines.first() {
                let shown = e.head[0].split('…').next().unwrap_or_default();
                prop_assert!(first.starts_with(shown), "{:?} is not the start of {:?}", shown, first);
            }
            if e.is_cut() {
                prop_assert!(e.omitted_bytes < text.len() as u64);
            } else {
                prop_assert_eq!(e.head.len(), lines.len());
            }
        }
    }
}
