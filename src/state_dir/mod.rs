//! The state folder: the one place that names what batchrun keeps there, and the only way in.
//!
//! ```text
//! <state>/owner.json                         the mark: which job file the folder belongs to
//!         journal.jsonl                      the run's journal
//!         journal.jsonl.previous             the last run's, while a fresh run starts
//!         lock                               held by the run that uses the folder (its pid)
//!         logs/<job>/<index>.<attempt>.out   a task attempt's output (and .err)
//!         inputs/<host>.<pid>.<time>/<job>.items   a run's snapshots of items files
//!         slurm/manifests/<array>.json|.sh   what each Slurm array runs
//!         slurm/out/<id>_<element>.out       Slurm's output of each element
//!         slurm/journals/<array>.<element>.jsonl   each element's journal
//! ```
//!
//! A folder belongs to one job file ([`mark`]), and everything in it is opened from the
//! folder's own descriptor one name at a time, following no link ([`dir`]): paths below are
//! names for messages and for the programs batchrun starts (sbatch, the elements), and are
//! opened only through [`StateDir::open`] and [`StateDir::folder`].

pub mod dir;
pub mod mark;

use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use dir::{Dir, Kind, Open};
pub use mark::{Owner, StateError};

/// The folder beside a job file that holds its state folders.
pub const FOLDER: &str = ".batchrun";

/// The run's journal, the last run's while a fresh run starts, and the lock.
pub const JOURNAL: &str = "journal.jsonl";
pub const PREVIOUS_JOURNAL: &str = "journal.jsonl.previous";
pub const LOCK: &str = "lock";

/// The names batchrun keeps at the top of a state folder, and what each is: a folder holding
/// these alone is one batchrun made.
pub const LAYOUT: [(&str, Kind); 8] = [
    (mark::MARK, Kind::File),
    (JOURNAL, Kind::File),
    (PREVIOUS_JOURNAL, Kind::File),
    (LOCK, Kind::File),
    ("logs", Kind::Folder),
    ("inputs", Kind::Folder),
    ("slurm", Kind::Folder),
    (PRODUCTS, Kind::Folder),
];

/// Products being written, and written, by this run: one entry per product path (see
/// [`crate::run::product`]).
pub const PRODUCTS: &str = "products";

/// Where a state folder is.
#[derive(Debug, Clone)]
pub enum Location {
    /// A path the user gave (`--state-dir`): links in it are theirs to choose.
    Given(PathBuf),
    /// `.batchrun/<name>` beside the job file in this folder: those two names are batchrun's,
    /// so neither is followed if it is a link, and `.batchrun` must be the user's.
    Beside { job_dir: PathBuf, name: String },
}

impl Location {
    pub fn path(&self) -> PathBuf {
        match self {
            Location::Given(path) => std::path::absolute(path).unwrap_or_else(|_| path.clone()),
            Location::Beside { job_dir, name } => job_dir.join(FOLDER).join(name),
        }
    }

    /// Opens the folder by its path, making it (mode 0700) when `create`; beside a job file,
    /// `.batchrun` gets its `.gitignore`.
    fn open(&self, create: bool) -> io::Result<Dir> {
        match self {
            Location::Given(path) => {
                if create {
                    use std::os::unix::fs::DirBuilderExt as _;
                    match std::fs::DirBuilder::new().recursive(true).mode(dir::FOLDER_MODE).create(path) {
                        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                        _ => {}
                    }
                }
                Dir::at(&self.path())
            }
            Location::Beside { job_dir, name } => {
                let folder = Dir::at(job_dir)?.folder(FOLDER, create)?;
                if folder.owner()? != rustix::process::geteuid().as_raw() {
                    let message = format!("{} belongs to another user", folder.path().display());
                    return Err(io::Error::new(io::ErrorKind::PermissionDenied, message));
                }
                if create {
                    mark::ignored_by_git(&folder);
                }
                folder.folder(name, create)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct StateDir {
    location: Location,
    root: PathBuf,
    /// The job file the folder belongs to, when this process may create it: a folder deleted
    /// while the run goes on is made again, with its mark, by whatever next needs it.
    owner: Option<Owner>,
    /// The folder's descriptor once opened, shared by every copy and held for the whole run:
    /// a folder renamed away and replaced (by a link, by another folder) while the run goes on
    /// is not followed; only one deleted is looked up by its path again.
    held: Arc<Mutex<Option<Arc<Dir>>>>,
}

impl StateDir {
    fn new(location: Location, owner: Option<Owner>) -> StateDir {
        let root = location.path();
        StateDir { location, root, owner, held: Arc::default() }
    }

    /// The state folder of a run of `owner`'s job file: refused when it belongs to another job
    /// file or holds what batchrun did not make. One that does not exist yet is made, with its
    /// mark, when the run first needs it (a run whose plan fails leaves none).
    pub fn claim(location: Location, owner: Owner) -> Result<StateDir, StateError> {
        let state = StateDir::new(location, Some(owner.clone()));
        match state.location.open(false) {
            Ok(dir) => {
                mark::check(&dir, &owner, true)?;
                state.hold(dir);
                // A `.batchrun` made before it had a `.gitignore`.
                if let Location::Beside { job_dir, .. } = &state.location
                    && let Ok(folder) = Dir::at(job_dir).and_then(|d| d.folder(FOLDER, false))
                {
                    mark::ignored_by_git(&folder);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(mark::unusable(&state.root, e)),
        }
        Ok(state)
    }

    /// The state folder, to read what it holds (`status`, `--resume --dry-run`): `None` when
    /// there is none; refused as [`StateDir::claim`] refuses; never written.
    pub fn inspect(location: Location, owner: &Owner) -> Result<Option<StateDir>, StateError> {
        let state = StateDir::new(location, None);
        match state.location.open(false) {
            Ok(dir) => {
                mark::check(&dir, owner, false)?;
                state.hold(dir);
                Ok(Some(state))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(mark::unusable(&state.root, e)),
        }
    }

    /// A folder its run already claimed: a Slurm array element's, a test's.
    pub fn claimed(root: impl Into<PathBuf>) -> StateDir {
        StateDir::new(Location::Given(root.into()), None)
    }

    /// The state folder a Slurm manifest at `path` is in (`<state>/slurm/manifests/<name>`).
    pub fn of_manifest(path: &Path) -> StateDir {
        let root = path.ancestors().nth(3).unwrap_or(Path::new("/"));
        StateDir::claimed(root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The pid of the run that holds the folder's lock now, if one does.
    pub fn running(&self) -> Option<u32> {
        let mut lock = self.open(&self.lock(), Open::Read).ok()?;
        match lock.try_lock_shared() {
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                io::Read::read_to_string(&mut io::Read::take(&mut lock, 32), &mut pid).ok()?;
                pid.trim().parse().ok()
            }
            _ => None,
        }
    }

    fn hold(&self, dir: Dir) -> Arc<Dir> {
        let dir = Arc::new(dir);
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.clone());
        dir
    }

    /// The folder itself: the descriptor held since it was first opened, unless the folder was
    /// deleted; then it is looked up again, and made again with its mark when this process owns
    /// it (a folder found in its place must be this job file's).
    pub fn open_root(&self) -> io::Result<Arc<Dir>> {
        if let Some(dir) = self.held.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && !dir.deleted()
        {
            return Ok(dir.clone());
        }
        let dir = match (self.location.open(false), &self.owner) {
            (Err(e), Some(_)) if e.kind() == io::ErrorKind::NotFound => self.location.open(true)?,
            (opened, _) => opened?,
        };
        if let Some(owner) = &self.owner {
            mark::check(&dir, owner, true).map_err(|e| io::Error::other(e.to_string()))?;
        }
        Ok(self.hold(dir))
    }

    /// The folder at `path` in the state folder, made (with the folders above it) when `create`.
    pub fn folder(&self, path: &Path, create: bool) -> io::Result<Arc<Dir>> {
        let mut dir = self.open_root()?;
        for name in self.names(path)? {
            dir = Arc::new(dir.folder(&name, create)?);
        }
        Ok(dir)
    }

    /// The file at `path` in the state folder, opened as `how` says (its folders made when it
    /// may be created).
    pub fn open(&self, path: &Path, how: Open) -> io::Result<File> {
        let (folder, name) = self.split(path)?;
        self.folder(folder, how != Open::Read)?.open(&name, how)
    }

    /// `path`'s folder and name, for a path of a file in the state folder.
    pub fn split<'p>(&self, path: &'p Path) -> io::Result<(&'p Path, String)> {
        let name = path.file_name().and_then(|n| n.to_str()).map(str::to_owned);
        match (path.parent(), name) {
            (Some(folder), Some(name)) => Ok((folder, name)),
            _ => Err(self.outside(path)),
        }
    }

    /// The names leading from the root to `path`, which must lie in the state folder and take
    /// no `..` on the way.
    fn names(&self, path: &Path) -> io::Result<Vec<String>> {
        let rest = path.strip_prefix(&self.root).map_err(|_| self.outside(path))?;
        rest.components()
            .map(|c| match c {
                Component::Normal(name) => name.to_str().map(str::to_owned).ok_or_else(|| self.outside(path)),
                _ => Err(self.outside(path)),
            })
            .collect()
    }

    fn outside(&self, path: &Path) -> io::Error {
        io::Error::other(format!("{} is not a path in the state folder {}", path.display(), self.root.display()))
    }

    pub fn journal(&self) -> PathBuf {
        self.root.join(JOURNAL)
    }

    pub fn previous_journal(&self) -> PathBuf {
        self.root.join(PREVIOUS_JOURNAL)
    }

    pub fn lock(&self) -> PathBuf {
        self.root.join(LOCK)
    }

    pub fn products(&self) -> PathBuf {
        self.root.join(PRODUCTS)
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn inputs(&self) -> PathBuf {
        self.root.join("inputs")
    }

    pub fn slurm_manifests(&self) -> PathBuf {
        self.root.join("slurm").join("manifests")
    }

    pub fn slurm_output(&self) -> PathBuf {
        self.root.join("slurm").join("out")
    }

    pub fn shard_journals(&self) -> PathBuf {
        self.root.join("slurm").join("journals")
    }

    /// What the Slurm array named `array` runs: its manifest, and the script sbatch is given.
    pub fn manifest(&self, array: &str) -> PathBuf {
        self.slurm_manifests().join(format!("{array}.json"))
    }

    pub fn manifest_script(&self, array: &str) -> PathBuf {
        self.slurm_manifests().join(format!("{array}.sh"))
    }

    /// A run's own folder for its snapshots of items files.
    pub fn run_inputs(&self, host: &str, pid: u32, millis: u128) -> PathBuf {
        self.inputs().join(format!("{host}.{pid}.{millis}"))
    }

    /// Writes `bytes` as the file at `path`: under a temporary name beside it first, then
    /// renamed, so no reader (an element on another node) ever sees part of it.
    pub fn write_whole(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let (folder, name) = self.split(path)?;
        let dir = self.folder(folder, true)?;
        let partial = partial_name(&name);
        io::Write::write_all(&mut dir.open(&partial, Open::Replace)?, bytes)?;
        dir.rename(&partial, &name)
    }

    /// The journal of element `element` of the array named `array`.
    pub fn shard_journal(&self, array: &str, element: u64) -> PathBuf {
        self.shard_journals().join(format!("{array}.{element}.jsonl"))
    }
}

/// The name of the `n`th Slurm array of job `job` in the run tagged `tag` (digits), which
/// names its elements' journals ([`StateDir::shard_journal`]).
pub fn array_name(job: &str, tag: &str, n: usize) -> String {
    format!("{job}-{tag}-{n}")
}

/// The job whose array element wrote the shard journal named `name` (the inverse of
/// [`array_name`] and [`StateDir::shard_journal`]).
pub fn job_of_shard_journal(name: &str) -> Option<&str> {
    let (array, _element) = name.strip_suffix(".jsonl")?.rsplit_once('.')?;
    let (rest, _n) = array.rsplit_once('-')?;
    let (job, _tag) = rest.rsplit_once('-')?;
    Some(job)
}

/// Slurm's name for an element's output in [`StateDir::slurm_output`] (`%A` the array's id,
/// `%a` the element), for sbatch's `--output`.
pub const SLURM_OUTPUT_NAME: &str = "%A_%a.out";

/// A job's snapshot in a run's snapshot folder ([`StateDir::run_inputs`]).
pub fn snapshot(run_inputs: &Path, job: &str) -> PathBuf {
    run_inputs.join(format!("{job}.items"))
}

/// The name a file is written under before it is renamed to `name`.
pub fn partial_name(name: &str) -> String {
    format!("{name}.partial")
}

/// Where an attempt's output is logged: `<logs>/<job>/<index>.<attempt>`, with `.out` and
/// `.err` beside this stem.
pub fn log_stem(logs: &Path, job: &str, index: u64, attempt: u32) -> PathBuf {
    logs.join(job).join(format!("{index}.{attempt}"))
}

/// The stem's file for `ext` (`out` or `err`).
pub fn log_file(stem: &Path, ext: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Whatever a job is named, its elements' journals are found as its own.
        #[test]
        fn a_shard_journal_names_its_job(job in "[A-Za-z0-9_.-]{1,20}", tag in "[0-9]{1,13}", n in 0usize..9, element in 0u64..9999) {
            let state = StateDir::claimed("/state");
            let path = state.shard_journal(&array_name(&job, &tag, n), element);
            let name = path.file_name().unwrap().to_str().unwrap();
            prop_assert_eq!(job_of_shard_journal(name), Some(job.as_str()));
        }
    }

    use super::*;

    #[test]
    fn log_files_sit_beside_their_stem() {
        let stem = log_stem(Path::new("/s/logs"), "export", 3, 2);
        assert_eq!(stem, Path::new("/s/logs/export/3.2"));
        assert_eq!(log_file(&stem, "err"), Path::new("/s/logs/export/3.2.err"));
    }

    #[test]
    fn only_paths_inside_the_folder_are_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::claimed(tmp.path());
        for outside in [tmp.path().join("../x"), tmp.path().join("logs/../../x"), PathBuf::from("/etc/passwd")] {
            let e = state.open(&outside, Open::Read).unwrap_err().to_string();
            assert!(e.contains("is not a path in the state folder"), "{e}");
        }
        std::fs::write(tmp.path().join("lock"), "1").unwrap();
        assert!(state.open(&state.lock(), Open::Read).is_ok());
    }

    #[test]
    fn a_manifest_knows_its_state_folder() {
        let state = StateDir::claimed("/s/st");
        let manifest = state.slurm_manifests().join("a-1-0.json");
        assert_eq!(StateDir::of_manifest(&manifest).root(), Path::new("/s/st"));
    }
}
