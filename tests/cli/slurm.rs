//! `--backend slurm` against a real Slurm cluster (`ci/slurm/start.sh` starts a single-node
//! one): results, failures and retries, resume, cancellation and sbatch errors.
//!
//! Without a reachable cluster these tests are skipped with the reason printed, unless `CI` is
//! `true`: there a missing cluster is a failure.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Batchrun, batchrun};

/// Whether a Slurm cluster answers; under `CI=true` one must.
fn cluster() -> bool {
    let state = Command::new("sinfo").args(["-h", "-o", "%T"]).stderr(Stdio::piped()).output();
    let problem = match state {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            // `completing`: up, finishing the jobs of an earlier test.
            let up = ["idle", "mixed", "allocated", "completing"];
            if text.lines().any(|s| up.contains(&s.trim_end_matches(|c: char| !c.is_ascii_alphabetic()))) {
                return true;
            }
            format!("no node is up (sinfo: {})", text.trim())
        }
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(e) => format!("sinfo: {e}"),
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("a Slurm cluster is required under CI=true (start one with ci/slurm/start.sh): {problem}");
    }
    crate::harness::skipped(&format!("no Slurm cluster here ({problem}); ci/slurm/start.sh starts one"));
    false
}

/// Starts `batchrun job.yaml --backend slurm` in `dir`, stderr captured, for tests that act
/// on a run while it goes on.
fn start_in_background(dir: &Path, job: &str) -> std::process::Child {
    std::fs::write(dir.join("job.yaml"), job).unwrap();
    Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir)
        .args(["job.yaml", "--backend", "slurm", "--progress", "plain"])
        .env_remove("CI")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn slurm(job: &str) -> Batchrun {
    batchrun().job(job).args(&["--backend", "slurm", "--progress", "plain"])
}

#[test]
fn a_hundred_tasks_run_as_arrays_with_needs_and_the_same_summary() {
    if !cluster() {
        return;
    }
    let job = r#"
name: hundred
concurrency: 8
jobs:
  prepare:
    command: mkdir -p out
  work:
    needs: [prepare]
    range: {from: 1, to: 100}
    command: sh -c 'echo "$BATCHRUN_TASK {{ start }}" > out/{{ index }}.txt'
  check:
    needs: [work]
    command: sh -c 'test "$(cat out/*.txt | wc -l)" -eq 100'
"#;
    let started = Instant::now();
    let ran = slurm(job).run();
    let took = started.elapsed();
    ran.success().stderr_has("102 tasks as Slurm job arrays, 8 at once").stderr_has("102 succeeded");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    for i in 0..100 {
        assert_eq!(ran.read(&format!("out/{i}.txt")), format!("work[{i}] {}\n", i + 1));
    }
    let status = Batchrun::in_dir(ran.dir).args(&["status", "job.yaml"]).run();
    let work = status.stdout.lines().find(|l| l.starts_with("work")).unwrap_or_default().to_owned();
    assert_eq!(work.split_whitespace().collect::<Vec<_>>(), ["work", "100", "0", "0", "0"], "{}", status.stdout);
}

#[test]
fn failures_retries_skips_and_resume_behave_as_locally() {
    if !cluster() {
        return;
    }
    let job = r#"
name: flaky
jobs:
  work:
    range: {from: 1, to: 6}
    retries: 1
    retry_delay: 10ms
    command: sh -c 'echo "attempt $BATCHRUN_ATTEMPT of {{ start }}" >> tries.txt; echo broken-{{ start }} >&2; test {{ start }} -ne 4 -o -e fixed'
  after:
    needs: [work]
    command: touch after-ran
"#;
    let ran = slurm(job).run();
    ran.code(1)
        .stderr_has("RETRY work[3] exit 1 (attempt 1)")
        .stderr_has("FAILED work[3] exit 1 after 2 attempts")
        .stderr_has("stderr | broken-4")
        .stderr_has("SKIPPED after (1 task): it needs `work`, which failed")
        .stderr_has("--backend slurm --resume");
    assert!(!ran.path("after-ran").exists());
    assert!(ran.path(".batchrun/flaky/logs/work/3.2.err").exists(), "the failed attempt's log is kept");

    std::fs::write(ran.path("fixed"), "").unwrap();
    std::fs::write(ran.path("tries.txt"), "").unwrap();
    let again = Batchrun::in_dir(ran.dir)
        .arg("job.yaml")
        .args(&["--backend", "slurm", "--progress", "plain", "--resume"])
        .run();
    again.success().stderr_has("5 already done");
    assert_eq!(again.read("tries.txt"), "attempt 1 of 4\n", "only the failed task runs again");
    assert!(again.path("after-ran").exists());
}

#[test]
fn ctrl_c_cancels_the_arrays_and_leaves_nothing_running() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A sleep no other test runs: `sleep 299.<pid>`.
    let marker = format!("sleep 299.{}", std::process::id());
    let job = format!(
        r#"
name: cancel
concurrency: 3
jobs:
  work:
    range: {{from: 1, to: 9}}
    slurm: {{tasks_per_element: 1}}
    command: sh -c 'touch started-{{{{ index }}}}; {marker}'
  after:
    needs: [work]
    command: 'true'
"#
    );
    let child = start_in_background(dir.path(), &job);
    let started = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("started-"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while started(dir.path()) < 3 {
        assert!(Instant::now() < deadline, "3 tasks should start within a minute");
        std::thread::sleep(Duration::from_millis(50));
    }
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::INT).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("CANCELLED work[0]"), "{stderr}");
    assert!(!stderr.contains("FAILED"), "cancelled is not failed: {stderr}");
    assert!(stderr.contains("NOT RUN work (6 tasks)"), "{stderr}");
    // As a local run says it: `after` was never started because the run stopped.
    assert!(stderr.contains("NOT RUN after (1 task): the run was stopped before they started"), "{stderr}");
    let left = Command::new("pgrep").args(["-f", &marker]).output().unwrap();
    assert!(left.stdout.is_empty(), "tasks left running: {}", String::from_utf8_lossy(&left.stdout));
    let queued = Command::new("squeue").args(["-h", "-n", "cancel.work", "-t", "PENDING,RUNNING"]).output().unwrap();
    assert!(queued.stdout.is_empty(), "elements left in the queue: {}", String::from_utf8_lossy(&queued.stdout));
}

#[test]
fn an_sbatch_error_is_shown_and_fails_the_run() {
    if !cluster() {
        return;
    }
    let job = "slurm:\n  partition: no-such-partition\njobs:\n  a:\n    command: 'true'\n";
    slurm(job).run().code(1).stderr_has("`sbatch` failed").stderr_has("no-such-partition").stderr_has("1 failed");
}

/// An element killed outright (as by a node failure) records nothing more: its tasks are
/// reported lost, with the state the scheduler gives the element.
#[test]
fn tasks_of_an_element_that_dies_are_reported_lost_with_the_scheduler_state() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let name = format!("lost{}", std::process::id());
    let job = format!(
        "name: {name}\njobs:\n  work:\n    range: {{from: 1, to: 2}}\n    slurm: {{tasks_per_element: 1}}\n    command: sh -c 'touch started-{{{{ index }}}}; sleep 297.{}'\n",
        std::process::id()
    );
    let child = start_in_background(dir.path(), &job);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(dir.path().join("started-0").exists() && dir.path().join("started-1").exists()) {
        assert!(Instant::now() < deadline, "both tasks should start within a minute");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGKILL to each element's batchrun (not to its watchdog, a child with the same command
    // line, which then stops the element's tasks).
    let found = Command::new("pgrep").args(["-f", &format!("batchrun exec .*{name}")]).output().unwrap();
    for pid in String::from_utf8_lossy(&found.stdout).split_whitespace() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1)).unwrap_or("0");
        let parent = std::fs::read(format!("/proc/{ppid}/cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&parent).contains("batchrun") {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("FAILED work[0] lost: its array element ended FAILED while it ran"), "{stderr}");
    assert!(stderr.contains("FAILED work[1] lost"), "{stderr}");
}

/// A job whose items a needed job writes is planned when that job has run, and its elements
/// read the submitter's snapshot, not the file (which its own tasks empty here).
#[test]
fn a_job_planned_when_ready_runs_from_the_snapshot_on_the_nodes() {
    if !cluster() {
        return;
    }
    let job = r#"
name: late
jobs:
  write:
    command: sh -c 'seq 1 6 > items.txt'
  use:
    needs: [write]
    items: {file: items.txt}
    slurm: {tasks_per_element: 1}
    command: sh -c 'echo "$1 of {{ count }}" > out.{{ index }}; true > items.txt' sh {{ item }}
"#;
    let ran = slurm(job).file("items.txt", "stale\n").run();
    ran.success().stderr_has("planned use: 6 tasks").stderr_has("7 succeeded");
    for i in 0..6 {
        assert_eq!(ran.read(&format!("out.{i}")), format!("{} of 6\n", i + 1));
    }
}

#[test]
fn a_percent_in_the_state_folder_is_not_read_as_a_slurm_pattern() {
    if !cluster() {
        return;
    }
    let job = "name: pct\njobs:\n  hello:\n    command: echo hi\n";
    let ran = slurm(job).args(&["--state-dir", "state%A"]).run();
    ran.success().stderr_has("1 succeeded");
    let outputs: Vec<_> = std::fs::read_dir(ran.path("state%A/slurm/out")).unwrap().collect();
    assert!(!outputs.is_empty(), "the elements' output is in the folder named with a %");
    let expanded = std::fs::read_dir(ran.dir.path()).unwrap().filter_map(Result::ok).filter(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.starts_with("state") && name != "state%A"
    });
    assert_eq!(expanded.count(), 0, "no folder named with an expanded %A");
}

/// A stop while another element retries a task: each task is reported once, and the counts add
/// up to the plan (the submitter replays what each element decided).
#[test]
fn a_stop_while_an_element_retries_reports_each_task_once() {
    if !cluster() {
        return;
    }
    let job = r#"
name: once
jobs:
  t:
    items: [a, b]
    on_failure: stop
    retries: 1
    retry_delay: 0s
    slurm: {tasks_per_element: 1}
    command: sh -c 'test "$1" = b && test -e seen-b && exit 0; touch "seen-$1"; exit 1' sh {{ item }}
"#;
    let ran = slurm(job).args(&["--report", "r.json"]).run();
    ran.code(1);
    let report: serde_json::Value = serde_json::from_str(&ran.read("r.json")).unwrap();
    let labels: Vec<&str> = report["tasks"].as_array().unwrap().iter().map(|t| t["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["t[a]", "t[b]"], "each task once:\n{}", ran.stderr);
    let c = &report["counts"];
    let sum = ["succeeded", "failed", "skipped", "not_run", "already_done"]
        .iter()
        .map(|k| c[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!((c["total"].as_u64().unwrap(), sum), (2, 2), "{c}");
    let finished =
        ran.stderr.lines().filter(|l| l.contains("t[b]") && (l.starts_with("ok ") || l.starts_with("FAILED "))).count();
    assert!(finished <= 1, "t[b] finished more than once:\n{}", ran.stderr);
}

/// The command line's settings reach the array elements: `--timeout` stops a task there as it
/// does locally.
#[test]
fn a_command_line_timeout_reaches_the_elements() {
    if !cluster() {
        return;
    }
    let job = "name: limited\njobs:\n  slow:\n    command: sleep 30\n";
    let ran = slurm(job).args(&["--timeout", "1s"]).run();
    ran.code(1).stderr_has("FAILED slow: timed out");
    assert!(ran.elapsed < std::time::Duration::from_secs(25), "the task was not stopped: {:?}", ran.elapsed);
}

/// A second Ctrl-C says what a local run says, kills the elements at once and leaves nothing
/// running, even tasks that ignore the first.
#[test]
fn a_second_ctrl_c_kills_the_elements_at_once_as_locally() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("sleep 298.{}", std::process::id());
    // Ignored signals stay ignored in what the task starts: only a kill ends it.
    let job = format!(
        "name: twice\njobs:\n  stubborn:\n    kill_grace: 60s\n    command: sh -c 'trap \"\" INT TERM; touch started; {marker}'\n"
    );
    let mut child = start_in_background(dir.path(), &job);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.path().join("started").exists() {
        assert!(Instant::now() < deadline, "the task should start within a minute");
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines = std::io::BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(lines).map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let mut stderr = Vec::new();
    while !stderr.iter().any(|l: &String| l.starts_with("STOPPING")) {
        stderr.push(rx.recv_timeout(Duration::from_secs(60)).expect("the first interrupt is said"));
    }
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = child.wait().unwrap();
    stderr.extend(rx.iter());
    let stderr = stderr.join("\n");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("STOPPING: interrupted again: killing every task now"), "{stderr}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = Command::new("pgrep").args(["-f", &marker]).output().unwrap();
        if left.stdout.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the task outlived the second interrupt");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Products on the shared filesystem: each element commits its tasks' products, verified; the
/// submitter writes the manifest once the whole job has committed; the job fans out over a
/// list an upstream job wrote, read by an items command; a deleted product is rebuilt by
/// `--resume`, and the job that checks the products runs again.
#[test]
fn products_are_committed_on_the_nodes_and_the_manifest_follows() {
    if !cluster() {
        return;
    }
    let job = r#"
name: parts
jobs:
  list:
    command: sh -c 'seq 1 4 > ids.txt'
  export:
    needs: [list]
    items: {sh: "cat ids.txt"}
    slurm: {tasks_per_element: 1}
    product: out/part-{{ item }}.csv
    command: sh -c 'seq "$2" > "$1"' sh {{ product }} {{ item }}
    verify: wc -l < {{ product }}
  check:
    needs: [export]
    command: >-
      sh -c 'grep -q "^  \"rows\": 10,$" out/_SUCCESS && echo checked >> checks'
"#;
    let ran = slurm(job).run();
    ran.success().stderr_has("planned export: 4 tasks").stderr_has("6 succeeded");
    let manifest: serde_json::Value = serde_json::from_str(&ran.read("out/_SUCCESS")).expect("a manifest");
    assert_eq!((manifest["tasks"].as_u64(), manifest["rows"].as_u64()), (Some(4), Some(10)));
    let mut files: Vec<String> =
        std::fs::read_dir(ran.path("out")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    assert_eq!(files, ["_SUCCESS", "part-1.csv", "part-2.csv", "part-3.csv", "part-4.csv"], "no temporaries");

    std::fs::remove_file(ran.path("out/part-3.csv")).unwrap();
    let resumed =
        Batchrun::in_dir(ran.dir).args(&["job.yaml", "--backend", "slurm", "--progress", "plain", "--resume"]).run();
    resumed.success().stderr_has("2 succeeded, 0 failed, 0 skipped, 4 already done");
    assert_eq!(resumed.read("out/part-3.csv"), "1\n2\n3\n");
    assert_eq!(resumed.read("checks"), "checked\nchecked\n", "the check ran again on the rebuilt product");
}

/// Slurm's client commands on PATH whose controller does not answer: `scontrol ping` says it
/// is down, or hangs. The run is refused once, before anything is planned or submitted, with
/// exit 2 (no cluster needed: the commands are stand-ins).
#[test]
fn a_controller_that_does_not_answer_is_said_once_before_anything_is_submitted() {
    for (scontrol, said) in [
        ("echo 'Slurmctld(primary) at ctl is DOWN'; exit 1", "`scontrol ping` said: Slurmctld(primary) at ctl is DOWN"),
        ("exec sleep 60", "`scontrol ping` had no answer within 10s"),
    ] {
        let run = batchrun().job("jobs:\n  a:\n    items: [1, 2]\n    command: 'true'\n  b:\n    command: 'true'\n");
        let bin = run.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for (name, body) in
            [("sbatch", "touch SUBMITTED"), ("squeue", "true"), ("scancel", "true"), ("scontrol", scontrol)]
        {
            let path = bin.join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let ran = run.args(&["--backend", "slurm", "--progress", "plain"]).env("PATH", &path).run();
        ran.code(2).stderr_has(said);
        assert_eq!(ran.stderr.matches("does not answer").count(), 1, "said once: {}", ran.stderr);
        assert!(ran.elapsed < Duration::from_secs(30), "{:?}", ran.elapsed);
        assert!(!ran.path("SUBMITTED").exists(), "nothing was submitted");
    }
}
