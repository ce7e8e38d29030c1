//! `--output tagged`: lines as they come, each prefixed with its task's label.

use std::io::{BufRead, BufReader, Read};

/// Longest line `tagged` mode holds before passing it on in pieces, so a task that prints
/// megabytes without a newline cannot make batchrun hold them.
const MAX_TAGGED_LINE: usize = 64 * 1024;

/// Reads `reader` line by line (bytes, not UTF-8: output is passed on as written) and hands
/// each line, prefixed, to `emit`. A line longer than [`MAX_TAGGED_LINE`] is passed on in pieces,
/// and a last line without a newline gets one.
pub(super) fn tag_lines(reader: impl Read, prefix: &str, mut emit: impl FnMut(&[u8])) {
    let mut reader = BufReader::with_capacity(MAX_TAGGED_LINE, reader);
    let mut line = prefix.as_bytes().to_vec();
    loop {
        let (used, complete) = match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(buf) => {
                let room = MAX_TAGGED_LINE - (line.len() - prefix.len());
                match buf.iter().take(room).position(|&b| b == b'\n') {
                    Some(at) => {
                        line.extend_from_slice(&buf[..=at]);
                        (at + 1, true)
                    }
                    None => {
                        let take = buf.len().min(room);
                        line.extend_from_slice(&buf[..take]);
                        (take, line.len() - prefix.len() >= MAX_TAGGED_LINE)
                    }
                }
            }
        };
        reader.consume(used);
        if complete {
            if line.last() != Some(&b'\n') {
                line.push(b'\n');
            }
            emit(&line);
            line.truncate(prefix.len());
        }
    }
    if line.len() > prefix.len() {
        line.push(b'\n');
        emit(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(input: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        tag_lines(input, "t | ", |l| lines.push(l.to_vec()));
        lines
    }

    #[test]
    fn lines_are_prefixed_and_the_last_one_completed() {
        assert_eq!(
            tagged(b"a\nb\n\nc"),
            [b"t | a\n".to_vec(), b"t | b\n".to_vec(), b"t | \n".to_vec(), b"t | c\n".to_vec()]
        );
        assert!(tagged(b"").is_empty());
    }

    #[test]
    fn a_huge_line_is_passed_on_in_bounded_pieces() {
        let input = vec![b'x'; MAX_TAGGED_LINE * 2 + 10];
        let lines = tagged(&input);
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.len() <= MAX_TAGGED_LINE + 5));
        let total: usize = lines.iter().map(|l| l.len() - 5).sum();
        assert_eq!(total, input.len());
    }
}
