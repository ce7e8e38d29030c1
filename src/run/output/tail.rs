//! The last lines of a failed task's stderr, for the summary and the reports.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Lines of stderr kept for the summary of a failed task.
pub const TAIL_LINES: usize = 5;

/// How far from its end the tail of a stream is looked for.
pub(super) const TAIL_BYTES: u64 = 4096;

/// The last few lines of a log file, read from its end.
pub fn tail_of(file: &mut File) -> Vec<String> {
    let mut read = || -> io::Result<Vec<u8>> {
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    tail_lines(&read().unwrap_or_default())
}

/// The last few non-blank lines of `bytes`.
pub(super) fn tail_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].iter().map(|l| (*l).to_owned()).collect()
}
