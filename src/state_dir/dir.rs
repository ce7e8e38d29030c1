//! A folder held by its descriptor, whose entries are opened one name at a time without
//! following symbolic links (`openat` with `O_NOFOLLOW`). A link planted inside the state
//! folder (on a shared filesystem, by anyone who can write there) is then an error that names
//! it, never a way to make batchrun write over, truncate or read another file.
//!
//! Files opened for writing must also be plain files of the user's with one name: a hard link
//! to someone else's file would otherwise be written through as a symbolic link would.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// Mode of the folders batchrun creates: the user's alone (the umask may narrow it further).
pub const FOLDER_MODE: u32 = 0o700;
/// Mode of the files it creates, narrowed by the umask (the folder already keeps others out).
const FILE_MODE: u32 = 0o666;

/// How [`Dir::open`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    Read,
    /// Created if missing, written at its end.
    Append,
    /// Created if missing, emptied.
    Replace,
    /// Created if missing, left as it is (a lock).
    Keep,
    /// Created, and an error if it exists.
    New,
}

impl Open {
    fn creates(self) -> bool {
        self != Open::Read
    }
}

/// What an entry of a folder is, as seen without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Folder,
    Link,
    Other,
}

#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// The folder `path` as named (links in the path itself are the user's to choose).
    pub fn at(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::open(path, OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(Dir { fd, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the folder was deleted since it was opened.
    pub fn deleted(&self) -> bool {
        rustix::fs::fstat(&self.fd).is_ok_and(|s| s.st_nlink == 0)
    }

    /// The folder's owner.
    pub fn owner(&self) -> io::Result<u32> {
        Ok(rustix::fs::fstat(&self.fd)?.st_uid)
    }

    /// The folder `name` in this one, created first (mode 0700) when `create`.
    pub fn folder(&self, name: &str, create: bool) -> io::Result<Dir> {
        if create {
            match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(FOLDER_MODE)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(self.explain(name, e)),
            }
        }
        let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty()).map_err(|e| self.explain(name, e))?;
        Ok(Dir { fd, path: self.path.join(name) })
    }

    /// The file `name` in this folder, opened as `how` says.
    pub fn open(&self, name: &str, how: Open) -> io::Result<File> {
        // Non-blocking, so that a FIFO planted under the name is refused below instead of
        // waiting for a writer (it changes nothing for a regular file).
        let mut flags = OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        flags |= match how {
            Open::Read => OFlags::RDONLY,
            Open::Append => OFlags::RDWR | OFlags::APPEND,
            Open::Replace | Open::Keep => OFlags::RDWR,
            Open::New => OFlags::RDWR | OFlags::EXCL,
        };
        if how.creates() {
            flags |= OFlags::CREATE;
        }
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(FILE_MODE))
            .map_err(|e| self.explain(name, e))?;
        let stat = rustix::fs::fstat(&fd)?;
        let path = self.path.join(name);
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(io::Error::other(format!("{} is not a file", path.display())));
        }
        if how.creates() {
            if stat.st_uid != rustix::process::geteuid().as_raw() {
                return Err(io::Error::other(format!("{} belongs to another user", path.display())));
            }
            if stat.st_nlink > 1 {
                return Err(io::Error::other(format!(
                    "{} has other names (hard links): batchrun writes only files of its own",
                    path.display()
                )));
            }
        }
        if how == Open::Replace {
            rustix::fs::ftruncate(&fd, 0)?;
        }
        Ok(File::from(fd))
    }

    /// Renames `from` to `to`, both in this folder (a link is renamed, never followed).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(|e| self.explain(from, e))
    }

    /// Removes the file `name`; one already gone is not an error.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(self.explain(name, e)),
        }
    }

    /// Removes the folder `name` if it is empty; one not empty or gone is left.
    pub fn remove_empty_folder(&self, name: &str) {
        let _ = rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR);
    }

    /// What `name` is, not following it; `None` when there is no such entry.
    pub fn kind(&self, name: &str) -> io::Result<Option<Kind>> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(match FileType::from_raw_mode(stat.st_mode) {
                FileType::RegularFile => Kind::File,
                FileType::Directory => Kind::Folder,
                FileType::Symlink => Kind::Link,
                _ => Kind::Other,
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(self.explain(name, e)),
        }
    }

    /// The names in this folder (not `.` and `..`), with what each is.
    pub fn entries(&self) -> io::Result<Vec<(String, Kind)>> {
        let mut entries = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                continue;
            }
            if let Some(kind) = self.kind(&name)? {
                entries.push((name, kind));
            }
        }
        Ok(entries)
    }

    /// The error of an operation on `name`, saying so when it is a link batchrun did not follow.
    fn explain(&self, name: &str, e: Errno) -> io::Error {
        let path = self.path.join(name);
        // O_NOFOLLOW says ELOOP; O_DIRECTORY, ENOTDIR; O_EXCL, EEXIST: whatever the call, a
        // link under the name is what to say.
        let link = e == Errno::LOOP
            || (e != Errno::NOENT
                && rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink));
        if link {
            return io::Error::other(format!(
                "{} is a symbolic link, and batchrun follows no link inside its state folder: remove it",
                path.display()
            ));
        }
        let e = io::Error::from(e);
        io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_errors_that_name_them_and_hard_links_are_not_written() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "keep").unwrap();
        let state = tmp.path().join("state");
        std::fs::create_dir(&state).unwrap();
        std::os::unix::fs::symlink(&outside, state.join("lock")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), state.join("logs")).unwrap();
        std::fs::hard_link(&outside, state.join("journal.jsonl")).unwrap();
        let dir = Dir::at(&state).unwrap();
        for how in [Open::Read, Open::Append, Open::Replace, Open::Keep, Open::New] {
            let e = dir.open("lock", how).unwrap_err().to_string();
            assert!(e.contains("lock is a symbolic link"), "{how:?}: {e}");
        }
        let e = dir.folder("logs", true).unwrap_err().to_string();
        assert!(e.contains("logs is a symbolic link"), "{e}");
        let e = dir.open("journal.jsonl", Open::Replace).unwrap_err().to_string();
        assert!(e.contains("has other names"), "{e}");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        assert_eq!(dir.kind("logs").unwrap(), Some(Kind::Link));
    }

    #[test]
    fn folders_are_made_for_the_user_alone() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::at(tmp.path()).unwrap();
        let logs = dir.folder("logs", true).unwrap();
        let mode = std::fs::metadata(logs.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !FOLDER_MODE, 0, "{mode:o}");
        logs.open("a.out", Open::New).unwrap();
        assert!(logs.open("a.out", Open::New).is_err());
        assert_eq!(dir.entries().unwrap(), [("logs".to_owned(), Kind::Folder)]);
    }
}
