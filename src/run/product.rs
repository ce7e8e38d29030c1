//! A task's declared product: written to a temporary beside it, committed only when the
//! attempt succeeded, so that the final path exists only complete.
//!
//! Before an attempt starts, its product is entered in the state folder's registry (one entry
//! per product path, naming the temporary and the task), and the folders above it are made.
//! When the attempt succeeds, the temporary is synced, renamed into place and its folder
//! synced; the final path must then hold the temporary's inode (a shared filesystem may say a
//! rename failed that happened, or the reverse). An attempt that wrote no product failed; a
//! failed one leaves no final file and its temporary is removed. The registry lets a later run
//! remove the temporaries a killed batchrun left ([`sweep`]), and refuses a second task that
//! would commit the same path.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::events::Committed;
use crate::job_manifest::Owner;
use crate::plan::task::{Product, normal};
use crate::state_dir::{Open, StateDir};

/// A product's paths made absolute, as the attempt uses them.
pub struct Claimed {
    pub path: PathBuf,
    pub temp: PathBuf,
}

/// The registry entry of a product path.
fn entry(state: &StateDir, path: &Path) -> PathBuf {
    state.products().join(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(path.as_os_str().as_encoded_bytes())))
}

/// Readies task `key`'s product for an attempt run in `cwd`: claims its path in the registry
/// (refused when another task claimed it in this run), removes its job's manifest (the product
/// may be rebuilt), makes its folders and removes a temporary an earlier attempt left. A
/// product in the state folder, or that is the job file, is refused: it would overwrite what
/// the run keeps or reads.
pub fn prepare(state: &StateDir, product: &Product, cwd: &Path, key: u64, owner: &Owner) -> Result<Claimed, String> {
    let job_file = owner.job_file.as_path();
    let claimed = Claimed { path: normal(&cwd.join(&product.path)), temp: normal(&cwd.join(&product.temp)) };
    if claimed.path.file_name().is_none() || claimed.temp.parent() != claimed.path.parent() {
        return Err(format!("its product {} names no file", claimed.path.display()));
    }
    if crate::same_file::is_within(&claimed.path, state.root()) {
        return Err(format!(
            "its product {} is in the state folder {}, which batchrun keeps to itself",
            claimed.path.display(),
            state.root().display()
        ));
    }
    if crate::same_file::id(&claimed.path) == crate::same_file::id(job_file) {
        return Err(format!("its product {} is the job file", claimed.path.display()));
    }
    // The task's key, then the temporary's path as its bytes (a name may hold a newline).
    let mut text = format!("{}\n", crate::task_key::format(key)).into_bytes();
    text.extend_from_slice(claimed.temp.as_os_str().as_encoded_bytes());
    let at = entry(state, &claimed.path);
    match state.open(&at, Open::New) {
        Ok(mut file) => io::Write::write_all(&mut file, &text),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let mut held = Vec::new();
            state.open(&at, Open::Read).and_then(|mut f| f.read_to_end(&mut held)).map_err(|e| e.to_string())?;
            if held.split(|&b| b == b'\n').next() != text.split(|&b| b == b'\n').next() {
                return Err(format!(
                    "another task of this run writes its product {} too: give each task a path of its own",
                    claimed.path.display()
                ));
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
    .map_err(|e| format!("cannot register its product in the state folder: {e}"))?;
    crate::job_manifest::clear(owner, &claimed.path)?;
    if let Some(parent) = claimed.path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot make {}: {e}", parent.display()))?;
    }
    remove_temp(&claimed.temp);
    Ok(claimed)
}

/// Commits a succeeded attempt's product: what was committed, or why it failed.
pub fn commit(claimed: &Claimed) -> Result<Committed, String> {
    let temp = &claimed.temp;
    let meta = match std::fs::symlink_metadata(temp) {
        Ok(meta) if meta.is_file() => meta,
        Ok(_) => return Err(format!("its product's temporary {} is not a regular file", temp.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!("it wrote no product: {{{{ product }}}} ({}) was not created", temp.display()));
        }
        Err(e) => return Err(format!("cannot read its product {}: {e}", temp.display())),
    };
    let fail = |what: &str, e: io::Error| format!("cannot commit its product {}: {what}: {e}", claimed.path.display());
    File::open(temp).and_then(|f| f.sync_all()).map_err(|e| fail("sync", e))?;
    std::fs::rename(temp, &claimed.path).map_err(|e| fail("rename", e))?;
    if let Some(parent) = claimed.path.parent()
        && let Err(e) = File::open(parent).and_then(|d| d.sync_all())
    {
        // The attempt fails, so it leaves no final file: the one it renamed there is taken back.
        if std::fs::symlink_metadata(&claimed.path).is_ok_and(|now| now.dev() == meta.dev() && now.ino() == meta.ino())
        {
            let _ = std::fs::remove_file(&claimed.path);
        }
        return Err(fail("sync its folder", e));
    }
    // The final path must hold what was written, whatever the rename said.
    match std::fs::symlink_metadata(&claimed.path) {
        Ok(now) if now.dev() == meta.dev() && now.ino() == meta.ino() => Ok(Committed {
            path: claimed.path.clone(),
            bytes: now.len(),
            modified_ns: crate::events::modified_ns(&now),
            rows: None,
        }),
        Ok(_) => Err(format!("{} holds another file after the commit", claimed.path.display())),
        Err(e) => Err(fail("check", e)),
    }
}

/// After an attempt that failed: removes its temporary; what was removed, for its log.
pub fn discard(claimed: &Claimed) -> Option<String> {
    let meta = std::fs::symlink_metadata(&claimed.temp).ok()?;
    let what = if meta.is_file() {
        crate::words::count(meta.len(), "byte")
    } else if meta.is_dir() {
        "a folder".to_owned()
    } else {
        "not a file".to_owned()
    };
    remove_temp(&claimed.temp);
    Some(format!("batchrun: removed the unfinished product {} ({what}) of this attempt", claimed.temp.display()))
}

/// Removes what is at `temp` when it is named as a temporary: a file or a link (never what a
/// link points to), or a folder the task made there.
fn remove_temp(temp: &Path) {
    let ours = temp.file_name().and_then(|n| n.to_str()).is_some_and(Product::is_temp_name);
    match std::fs::symlink_metadata(temp) {
        Ok(m) if ours && m.is_dir() => _ = std::fs::remove_dir_all(temp),
        Ok(_) if ours => _ = std::fs::remove_file(temp),
        _ => {}
    }
}

/// At the start of a run: removes the temporaries the registry names (a batchrun killed while
/// tasks wrote them left them), and empties the registry. Only files named as temporaries are
/// removed, whatever an entry says. How many were removed.
pub fn sweep(state: &StateDir) -> usize {
    // Never the one to make the state folder: a run that plans no product may make none.
    if !state.products().is_dir() {
        return 0;
    }
    let Ok(folder) = state.folder(&state.products(), false) else { return 0 };
    let mut removed = 0;
    for (name, _) in folder.entries().unwrap_or_default() {
        let mut text = Vec::new();
        if folder.open(&name, Open::Read).and_then(|mut f| f.read_to_end(&mut text)).is_ok()
            && let Some(at) = text.iter().position(|&b| b == b'\n')
        {
            // Written from the path's bytes by `prepare`: any bytes are a Unix path.
            let temp = PathBuf::from(std::ffi::OsStr::from_bytes(&text[at + 1..]));
            if std::fs::symlink_metadata(&temp).is_ok() {
                remove_temp(&temp);
                removed += usize::from(std::fs::symlink_metadata(&temp).is_err());
            }
        }
        let _ = folder.remove(&name);
    }
    removed
}
