//! Finding a program named without a slash: one PATH search per worker and program, not one
//! per task.
//!
//! Spawned by name, a program is looked for by the child (`posix_spawnp`), which tries `execve`
//! in each PATH directory in turn: with this machine's PATH, eight failed `execve`s before
//! `/usr/bin/true`, for every task. A worker looks each program up once, then spawns it by its
//! full path and keeps the name as `argv[0]`, so the program sees what it would have seen. A
//! task whose environment sets PATH is looked up in that PATH. A PATH with a relative or empty
//! directory, which means something different in each task's working directory, is left to the
//! spawn, as is a program that is not found (so that its error is the usual one).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// A worker's programs found so far, by the PATH they were looked up in and their name.
#[derive(Default)]
pub struct Programs {
    found: HashMap<(Option<OsString>, String), PathBuf>,
}

impl Programs {
    /// The full path to spawn `name` by, or `None` to let the spawn search PATH itself. `path`
    /// is the task's own PATH when its environment sets one.
    pub fn locate(&mut self, name: &str, path: Option<&OsStr>) -> Option<&Path> {
        let key = (path.map(OsStr::to_owned), name.to_owned());
        // One `access` per task checks that it is still there: far cheaper than the failed
        // `execve`s it saves, each of which builds a new address space before it fails.
        if self.found.get(&key).is_some_and(|found| !executable(found)) {
            self.found.remove(&key);
        }
        if !self.found.contains_key(&key) {
            let inherited;
            let path = match path {
                Some(path) => path,
                None => {
                    inherited = std::env::var_os("PATH")?;
                    &inherited
                }
            };
            let found = search(name, path)?;
            self.found.insert(key.clone(), found);
        }
        self.found.get(&key).map(PathBuf::as_path)
    }
}

fn executable(file: &Path) -> bool {
    rustix::fs::access(file, rustix::fs::Access::EXEC_OK).is_ok()
}

/// Where `execvp` would find `name` in `path`: the first directory holding an executable file
/// of that name. `None` when it is not found, or when the answer would depend on the working
/// directory (a name with a slash, or a relative directory in PATH).
fn search(name: &str, path: &OsStr) -> Option<PathBuf> {
    if name.is_empty() || name.contains('/') {
        return None;
    }
    for dir in std::env::split_paths(path) {
        if !dir.is_absolute() {
            return None;
        }
        let candidate = dir.join(name);
        if std::fs::metadata(&candidate).is_ok_and(|m| m.is_file()) && executable(&candidate) {
            return Some(candidate);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn file(path: &Path, mode: u32) {
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_first_executable_file_in_path_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
        for d in [&a, &b, &c] {
            std::fs::create_dir(d).unwrap();
        }
        file(&a.join("tool"), 0o644); // not executable: skipped, as execvp skips it
        std::fs::create_dir(b.join("tool")).unwrap(); // a directory: skipped
        file(&c.join("tool"), 0o755);
        let path = std::env::join_paths([&a, &b, &c]).unwrap();
        assert_eq!(search("tool", &path), Some(c.join("tool")));
        assert_eq!(search("missing", &path), None);
    }

    #[test]
    fn what_depends_on_the_working_directory_is_left_to_the_spawn() {
        let dir = tempfile::tempdir().unwrap();
        file(&dir.path().join("tool"), 0o755);
        let absolute = dir.path().as_os_str();
        assert_eq!(search("tool", absolute), Some(dir.path().join("tool")));
        assert_eq!(search("./tool", absolute), None);
        assert_eq!(search("sub/tool", absolute), None);
        let relative_first = std::env::join_paths([Path::new("bin"), dir.path()]).unwrap();
        assert_eq!(search("tool", &relative_first), None);
    }

    #[test]
    fn a_task_path_is_looked_up_apart_from_the_inherited_one() {
        let dir = tempfile::tempdir().unwrap();
        file(&dir.path().join("only-here"), 0o755);
        let mut programs = Programs::default();
        assert_eq!(programs.locate("only-here", Some(dir.path().as_os_str())), Some(&*dir.path().join("only-here")));
        assert_eq!(programs.locate("only-here", None), None, "not in the inherited PATH");
    }

    #[test]
    fn a_program_that_went_away_is_searched_again() {
        let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        file(&first.path().join("tool"), 0o755);
        file(&second.path().join("tool"), 0o755);
        let path = std::env::join_paths([first.path(), second.path()]).unwrap();
        let mut programs = Programs::default();
        assert_eq!(programs.locate("tool", Some(&path)), Some(&*first.path().join("tool")));
        std::fs::remove_file(first.path().join("tool")).unwrap();
        assert_eq!(programs.locate("tool", Some(&path)), Some(&*second.path().join("tool")));
    }
}
