//! The manifest a job writes in the folder of its products once every task has committed its
//! own: the `_SUCCESS` file Hadoop and Spark write, with contents, so that a reader of the
//! folder waits for one file instead of guessing whether an export is complete, still running
//! or dead.
//!
//! Before an attempt of the job's starts, a manifest of the job's in a folder above its product
//! is removed ([`clear`]), so that a manifest never stands beside a product it does not
//! describe; it is written again when the job next succeeds ([`write`]). Only a driver that
//! sees the whole job writes it (the local pool, the Slurm submitter), never a Slurm element,
//! which sees only its share.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::events::Committed;

pub const DEFAULT_NAME: &str = "_SUCCESS";

/// Which manifest a job writes: its name, and whose it is.
pub struct Owner<'a> {
    pub job: &'a str,
    /// The job file, absolute: a Slurm element and the submitter name it alike.
    pub job_file: PathBuf,
    /// The manifest's file name.
    pub name: &'a str,
}

impl<'a> Owner<'a> {
    pub fn of(file: &'a crate::config::JobFile, job: usize) -> Owner<'a> {
        let spec = &file.jobs[job];
        // Canonical: the same file named through `..` or a link is the same owner.
        let job_file = std::fs::canonicalize(&file.path)
            .or_else(|_| std::path::absolute(&file.path))
            .unwrap_or_else(|_| file.path.clone());
        Owner { job: &spec.name, job_file, name: &spec.manifest }
    }
}

#[derive(serde::Serialize)]
struct Written<'a> {
    job: &'a str,
    job_file: &'a Path,
    /// When it was written, UTC.
    written: String,
    tasks: usize,
    bytes: u64,
    /// Rows of all products, when `verify` printed a count for each.
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<u64>,
    products: Vec<Entry<'a>>,
}

#[derive(serde::Serialize)]
struct Entry<'a> {
    /// Relative to the manifest's folder.
    path: &'a Path,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<u64>,
}

/// What [`clear`] reads of a manifest it finds: whose it is.
#[derive(serde::Deserialize)]
struct Whose {
    job: String,
    job_file: PathBuf,
}

/// Whether `path` is a manifest `owner` wrote: a regular file whose JSON names its job and job
/// file.
fn is_own(owner: &Owner, path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {}
        _ => return false,
    }
    let whose: Option<Whose> = File::open(path).ok().and_then(|f| serde_json::from_reader(io::BufReader::new(f)).ok());
    whose.is_some_and(|w| w.job == owner.job && w.job_file == owner.job_file)
}

/// The deepest folder that holds every product (paths absolute).
pub fn folder_of<'a>(mut products: impl Iterator<Item = &'a Path>) -> Option<PathBuf> {
    let mut folder = products.next()?.parent()?.to_path_buf();
    for path in products {
        while !path.starts_with(&folder) {
            if !folder.pop() {
                return None;
            }
        }
    }
    Some(folder)
}

/// Where `owner`'s manifest of `products` goes: in the folder that holds them all.
pub fn place(owner: &Owner, products: &[&Committed]) -> Result<PathBuf, String> {
    let folder = folder_of(products.iter().map(|p| p.path.as_path()))
        .ok_or_else(|| "its products have no folder in common".to_owned())?;
    Ok(folder.join(owner.name))
}

/// Writes `owner`'s manifest of `products` (in plan order) at `path` (see [`place`]), as a
/// product is committed: a temporary beside it, synced, renamed into place, its folder synced.
/// Never over a file that is not an earlier manifest of the same job (a product, the job file,
/// another job's manifest or another tool's `_SUCCESS`).
pub fn write(owner: &Owner, path: &Path, products: &[&Committed]) -> Result<(), String> {
    let folder = path.parent().unwrap_or(Path::new("/"));
    if std::fs::symlink_metadata(path).is_ok() && !is_own(owner, path) {
        return Err(format!(
            "{} is there and is not this job's manifest: it is left as it is (`manifest:` names the manifest otherwise)",
            path.display()
        ));
    }
    let rows = products.iter().map(|p| p.rows).sum::<Option<u64>>();
    let manifest = Written {
        job: owner.job,
        job_file: &owner.job_file,
        written: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        tasks: products.len(),
        bytes: products.iter().map(|p| p.bytes).sum(),
        rows,
        products: products
            .iter()
            .map(|p| Entry { path: p.path.strip_prefix(folder).unwrap_or(&p.path), bytes: p.bytes, rows: p.rows })
            .collect(),
    };
    let fail = |what: &str, e: io::Error| format!("cannot write its manifest {}: {what}: {e}", path.display());
    let temp = crate::plan::task::Product::of(&path.to_string_lossy()).temp;
    let written = (|| {
        let mut file = File::create(&temp)?;
        serde_json::to_writer_pretty(&mut file, &manifest)?;
        file.write_all(b"\n")?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(fail("write", e));
    }
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        fail("rename", e)
    })?;
    File::open(folder).and_then(|d| d.sync_all()).map_err(|e| fail("sync its folder", e))
}

/// Before an attempt that may rebuild `product` (absolute): removes `owner`'s manifest from
/// the product's folder and every folder above it, where one was written. A file of that name
/// that is not this job's manifest (another tool's `_SUCCESS`) is left alone.
pub fn clear(owner: &Owner, product: &Path) -> Result<(), String> {
    for folder in product.ancestors().skip(1) {
        let path = folder.join(owner.name);
        if is_own(owner, &path) {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(format!(
                        "cannot remove its job's manifest {} before rebuilding a product: {e}",
                        path.display()
                    ));
                }
            }
            File::open(folder)
                .and_then(|d| d.sync_all())
                .map_err(|e| format!("cannot sync {} after removing its job's manifest: {e}", folder.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_the_deepest_one_holding_every_product() {
        let folder = |paths: &[&str]| folder_of(paths.iter().map(Path::new));
        assert_eq!(folder(&["/o/a.csv", "/o/b.csv"]), Some(PathBuf::from("/o")));
        assert_eq!(folder(&["/o/eu/a.csv", "/o/us/a.csv"]), Some(PathBuf::from("/o")));
        assert_eq!(folder(&["/o/x/a.csv", "/o/x/y/b.csv"]), Some(PathBuf::from("/o/x")));
        // By components, not text: /o/ab is not inside /o/a.
        assert_eq!(folder(&["/o/a/1.csv", "/o/ab/2.csv"]), Some(PathBuf::from("/o")));
        assert_eq!(folder(&["/a.csv", "/b/c.csv"]), Some(PathBuf::from("/")));
        assert_eq!(folder(&[]), None);
    }

    fn committed(path: &Path, bytes: u64, rows: Option<u64>) -> Committed {
        Committed { path: path.to_path_buf(), bytes, modified_ns: None, rows }
    }

    #[test]
    fn a_manifest_is_cleared_only_by_its_own_job() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let job_file = dir.path().join("job.yaml");
        let out = dir.path().join("out/eu");
        std::fs::create_dir_all(&out).expect("folders");
        let a = committed(&out.join("a.csv"), 3, Some(2));
        let b = committed(&dir.path().join("out/b.csv"), 4, Some(5));
        let owner = Owner { job: "export", job_file: job_file.clone(), name: DEFAULT_NAME };
        let path = place(&owner, &[&a, &b]).expect("placed");
        write(&owner, &path, &[&a, &b]).expect("written");
        assert_eq!(path, dir.path().join("out/_SUCCESS"));
        let text = std::fs::read_to_string(&path).expect("read");
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(json["rows"], 7);
        assert_eq!(json["products"][0]["path"], "eu/a.csv");
        let other = Owner { job: "import", job_file: job_file.clone(), name: DEFAULT_NAME };
        clear(&other, &a.path).expect("cleared");
        assert!(path.exists(), "another job's manifest stays");
        clear(&owner, &a.path).expect("cleared");
        assert!(!path.exists(), "its own job's manifest, two folders up, is removed");
        // Not every product printed a count: no total.
        let c = committed(&out.join("c.csv"), 1, None);
        write(&owner, &out.join("_SUCCESS"), &[&a, &c]).expect("written");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("_SUCCESS")).expect("read")).expect("JSON");
        assert!(json.get("rows").is_none());
    }
}
