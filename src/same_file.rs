//! Which paths name the same file, so that what a run writes (its reports) is never written
//! over what it reads (the job file, items files) or keeps (the state folder).
//!
//! A file that exists is known by its device and inode, the same under any name, hard link
//! or symbolic link. A file that does not exist yet is known by where it would be created:
//! its folder, resolved through links, and its name.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileId {
    Inode { dev: u64, ino: u64 },
    Planned(PathBuf),
}

/// The file `path` names (see the module's doc). A link to a file not written yet names the
/// file it will be written through.
pub fn id(path: &Path) -> FileId {
    let mut path = path.to_path_buf();
    // As many links as the kernel follows in one path.
    for _ in 0..40 {
        match std::fs::metadata(&path) {
            Ok(m) => return FileId::Inode { dev: m.dev(), ino: m.ino() },
            Err(_) => match std::fs::read_link(&path) {
                Ok(target) => path = path.parent().unwrap_or(Path::new("/")).join(target),
                Err(_) => break,
            },
        }
    }
    FileId::Planned(resolved(&path))
}

/// `path` as the filesystem resolves it: its longest existing ancestor made canonical, the rest
/// joined as written (`..` in the rest taken lexically).
pub fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut existing = absolute.as_path();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            let mut out = canonical;
            for part in rest.iter().rev() {
                match part {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(name) => out.push(name),
                    _ => {}
                }
            }
            return out;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Whether `path` is `dir` or lies within it, both resolved through links.
pub fn is_within(path: &Path, dir: &Path) -> bool {
    resolved(path).starts_with(resolved(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_links_and_planned_files_are_told_apart_or_matched() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("job.yaml");
        std::fs::write(&file, "x").unwrap();
        std::fs::hard_link(&file, dir.path().join("hard.yaml")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("again")).unwrap();
        assert_eq!(id(&file), id(&dir.path().join("hard.yaml")));
        assert_eq!(id(&file), id(&dir.path().join("again/./job.yaml")));
        assert_ne!(id(&file), id(&dir.path().join("other.yaml")));
        let planned = dir.path().join("again/new/../r.json");
        assert_eq!(id(&planned), id(&dir.path().join("r.json")));
        assert!(is_within(&dir.path().join("again/state/x/r.json"), &dir.path().join("state")));
        assert!(!is_within(&dir.path().join("state2/r.json"), &dir.path().join("state")));
        std::os::unix::fs::symlink("later/../gen.json", dir.path().join("dangling.json")).unwrap();
        assert_eq!(id(&dir.path().join("dangling.json")), id(&dir.path().join("gen.json")));
    }
}
