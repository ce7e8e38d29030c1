//! What batchrun reads and writes besides its tasks: job files read within bounds, every
//! subcommand's stdout written truthfully (a closed pipe ends quietly, a full disk is exit 3),
//! and names of batchrun's own that a job file may not take over.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::harness::batchrun;

const JOB: &str = "name: files\njobs:\n  hello:\n    command: echo hi\n";

/// Every subcommand that writes to stdout, as arguments, in a folder holding `job.yaml`.
const WRITERS: [&[&str]; 10] = [
    &["--help"],
    &["run", "--help"],
    &["--version"],
    &["completions", "bash"],
    &["man"],
    &["schema"],
    &["plan", "job.yaml"],
    &["plan", "job.yaml", "--format", "json"],
    &["status", "job.yaml"],
    &["run", "job.yaml", "--dry-run"],
];

/// Runs batchrun in `dir` with `stdout`: its exit code and stderr.
fn with_stdout(dir: &Path, args: &[&str], stdout: Stdio) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("batchrun runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn every_writer_ends_with_3_and_says_so_on_a_full_disk() {
    let dir = batchrun().file("job.yaml", JOB);
    for args in WRITERS {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let (code, stderr) = with_stdout(dir.path(), args, Stdio::from(full));
        assert_eq!(code, 3, "{args:?}: {stderr}");
        assert!(stderr.contains("cannot write") && stderr.contains("No space left"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn every_writer_ends_quietly_on_a_closed_pipe() {
    let dir = batchrun().file("job.yaml", JOB);
    for args in WRITERS {
        // The reading end is closed before batchrun starts, so its first write meets it closed.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let (code, stderr) = with_stdout(dir.path(), args, Stdio::from(writer));
        // status answers 1 here whoever reads it: no run is recorded, so not every task is done.
        let answer = if args[0] == "status" { 1 } else { 0 };
        assert_eq!((code, stderr.as_str()), (answer, ""), "{args:?}");
    }
}

#[test]
fn a_device_is_not_read_as_a_job_file() {
    for args in [&["validate", "/dev/zero"][..], &["run", "/dev/zero"], &["plan", "/dev/urandom"]] {
        let ran = batchrun().args(args).run();
        ran.code(2).stderr_has("is a device or a socket, not a file or a FIFO");
        assert!(ran.elapsed < std::time::Duration::from_secs(10), "{args:?} took {:?}", ran.elapsed);
    }
    batchrun().args(&["validate", "."]).run().code(2).stderr_has("the job file is a folder");
}

#[test]
fn a_job_file_is_read_up_to_its_cap() {
    let dir = batchrun();
    let big = std::fs::File::create(dir.path().join("big.yaml")).unwrap();
    big.set_len(129 << 20).unwrap();
    let ran = dir.args(&["validate", "big.yaml"]).run();
    ran.code(2).stderr_has("the job file holds more than 128 MiB");
}

#[test]
fn a_job_file_from_a_pipe_on_stdin_is_read() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .args(["validate", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), JOB.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("ok (1 task in 1 job)"), "{stderr}");
}

#[test]
fn env_may_not_set_batchrun_s_own_variables() {
    for (name, at) in [("BATCHRUN_RUN", "job.yaml:4:5"), ("BATCHRUN_INDEX", "job.yaml:4:5")] {
        let job = format!("name: x\ndefaults:\n  env:\n    {name}: mine\njobs:\n  a:\n    command: echo hi\n");
        let ran = batchrun().job(&job).run();
        ran.code(2).stderr_has(at).stderr_has(&format!("`env` may not set `{name}`"));
    }
    let in_a_job = "jobs:\n  a:\n    command: echo hi\n    env: {BATCHRUN_JOB: b}\n";
    batchrun().file("job.yaml", in_a_job).args(&["validate", "job.yaml"]).run().code(2).stderr_has("job.yaml:4:11");
}

#[test]
fn a_job_file_on_stdin_keeps_its_state_in_the_current_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir.path())
        .args(["run", "/dev/stdin", "--progress", "none"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"name: piped\njobs:\n  a:\n    command: touch RAN\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("RAN").exists(), "the task ran in the current folder");
    assert!(dir.path().join(".batchrun/piped/journal.jsonl").exists(), "the state is in the current folder");
}
