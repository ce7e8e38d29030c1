//! One stream of a task's output, as batchrun holds it until it is printed: in memory, within a
//! budget that every task shares, and past that budget in a temporary file.
//!
//! The tasks write into pipes that their worker reads as data comes. A buffer is reused from task
//! to task, so its pages are paid for once. The earlier design let the child write straight into
//! a spool file, truncated for each task; the kernel then allocates a page per 4 KiB written and
//! frees it again at the truncation, which made grouped output of 1 MB per task cost twice what
//! `xargs` does (see PERFORMANCE.md). Pipes also keep a task's output whole when it reopens
//! `/dev/stdout` or `/dev/stderr` (`echo oops > /dev/stderr`): on a file, that truncates what it
//! wrote before.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::io::Errno;

/// How much memory the buffers of all tasks may hold together; output past it is spilled.
pub const MEMORY_BUDGET: usize = 16 << 20;
/// A buffer larger than this is freed after its task rather than kept for the next one, so one
/// task that printed much does not keep the budget from the others.
const KEPT_CAPACITY: usize = 4 << 20;
/// The least room a buffer has before each read: the size of a default pipe.
const CHUNK: usize = 64 << 10;

/// The bytes of buffer capacity that may still be allocated.
#[derive(Debug)]
pub struct Budget {
    used: AtomicUsize,
    limit: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget { used: AtomicUsize::new(0), limit }
    }

    fn take(&self, bytes: usize) -> bool {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before + bytes > self.limit {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// A stream's output: the first part in `memory`, the rest (if the budget ran out) in `spill`.
#[derive(Debug, Default)]
pub struct Collected {
    memory: Vec<u8>,
    spill: Option<File>,
    /// Bytes of this attempt in `spill`; once non-zero, everything new goes there, in order.
    spilled: u64,
    /// Output that could not be kept (no room for the spill file): why, and how many bytes.
    /// The pipe is still read to its end, so the task is not killed by a closed pipe.
    lost: Option<(io::Error, u64)>,
}

impl Collected {
    /// Empties it for the next attempt, keeping the buffer (unless it grew too large).
    pub fn reset(&mut self, budget: &Budget) -> io::Result<()> {
        self.memory.clear();
        if self.memory.capacity() > KEPT_CAPACITY {
            budget.give_back(self.memory.capacity());
            self.memory = Vec::new();
        }
        if self.spilled > 0
            && let Some(spill) = &mut self.spill
        {
            spill.set_len(0)?;
            spill.seek(SeekFrom::Start(0))?;
        }
        self.spilled = 0;
        self.lost = None;
        Ok(())
    }

    /// Why part of it could not be kept, and how many bytes, if any were lost.
    pub fn lost(&self) -> Option<(&io::Error, u64)> {
        self.lost.as_ref().map(|(e, n)| (e, *n))
    }

    /// Gives the buffer's memory back to the budget (the buffer is being dropped).
    pub fn release(&mut self, budget: &Budget) {
        budget.give_back(self.memory.capacity());
        self.memory = Vec::new();
    }

    /// Reads what `pipe` (non-blocking) holds now. Returns `Ok(false)` once the pipe has ended.
    pub fn read_from(&mut self, pipe: impl AsFd, budget: &Budget) -> io::Result<bool> {
        loop {
            // A stream that has had no output yet is read into the stack first: most tasks print
            // little or nothing, and their buffers need not grow to a whole chunk.
            if self.spilled == 0 && self.memory.capacity() > 0 && self.grow_for(CHUNK, budget) {
                match rustix::io::read(&pipe, rustix::buffer::spare_capacity(&mut self.memory)) {
                    Ok(0) => return Ok(false),
                    Ok(_) | Err(Errno::INTR) => continue,
                    Err(Errno::AGAIN) => return Ok(true),
                    Err(e) => return Err(e.into()),
                }
            }
            // Uninitialised: most reads here find an empty stream, and need no page of it.
            let mut chunk = [MaybeUninit::<u8>::uninit(); CHUNK];
            match rustix::io::read(&pipe, &mut chunk) {
                Ok(([], _)) => return Ok(false),
                Ok((read, _)) => self.append(read, budget)?,
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return Ok(true),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Appends `bytes` (tagged mode, whose reader threads see the output line by line).
    pub fn append(&mut self, bytes: &[u8], budget: &Budget) -> io::Result<()> {
        if self.spilled == 0 && self.grow_for(bytes.len(), budget) {
            self.memory.extend_from_slice(bytes);
            return Ok(());
        }
        self.spill(bytes)
    }

    /// Makes room for `bytes` more; false when the budget allows no more.
    fn grow_for(&mut self, bytes: usize, budget: &Budget) -> bool {
        let (len, capacity) = (self.memory.len(), self.memory.capacity());
        if capacity - len >= bytes {
            return true;
        }
        let wanted = (capacity * 2).max(len + bytes).max(CHUNK);
        if !budget.take(wanted - capacity) {
            return false;
        }
        self.memory.reserve_exact(wanted - len);
        // The allocator may round up; what it really gave counts too.
        budget.used.fetch_add(self.memory.capacity() - wanted, Ordering::Relaxed);
        true
    }

    /// Appends to the spill file. When that fails (a full or missing `TMPDIR`), the rest of
    /// the attempt's output is counted as lost rather than kept out of order.
    fn spill(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some((_, lost)) = &mut self.lost {
            *lost += bytes.len() as u64;
            return Ok(());
        }
        if self.spill.is_none() {
            match tempfile::tempfile() {
                Ok(file) => self.spill = Some(file),
                Err(e) => {
                    self.lost = Some((e, bytes.len() as u64));
                    return Ok(());
                }
            }
        }
        let Some(spill) = &mut self.spill else { return Ok(()) };
        let mut written = 0;
        while written < bytes.len() {
            match spill.write(&bytes[written..]) {
                Ok(0) => {
                    self.lost = Some((io::ErrorKind::WriteZero.into(), (bytes.len() - written) as u64));
                    break;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.lost = Some((e, (bytes.len() - written) as u64));
                    break;
                }
            }
        }
        self.spilled += written as u64;
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.memory.len() as u64 + self.spilled
    }

    /// Writes it all to `out`: the memory part, then the spilled part.
    pub fn write_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&self.memory)?;
        if let Some(spill) = &mut self.spill
            && self.spilled > 0
        {
            spill.seek(SeekFrom::Start(0))?;
            io::copy(&mut spill.take(self.spilled), out)?;
        }
        Ok(())
    }

    /// Its first `bytes` bytes (or all of it when shorter).
    pub fn first_bytes(&mut self, bytes: u64) -> Vec<u8> {
        let from_memory = usize::try_from(bytes).unwrap_or(usize::MAX).min(self.memory.len());
        let mut first = self.memory[..from_memory].to_vec();
        let from_spill = (bytes - from_memory as u64).min(self.spilled);
        if let Some(spill) = &mut self.spill
            && from_spill > 0
        {
            let read = spill.seek(SeekFrom::Start(0)).and_then(|_| spill.take(from_spill).read_to_end(&mut first));
            if read.is_err() {
                first.truncate(from_memory);
            }
        }
        first
    }

    /// Its last `bytes` bytes (or all of it when shorter).
    pub fn last_bytes(&mut self, bytes: u64) -> Vec<u8> {
        let from_spill = self.spilled.min(bytes);
        let from_memory = usize::try_from(bytes - from_spill).unwrap_or(usize::MAX).min(self.memory.len());
        let mut last = self.memory[self.memory.len() - from_memory..].to_vec();
        if let Some(spill) = &mut self.spill
            && from_spill > 0
        {
            let read = spill
                .seek(SeekFrom::Start(self.spilled - from_spill))
                .and_then(|_| spill.take(from_spill).read_to_end(&mut last));
            if read.is_err() {
                last.clear();
            }
        }
        last
    }
}

impl crate::evidence::Source for Collected {
    fn size(&self) -> u64 {
        Collected::len(self)
    }
    fn first(&mut self, bytes: u64) -> Vec<u8> {
        self.first_bytes(bytes)
    }
    fn last(&mut self, bytes: u64) -> Vec<u8> {
        self.last_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(c: &mut Collected) -> Vec<u8> {
        let mut out = Vec::new();
        c.write_to(&mut out).unwrap();
        out
    }

    #[test]
    fn output_past_the_budget_is_spilled_in_order() {
        let budget = Budget::new(CHUNK);
        let mut c = Collected::default();
        let bytes: Vec<u8> = (0..CHUNK * 3).map(|i| (i % 251) as u8).collect();
        for piece in bytes.chunks(1000) {
            c.append(piece, &budget).unwrap();
        }
        assert!(c.spilled > 0, "a budget of one chunk cannot hold three");
        assert_eq!(c.len(), bytes.len() as u64);
        assert_eq!(contents(&mut c), bytes);
        assert_eq!(c.last_bytes(10), bytes[bytes.len() - 10..]);
        assert_eq!(c.last_bytes(CHUNK as u64 * 2 + 5), bytes[bytes.len() - CHUNK * 2 - 5..]);
    }

    #[test]
    fn output_that_cannot_be_spilled_is_counted_as_lost_and_reading_goes_on() {
        let budget = Budget::new(CHUNK);
        let mut c = Collected { spill: Some(File::open("/dev/null").unwrap()), ..Collected::default() };
        let bytes = vec![7u8; CHUNK * 2];
        for piece in bytes.chunks(1000) {
            c.append(piece, &budget).unwrap();
        }
        let (error, lost) = c.lost().expect("a read-only spill file loses what it cannot take");
        assert_eq!(error.raw_os_error(), Some(libc::EBADF));
        assert_eq!(c.memory.len() as u64 + lost, bytes.len() as u64, "what was not kept is counted");
        c.reset(&budget).unwrap();
        assert!(c.lost().is_none());
    }

    #[test]
    fn a_pipe_is_read_until_it_ends_and_the_buffer_is_reused() {
        let budget = Budget::new(MEMORY_BUDGET);
        let mut c = Collected::default();
        for round in 0..2u8 {
            let (reader, mut writer) = io::pipe().unwrap();
            rustix::fs::fcntl_setfl(&reader, rustix::fs::OFlags::NONBLOCK).unwrap();
            assert!(c.read_from(&reader, &budget).unwrap(), "an empty open pipe has not ended");
            writer.write_all(&[round; 1000]).unwrap();
            drop(writer);
            assert!(!c.read_from(&reader, &budget).unwrap());
            assert_eq!(contents(&mut c), vec![round; 1000]);
            let capacity = c.memory.capacity();
            c.reset(&budget).unwrap();
            assert_eq!((c.len(), c.memory.capacity()), (0, capacity));
        }
        c.release(&budget);
        assert_eq!(budget.used.load(Ordering::Relaxed), 0);
    }
}
