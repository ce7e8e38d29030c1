//! A task's identity across runs: what `--resume` uses to recognise finished work.
//!
//! The key is a hash (xxh3, stable across platforms and versions, unlike std's `DefaultHasher`)
//! of the job's name, the rendered command, the working folder, the rendered environment and
//! the task's own bindings, plus the task's occurrence number among identical tasks of its job.
//! It never involves the task's position, so reordered items are still recognised, and a
//! changed command makes a new task.
//!
//! Counting occurrences needs to remember every key of a job; for a range, whose bindings
//! (`start`, `end`) differ for every task by construction, that is skipped, so a range of ten
//! million partitions is keyed in constant memory.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use xxhash_rust::xxh3::Xxh3;

use super::expand::Bindings;

pub fn base_key(job: &str, command: &str, cwd: &Path, env: &[(String, String)], bindings: &Bindings) -> u64 {
    let mut h = Xxh3::new();
    let field = |h: &mut Xxh3, bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(&mut h, job.as_bytes());
    field(&mut h, command.as_bytes());
    field(&mut h, cwd.as_os_str().as_encoded_bytes());
    for (k, v) in env {
        field(&mut h, k.as_bytes());
        field(&mut h, v.as_bytes());
    }
    for (k, v) in bindings {
        field(&mut h, k.as_bytes());
        // JSON text of the value, streamed into the hash, then a byte JSON never contains.
        let _ = serde_json::to_writer(HashWriter(&mut h), v);
        h.update(&[0xff]);
    }
    h.digest()
}

/// Feeds what is written into the hash, so values are hashed without building their text.
struct HashWriter<'a>(&'a mut Xxh3);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Turns base keys into keys, counting repeats where repeats are possible.
pub struct Occurrences(Option<Seen>);

/// Every base key seen once, in a set of bare hashes (about 9 bytes a task, so 100,000 items
/// take about 1 MB), and the count of the few seen again.
#[derive(Default)]
struct Seen {
    once: HashSet<u64, BuildHasherDefault<AlreadyHashed>>,
    again: HashMap<u64, u32>,
}

impl Occurrences {
    /// `unique`: the source cannot repeat a task (a range), so nothing needs remembering.
    pub fn new(unique: bool) -> Occurrences {
        Occurrences(if unique { None } else { Some(Seen::default()) })
    }

    pub fn key(&mut self, base: u64) -> u64 {
        let occurrence = match &mut self.0 {
            Some(seen) if seen.once.contains(&base) => {
                let n = seen.again.entry(base).or_insert(0);
                *n += 1;
                *n
            }
            Some(seen) => {
                seen.once.insert(base);
                0
            }
            None => 0,
        };
        if occurrence == 0 {
            base
        } else {
            xxhash_rust::xxh3::xxh3_64(&[base.to_le_bytes(), u64::from(occurrence).to_le_bytes()].concat())
        }
    }
}

/// Base keys are xxh3 hashes already: hashing them again would only cost time.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_content_not_position_and_count_repeats() {
        let a = base_key("j", "echo a", Path::new("/x"), &[], &Vec::new());
        let b = base_key("j", "echo b", Path::new("/x"), &[], &Vec::new());
        assert_ne!(a, b);
        assert_eq!(a, base_key("j", "echo a", Path::new("/x"), &[], &Vec::new()));
        assert_ne!(a, base_key("j", "echo a", Path::new("/y"), &[], &Vec::new()));
        let env = [("K".to_string(), "V".to_string())];
        assert_ne!(a, base_key("j", "echo a", Path::new("/x"), &env, &Vec::new()));
        let mut occ = Occurrences::new(false);
        let (first, second, third) = (occ.key(a), occ.key(a), occ.key(a));
        assert_eq!(first, a);
        assert_ne!(first, second);
        assert_ne!(second, third);
        assert_ne!(first, third);
        assert_eq!(occ.key(b), b);
    }

    #[test]
    fn the_key_of_a_known_input_is_stable() {
        // Journals outlive builds: this must never change.
        assert_eq!(
            crate::task_key::format(base_key("export", "true", Path::new("/"), &[], &Vec::new())),
            crate::task_key::format(base_key("export", "true", Path::new("/"), &[], &Vec::new()))
        );
        assert_eq!(crate::task_key::format(base_key("", "", Path::new(""), &[], &Vec::new())).len(), 16);
    }
}
