//! The state folder is batchrun's own: it belongs to one job file, a folder of the user's is
//! never taken over, links planted in it are never followed, and folders made by the release
//! before marks existed are adopted.

use std::path::Path;

use crate::harness::{Batchrun, batchrun};

const FAILS: &str = "name: j\njobs:\n  a:\n    command: sh -c 'echo out; echo err >&2; exit 3'\n";
const PASSES: &str = "name: j\njobs:\n  a:\n    command: touch RAN\n";

/// Every file and folder under `dir`, with the contents of files: what must not change.
fn snapshot(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut all = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
                all.push((name, None));
            } else {
                all.push((name, Some(std::fs::read(&path).unwrap_or_default())));
            }
        }
    }
    all.sort();
    all
}

#[test]
fn a_folder_of_the_user_s_is_refused_and_left_as_it_was() {
    let dir = batchrun()
        .job(PASSES)
        .file("userdata/notes.txt", "mine")
        .file("userdata/journal.jsonl", "my own lines\n")
        .file("userdata/lock", "my lock")
        .file("userdata/slurm/journals/keep.jsonl", "mine too");
    let before = snapshot(&dir.path().join("userdata"));
    let ran = dir.args(&["--state-dir", "userdata"]).run();
    ran.code(2).stderr_has("holds what batchrun did not make (notes.txt)").stderr_has("--state-dir");
    assert_eq!(snapshot(&ran.path("userdata")), before);
    assert!(!ran.path("RAN").exists(), "a task ran");
    // Its own layout alone, with a journal that is not batchrun's, is refused too.
    std::fs::remove_file(ran.path("userdata/notes.txt")).unwrap();
    let again = Batchrun::in_dir(ran.dir).args(&["job.yaml", "--state-dir", "userdata"]).run();
    again.code(2).stderr_has("a journal.jsonl that is not a batchrun journal");
    let status = Batchrun::in_dir(again.dir).args(&["status", "job.yaml", "--state-dir", "userdata"]).run();
    status.code(2).stderr_has("holds what batchrun did not make");
}

#[test]
fn an_empty_folder_is_taken_and_marked() {
    let ran = batchrun().job(PASSES).run();
    ran.success();
    let mark: serde_json::Value = serde_json::from_str(&ran.read(".batchrun/j/owner.json")).unwrap();
    let job_file = std::fs::canonicalize(ran.path("job.yaml")).unwrap();
    assert_eq!(mark, serde_json::json!({"v": 1, "job_file": job_file, "name": "j"}));
    assert_eq!(ran.read(".batchrun/.gitignore"), "*\n");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(ran.path(".batchrun/j")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "the state folder is the user's alone: {mode:o}");
    std::fs::create_dir(ran.path("fresh")).unwrap();
    let fresh = Batchrun::in_dir(ran.dir).args(&["job.yaml", "--state-dir", "fresh"]).run();
    fresh.success();
    assert!(fresh.path("fresh/owner.json").exists());
}

#[test]
fn two_job_files_never_share_a_folder() {
    // Stems that clean alike get folders of their own.
    let ran = batchrun()
        .file("my jobs.yaml", "jobs:\n  spaced:\n    command: 'true'\n")
        .file("my_jobs.yaml", "jobs:\n  underscored:\n    command: 'true'\n")
        .arg("my jobs.yaml")
        .run();
    ran.success();
    let ran = Batchrun::in_dir(ran.dir).arg("my_jobs.yaml").run();
    ran.success();
    let status = Batchrun::in_dir(ran.dir).args(&["status", "my jobs.yaml"]).run();
    status.success().stdout_has("spaced");
    assert!(!status.stdout.contains("underscored"), "{}", status.stdout);
    let folders: Vec<String> = std::fs::read_dir(status.path(".batchrun"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".gitignore")
        .collect();
    assert_eq!(folders.len(), 2, "{folders:?}");

    // The same `name:`: the second file is told how to choose, and the first keeps its journal.
    let first = batchrun().file("b.yaml", FAILS).file("a.yaml", FAILS).arg("a.yaml").run();
    first.code(1);
    let journal = first.read(".batchrun/j/journal.jsonl");
    let second = Batchrun::in_dir(first.dir).arg("b.yaml").run();
    second.code(2).stderr_has("a.yaml, not to this job file").stderr_has("--state-dir DIR, or a `name:` of its own");
    assert_eq!(second.read(".batchrun/j/journal.jsonl"), journal);
    let status = Batchrun::in_dir(second.dir).args(&["status", "b.yaml"]).run();
    status.code(2).stderr_has("a.yaml, not to this job file");
    // Editing the owner does not change whose folder it is: --resume goes on.
    std::fs::write(status.path("a.yaml"), FAILS.replace("exit 3", "exit 0")).unwrap();
    let resumed = Batchrun::in_dir(status.dir).args(&["a.yaml", "--resume"]).run();
    resumed.success().stderr_has("1 succeeded");
}

/// Each place a neighbour could plant a link, found by walking what a run leaves in the
/// folder (and the names it uses only at times): no run writes, truncates or removes anything
/// through it, and batchrun names it.
#[test]
fn no_link_planted_in_the_state_folder_is_followed() {
    let first = batchrun().job(FAILS).run();
    first.code(1);
    let mut places: Vec<(String, bool)> =
        snapshot(&first.path(".batchrun/j")).into_iter().map(|(name, file)| (name, file.is_none())).collect();
    for sometimes in [("journal.jsonl.previous", false), ("slurm", true), ("slurm/journals", true)] {
        places.push((sometimes.0.to_owned(), sometimes.1));
    }
    assert!(places.len() >= 9, "{places:?}");
    for (place, to_folder) in places {
        let dir = batchrun().job(FAILS).file("victim/file", "precious").file("victim.txt", "precious");
        let first = dir.run();
        first.code(1);
        let planted = first.path(".batchrun/j").join(&place);
        if planted.is_dir() {
            std::fs::remove_dir_all(&planted).unwrap();
        } else if planted.exists() {
            std::fs::remove_file(&planted).unwrap();
        }
        std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
        let target = if to_folder { first.path("victim") } else { first.path("victim.txt") };
        std::os::unix::fs::symlink(&target, &planted).unwrap();
        let victims = (snapshot(&first.path("victim")), std::fs::read(first.path("victim.txt")).unwrap());
        let ran = Batchrun::in_dir(first.dir).arg("job.yaml").run();
        assert!(ran.code == 1 || ran.code == 2, "{place}: exit {}\n{}", ran.code, ran.stderr);
        ran.stderr_has(&format!("{place} is a symbolic link"));
        let after = (snapshot(&ran.path("victim")), std::fs::read(ran.path("victim.txt")).unwrap());
        assert_eq!(after, victims, "{place}: written through the link");
    }
}

#[test]
fn a_state_folder_that_is_a_file_says_so() {
    let ran = batchrun().job(PASSES).file("afile", "").args(&["--state-dir", "afile"]).run();
    ran.code(2).stderr_has("the state folder").stderr_has("afile is a file, not a folder");
    assert!(!ran.path("RAN").exists());
}

#[test]
fn status_during_a_run_says_it_is_running_with_its_pid() {
    let (dir, mut run) = crate::harness::a_run_in_progress();
    let status = Batchrun::in_dir(dir).args(&["status", "job.yaml"]).run();
    run.kill().unwrap();
    run.wait().unwrap();
    status.code(4).stdout_has(&format!("a run is in progress (pid {})", run.id()));
    assert!(!status.stdout.contains("did not end cleanly"), "{}", status.stdout);
}

/// A folder made by the release before marks (kept as a fixture) is adopted: marked, and its
/// journal read by `status` and `--resume`.
#[test]
fn a_state_folder_made_before_marks_is_adopted() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-before-marks");
    let dir = batchrun().file("job.yaml", &std::fs::read_to_string(fixture.join("job.yaml")).unwrap());
    let state = dir.path().join(".batchrun/kept");
    copy_tree(&fixture.join("kept"), &state);
    let status = dir.args(&["status", "job.yaml"]).run();
    let parts = status.stdout.lines().find(|l| l.starts_with("parts")).unwrap_or_default().to_owned();
    assert_eq!(parts.split_whitespace().collect::<Vec<_>>(), ["parts", "2", "1", "0", "0"], "{}", status.stdout);
    assert!(!status.path(".batchrun/kept/owner.json").exists(), "status writes nothing");
    let journal = status.read(".batchrun/kept/journal.jsonl");
    // A task's key holds its folder, and this one is not where the fixture was made: the tasks
    // run again, and the journal is continued.
    let resumed = Batchrun::in_dir(status.dir).args(&["job.yaml", "--resume"]).run();
    resumed.code(1).stderr_has("2 succeeded, 1 failed");
    assert!(resumed.read(".batchrun/kept/owner.json").contains("\"name\":\"kept\""));
    assert_eq!(resumed.read(".batchrun/.gitignore"), "*\n", "an older .batchrun gets its .gitignore too");
    assert!(resumed.read(".batchrun/kept/journal.jsonl").starts_with(&journal), "the old journal is kept");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The folder is held open for the whole run: a task that renames it away and puts a link to
/// a folder of the user's in its place does not make the run write there.
#[test]
fn a_state_folder_swapped_during_the_run_is_not_followed() {
    let job = "name: j\njobs:\n  a:\n    command: sh -c 'mv .batchrun/j .batchrun/away && ln -s ../victim .batchrun/j; echo out; exit 3'\n";
    let ran = batchrun().job(job).file("victim/keep", "precious").run();
    ran.code(1);
    assert_eq!(snapshot(&ran.path("victim")), [("keep".to_owned(), Some(b"precious".to_vec()))]);
    assert_eq!(ran.read(".batchrun/away/logs/a/0.1.out"), "out\n", "the log went to the folder the run holds");
}

/// Beside the job file, `.batchrun` and `.batchrun/<name>` are batchrun's names: a link at
/// either is refused, whatever it points at.
#[test]
fn a_link_planted_for_the_default_folder_is_refused() {
    for planted in [".batchrun", ".batchrun/j"] {
        let dir = batchrun().job(PASSES).file("victim/keep", "precious");
        std::fs::create_dir_all(dir.path().join(planted).parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(dir.path().join("victim"), dir.path().join(planted)).unwrap();
        let ran = dir.run();
        ran.code(2).stderr_has(&format!("{planted} is a symbolic link"));
        assert_eq!(snapshot(&ran.path("victim")), [("keep".to_owned(), Some(b"precious".to_vec()))], "{planted}");
        assert!(!ran.path("RAN").exists());
    }
}

/// A run whose file cannot be planned ran nothing, and leaves no state folder behind.
#[test]
fn a_run_that_cannot_be_planned_leaves_no_state_folder() {
    let ran = batchrun().job("jobs:\n  a:\n    command: echo {{ nope }}\n").run();
    ran.code(2).stderr_has("undefined name `nope`");
    assert!(!ran.path(".batchrun").exists());
}
