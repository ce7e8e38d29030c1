//! Which job file a state folder belongs to, and which folders batchrun may use.
//!
//! Every state folder batchrun makes holds a mark, `owner.json`: its format version, the job
//! file's canonical path and its `name:`. A folder whose mark names another job file is never
//! used; one without a mark is adopted only when it is empty or holds batchrun's own layout
//! alone with a journal batchrun can read (what earlier releases made), so a folder of the
//! user's given as `--state-dir` is refused rather than written over. A job file that was moved
//! or renamed keeps its folder when its `name:` is the same and the file the mark names is gone.
//! Editing the job file changes nothing: the mark names the file, not its contents.

use std::io::{self, BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dir::{Dir, Kind, Open};

/// The mark's name in the state folder.
pub const MARK: &str = "owner.json";
const VERSION: u32 = 1;

/// A job file, as a state folder's mark names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Canonical: the same file under any spelling or link.
    pub job_file: PathBuf,
    pub name: String,
}

impl Owner {
    pub fn of(job_file: &Path, name: &str) -> Owner {
        let job_file = std::fs::canonicalize(job_file)
            .or_else(|_| std::path::absolute(job_file))
            .unwrap_or_else(|_| job_file.to_path_buf());
        Owner { job_file, name: name.to_owned() }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Mark {
    v: u32,
    job_file: PathBuf,
    name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state folder {0} is a file, not a folder: choose another with --state-dir DIR")]
    NotAFolder(PathBuf),
    #[error(
        "the state folder {path} belongs to {other}, not to this job file: give this one a folder of its own with --state-dir DIR, or a `name:` of its own (if the folder was copied from there with the project, delete the copy)"
    )]
    Foreign { path: PathBuf, other: PathBuf },
    #[error(
        "the state folder {path} holds what batchrun did not make ({found}): it uses only an empty folder or one of its own; choose another with --state-dir DIR"
    )]
    NotOurs { path: PathBuf, found: String },
    #[error(
        "the state folder {path} belongs to another user (uid {uid}): choose a folder of your own with --state-dir DIR"
    )]
    OtherUser { path: PathBuf, uid: u32 },
    #[error(
        "cannot use the state folder {path}: {source}; choose another with --state-dir DIR, or run with --no-journal"
    )]
    Io { path: PathBuf, source: io::Error },
}

impl StateError {
    pub fn io(path: &Path, source: io::Error) -> StateError {
        StateError::Io { path: path.to_path_buf(), source }
    }
}

/// Why the folder at `path` could not be opened.
pub fn unusable(path: &Path, e: io::Error) -> StateError {
    if e.kind() == io::ErrorKind::NotADirectory && path.exists() {
        return StateError::NotAFolder(path.to_path_buf());
    }
    StateError::io(path, e)
}

/// Checks that `dir` may be used by `owner`'s job file; with `write`, marks a folder it adopts
/// (and updates the mark of a moved job file).
pub fn check(dir: &Dir, owner: &Owner, write: bool) -> Result<(), StateError> {
    let path = dir.path();
    let io_error = |e| StateError::io(path, e);
    let uid = dir.owner().map_err(io_error)?;
    if uid != rustix::process::geteuid().as_raw() {
        return Err(StateError::OtherUser { path: path.to_path_buf(), uid });
    }
    match dir.open(MARK, Open::Read) {
        Ok(file) => {
            let mut text = Vec::new();
            file.take(64 << 10).read_to_end(&mut text).map_err(io_error)?;
            let mark = match serde_json::from_slice::<Mark>(&text) {
                Ok(mark) if mark.v == VERSION => mark,
                _ => {
                    let found = format!("an {MARK} that is not batchrun's mark");
                    return Err(StateError::NotOurs { path: path.to_path_buf(), found });
                }
            };
            // The same file under another path (a bind mount) is the same owner.
            let same = |a: &Path, b: &Path| crate::same_file::id(a) == crate::same_file::id(b);
            if mark.job_file == owner.job_file || same(&mark.job_file, &owner.job_file) {
                return Ok(());
            }
            if mark.name == owner.name && !mark.job_file.exists() {
                return if write { self::write(dir, owner).map_err(io_error) } else { Ok(()) };
            }
            Err(StateError::Foreign { path: path.to_path_buf(), other: mark.job_file })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let strange = not_batchrun_s(dir).map_err(io_error)?;
            if !strange.is_empty() {
                let mut found = strange.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
                if strange.len() > 3 {
                    found.push_str(&format!(" and {} more", strange.len() - 3));
                }
                return Err(StateError::NotOurs { path: path.to_path_buf(), found });
            }
            if write { self::write(dir, owner).map_err(io_error) } else { Ok(()) }
        }
        Err(e) => Err(io_error(e)),
    }
}

/// What in an unmarked folder is not batchrun's layout: names it does not use, names of the
/// wrong kind, and a journal it cannot read.
fn not_batchrun_s(dir: &Dir) -> io::Result<Vec<String>> {
    let mut strange = Vec::new();
    for (name, kind) in dir.entries()? {
        match super::LAYOUT.iter().find(|(n, _)| *n == name) {
            Some((_, expected)) if *expected == kind => {}
            _ if kind == Kind::Link => strange.push(format!("the link {name}")),
            _ => strange.push(name),
        }
    }
    if strange.is_empty() && !journal_is_readable(dir)? {
        strange.push("a journal.jsonl that is not a batchrun journal".into());
    }
    Ok(strange)
}

/// Whether the folder's journal, if any, starts with a record batchrun wrote.
fn journal_is_readable(dir: &Dir) -> io::Result<bool> {
    let file = match dir.open(super::JOURNAL, Open::Read) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e),
    };
    let mut first = Vec::new();
    io::BufReader::new(file.take(1 << 20)).read_until(b'\n', &mut first)?;
    if first.is_empty() {
        return Ok(true);
    }
    Ok(serde_json::from_slice::<crate::journal::record::Record>(&first)
        .is_ok_and(|r| r.version() == crate::journal::record::VERSION))
}

/// Writes `owner`'s mark into `dir`.
pub fn write(dir: &Dir, owner: &Owner) -> io::Result<()> {
    let mark = Mark { v: VERSION, job_file: owner.job_file.clone(), name: owner.name.clone() };
    let mut file = dir.open(MARK, Open::Replace)?;
    serde_json::to_writer(&mut file, &mark)?;
    file.write_all(b"\n")
}

/// Keeps the `.batchrun` folder that holds state folders out of git: a `.gitignore` holding
/// `*` in it, unless there is one already.
pub fn ignored_by_git(folder: &Dir) {
    if let Ok(mut file) = folder.open(".gitignore", Open::New) {
        let _ = file.write_all(b"*\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(dir: &Path, file: &str, name: &str) -> Owner {
        let path = dir.join(file);
        std::fs::write(&path, "jobs: {}\n").unwrap();
        Owner::of(&path, name)
    }

    #[test]
    fn a_folder_is_marked_and_then_refused_to_another_job_file() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let (a, b) = (owner(tmp.path(), "a.yaml", "x"), owner(tmp.path(), "b.yaml", "x"));
        let dir = Dir::at(&state).unwrap();
        check(&dir, &a, true).unwrap();
        check(&dir, &a, true).unwrap();
        let refused = check(&dir, &b, true).unwrap_err().to_string();
        assert!(refused.contains("a.yaml, not to this job file") && refused.contains("--state-dir"), "{refused}");
        // The same file under another name (as a bind mount shows it) is the same owner.
        std::fs::hard_link(&a.job_file, tmp.path().join("a-again.yaml")).unwrap();
        check(&dir, &Owner::of(&tmp.path().join("a-again.yaml"), "x"), true).unwrap();
        // a.yaml moved away, b.yaml has its name: it takes the folder over.
        std::fs::remove_file(&a.job_file).unwrap();
        check(&dir, &b, true).unwrap();
        let c = owner(tmp.path(), "c.yaml", "other");
        assert!(matches!(check(&dir, &c, true), Err(StateError::Foreign { .. })));
    }

    #[test]
    fn an_unmarked_folder_is_adopted_only_with_batchrun_s_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let a = owner(tmp.path(), "a.yaml", "a");
        let ours = tmp.path().join("ours");
        std::fs::create_dir_all(ours.join("logs/j")).unwrap();
        std::fs::write(
            ours.join("journal.jsonl"),
            "{\"type\":\"run\",\"v\":1,\"name\":\"a\",\"at\":\"x\",\"resume\":false}\n",
        )
        .unwrap();
        std::fs::write(ours.join("lock"), "").unwrap();
        check(&Dir::at(&ours).unwrap(), &a, false).unwrap();
        assert!(!ours.join(MARK).exists(), "a read-only check writes nothing");
        check(&Dir::at(&ours).unwrap(), &a, true).unwrap();
        assert!(ours.join(MARK).exists());

        let theirs = tmp.path().join("theirs");
        std::fs::create_dir_all(theirs.join("slurm/journals")).unwrap();
        std::fs::write(theirs.join("notes.txt"), "mine").unwrap();
        let refused = check(&Dir::at(&theirs).unwrap(), &a, true).unwrap_err().to_string();
        assert!(refused.contains("(notes.txt)"), "{refused}");
        std::fs::remove_file(theirs.join("notes.txt")).unwrap();
        std::fs::write(theirs.join("journal.jsonl"), "my own lines\n").unwrap();
        let refused = check(&Dir::at(&theirs).unwrap(), &a, true).unwrap_err().to_string();
        assert!(refused.contains("not a batchrun journal"), "{refused}");
        assert!(!theirs.join(MARK).exists());
    }
}
