//! No process outlives batchrun, not even one that leaves its task's process group: the
//! survivor matrix of the README, case × end, each cell checked by a process found by a unique
//! name (its `argv[0]`, set with bash's `exec -a`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// How a task's descendant leaves the task's process group; `NAME` is its `argv[0]`.
const CASES: [(&str, &str); 3] = [
    // Job control: bash puts the background job in a process group of its own.
    ("own group", "set -m; (touch started; exec -a NAME sleep 300) &"),
    // A new session (and group), its parent still the task's shell.
    ("new session", "setsid bash -c 'touch started; exec -a NAME sleep 300' &"),
    // A daemon's double fork: its parent exits at once, so it is an orphan from the start.
    ("double fork", "(setsid bash -c 'touch started; exec -a NAME sleep 300' &)"),
];

#[derive(Clone, Copy, PartialEq)]
enum End {
    /// The task ends by itself once its descendant has started.
    Normal,
    /// The task runs past its `timeout`.
    Timeout,
    /// Ctrl-C: SIGINT to batchrun.
    Interrupt,
    /// batchrun is SIGKILLed: the watchdog is all that is left.
    Killed,
}

/// Runs every case with `end` and asserts that no descendant survives.
fn matrix_row(end: End, tag: &str) {
    let mut survivors = Vec::new();
    for (case, script) in CASES {
        let name = format!("brx-{tag}-{}-{}", case.replace(' ', "-"), std::process::id());
        let tail = match end {
            End::Normal => "while [ ! -e started ]; do sleep 0.01; done",
            _ => "sleep 300",
        };
        let timeout = if end == End::Timeout { "    timeout: 2s\n" } else { "" };
        let yaml = format!(
            "jobs:\n  t:\n    shell: bash\n{timeout}    command: \"{}\\n{tail}\"\n",
            script.replace("NAME", &name)
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("job.yaml"), yaml).unwrap();
        let mut child = start(dir.path());
        if matches!(end, End::Interrupt | End::Killed) {
            wait_for(&format!("{case}: the descendant to start"), || !named(&name).is_empty());
            let signal = if end == End::Interrupt { Signal::INT } else { Signal::KILL };
            rustix::process::kill_process(Pid::from_child(&child), signal).unwrap();
        }
        let status = child.wait().unwrap();
        assert!(dir.path().join("started").exists(), "{case}: the descendant never started ({status})");
        // What batchrun (or its watchdog) killed may take a moment to be gone.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !named(&name).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = named(&name);
        if !left.is_empty() {
            survivors.push(format!("{case}: {left:?}"));
        }
        for pid in left.into_iter().filter_map(Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
    }
    assert!(survivors.is_empty(), "survivors: {survivors:?}");
}

#[test]
fn nothing_left_behind_survives_a_task_that_ends() {
    matrix_row(End::Normal, "normal");
}

#[test]
fn nothing_left_behind_survives_a_timeout() {
    matrix_row(End::Timeout, "timeout");
}

#[test]
fn nothing_left_behind_survives_ctrl_c() {
    matrix_row(End::Interrupt, "interrupt");
}

#[test]
fn nothing_left_behind_survives_batchrun_killed() {
    matrix_row(End::Killed, "killed");
}

/// A helper a task starts and leaves (a daemon's double fork) serves the task to its end, and
/// goes with it: adopted by batchrun while the task runs, it is not killed before the task ends.
#[test]
fn a_helper_lives_until_its_task_ends() {
    let name = format!("brx-helper-{}", std::process::id());
    // The task checks the helper is still there after several of batchrun's ticks.
    let yaml = format!(
        "jobs:\n  t:\n    shell: bash\n    command: \"(setsid bash -c 'echo $$ > helper.pid; exec -a {name} sleep 300' &)\\nwhile [ ! -s helper.pid ]; do sleep 0.01; done\\nsleep 1\\nkill -0 $(cat helper.pid)\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.yaml"), yaml).unwrap();
    let status = start(dir.path()).wait().unwrap();
    assert!(status.success(), "the helper was killed while its task ran ({status})");
    wait_for("the helper to be gone", || named(&name).is_empty());
}

/// The issue's own example: GNU `timeout` moves itself into a group of its own.
#[test]
fn gnu_timeout_inside_a_task_does_not_outlive_the_task_timeout() {
    let name = format!("brx-gnu-timeout-{}", std::process::id());
    let yaml = format!(
        "jobs:\n  t:\n    timeout: 1s\n    command: sh -c 'timeout 300 bash -c \"exec -a {name} sleep 300\"; echo'\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.yaml"), yaml).unwrap();
    let mut child = start(dir.path());
    wait_for("the descendant to start", || !named(&name).is_empty());
    child.wait().unwrap();
    wait_for("the descendant to be gone", || named(&name).is_empty());
}

fn start(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir)
        .args(["job.yaml", "--progress", "none"])
        .env_remove("CI")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Live (not zombie) processes whose `argv[0]` is `name`.
fn named(name: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let argv0 = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv0 = argv0.split(|&b| b == 0).next().unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
            argv0 == name.as_bytes() && !zombie
        })
        .collect()
}
