//! Following a journal another process appends to: each call reads the complete lines added
//! since the last one. Reopened every time, so it works on network filesystems, where a file
//! kept open may not show another node's appends.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use crate::journal::record::Record;
use crate::state_dir::{Open, StateDir};

pub struct Tail {
    state: StateDir,
    path: PathBuf,
    offset: u64,
    /// The start of a line not yet complete.
    partial: Vec<u8>,
}

impl Tail {
    pub fn new(state: StateDir, path: PathBuf) -> Tail {
        Tail { state, path, offset: 0, partial: Vec::new() }
    }

    /// The records completed since the last call; none while the file does not exist.
    pub fn read_new(&mut self) -> Vec<Record> {
        let mut bytes = std::mem::take(&mut self.partial);
        // A read that fails (the file is being replaced, a network hiccup) is tried next time.
        let _ = self.read_more(&mut bytes);
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        self.partial = bytes.split_off(complete);
        bytes
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .filter_map(|line| serde_json::from_slice::<Record>(line).ok())
            .collect()
    }

    fn read_more(&mut self, bytes: &mut Vec<u8>) -> io::Result<()> {
        let mut file = match self.state.open(&self.path, Open::Read) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        file.seek(SeekFrom::Start(self.offset))?;
        let read = file.read_to_end(bytes)?;
        self.offset += read as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn only_complete_lines_are_read_and_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut tail = Tail::new(StateDir::claimed(dir.path()), path.clone());
        assert!(tail.read_new().is_empty(), "no file yet");
        let line = r#"{"type":"run","v":1,"name":"n","at":"t","resume":false}"#;
        let mut f = std::fs::File::create(&path).unwrap();
        write!(f, "{line}\n{}", &line[..10]).unwrap();
        assert_eq!(tail.read_new().len(), 1);
        assert!(tail.read_new().is_empty());
        writeln!(f, "{}", &line[10..]).unwrap();
        assert_eq!(tail.read_new().len(), 1, "the line completed later");
        assert!(tail.read_new().is_empty());
    }
}
