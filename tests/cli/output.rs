//! Output modes: grouped, ordered, tagged, none; never interleaved, byte for byte.

use crate::harness::batchrun;

/// Two tasks that write in many small pieces, alternating in time, to stdout and stderr.
const CHATTY: &str = r#"
jobs:
  c:
    items: [a, b]
    command: sh -c 'for i in 1 2 3 4 5; do echo "$1$i"; echo "err-$1$i" >&2; sleep 0.02; done' sh {{ item }}
"#;

#[test]
fn grouped_prints_each_task_as_one_block() {
    let ran = batchrun().job(CHATTY).args(&["-j", "2", "--progress", "none"]).run();
    ran.success();
    let out = ran.stdout_lines();
    assert_eq!(out.len(), 10);
    // Each task's five lines are contiguous.
    for block in out.chunks(5) {
        let task = &block[0][..1];
        assert!(block.iter().all(|l| l.starts_with(task)), "interleaved: {out:?}");
    }
    assert!(ran.stderr.contains("err-a1\nerr-a2\nerr-a3\nerr-a4\nerr-a5\n"), "{}", ran.stderr);
    assert!(ran.stderr.contains("err-b1\nerr-b2\nerr-b3\nerr-b4\nerr-b5\n"), "{}", ran.stderr);
}

#[test]
fn ordered_follows_plan_order_not_finish_order() {
    let yaml =
        "jobs:\n  o:\n    items: [0.3, 0.1, 0]\n    command: sh -c 'sleep \"$1\"; echo slept \"$1\"' sh {{ item }}\n";
    let ran = batchrun().job(yaml).args(&["-j", "3", "--output", "ordered"]).run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["slept 0.3", "slept 0.1", "slept 0"]);
}

#[test]
fn tagged_prefixes_every_line_with_its_task() {
    let ran = batchrun().job(CHATTY).args(&["-j", "2", "--output", "tagged", "--progress", "none"]).run();
    ran.success();
    let mut out = ran.stdout_lines();
    out.sort();
    assert_eq!(out.len(), 10);
    assert_eq!(out[0], "c[a] | a1");
    assert_eq!(out[9], "c[b] | b5");
    assert!(ran.stderr.contains("c[b] | err-b3\n"), "{}", ran.stderr);
}

#[test]
fn none_prints_no_task_output() {
    let ran = batchrun().job(CHATTY).args(&["--output", "none", "--progress", "none"]).run();
    ran.success();
    assert_eq!(ran.stdout, "");
    assert!(!ran.stderr.contains("err-a"), "{}", ran.stderr);
}

#[test]
fn output_is_passed_on_byte_for_byte() {
    // No trailing newline, a NUL and invalid UTF-8: grouped output must not touch any of it.
    let yaml = "jobs:\n  b:\n    command: printf 'x\\000y\\377z'\n";
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_batchrun"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.yaml"), yaml).unwrap();
    let out = cmd.current_dir(dir.path()).args(["job.yaml", "--progress", "none"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"x\0y\xffz");
}

#[test]
fn a_large_output_streams_through_without_being_held() {
    // 64 MB from one task: it must arrive whole (memory is measured in the closing note; here,
    // correctness of the streaming copy).
    let ran =
        batchrun().job("jobs:\n  big:\n    command: head -c 67108864 /dev/zero\n").args(&["--progress", "none"]).run();
    ran.success();
    assert_eq!(ran.stdout.len(), 64 << 20);
}

#[test]
fn output_past_the_memory_budget_arrives_whole_and_in_order() {
    // Two tasks each hold about 48 MB at once (each waits, after printing, for the other to have
    // printed), more than the 16 MiB that buffers may hold together: one of them spills to a
    // temporary file. Each must still arrive as one block, every line in order.
    let task = |me: &str, other: &str, from: u64| {
        format!("seq {from} {}; touch {me}; while [ ! -e {other} ]; do sleep 0.01; done", from + 5_999_999)
    };
    let yaml = format!(
        "jobs:\n  a:\n    command: sh -c '{}'\n  b:\n    command: sh -c '{}'\n",
        task("a.wrote", "b.wrote", 1),
        task("b.wrote", "a.wrote", 6_000_000)
    );
    let ran = batchrun().job(&yaml).args(&["-j", "2", "--progress", "none"]).run();
    ran.success();
    let block = |from: u64| (from..from + 6_000_000).map(|i| format!("{i}\n")).collect::<String>();
    let (a, b) = (block(1), block(6_000_000));
    assert!(ran.stdout == a.clone() + &b || ran.stdout == b + &a, "two whole blocks, in order within each");
}

#[test]
fn a_task_reopening_its_stdout_loses_nothing() {
    // `> /dev/stdout` opens the task's stdout anew; on a file that would truncate it.
    let yaml = "jobs:\n  t:\n    command: sh -c 'echo a; echo b > /dev/stdout; echo c; echo d > /dev/stderr'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.success();
    assert_eq!(ran.stdout, "a\nb\nc\n");
    ran.stderr_has("d\n");
}

#[test]
fn a_background_process_that_left_the_task_does_not_hold_the_run() {
    // `setsid` takes the sleep out of the task's process group, so the sweep does not reach it,
    // and it keeps the task's stdout open. The run must end with the task, not with the sleep.
    let yaml = "jobs:\n  t:\n    command: sh -c 'setsid sleep 60 & echo $! > bg.pid; echo done'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    let pid = ran.read("bg.pid");
    let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    ran.success();
    assert_eq!(ran.stdout, "done\n");
    assert!(ran.elapsed < std::time::Duration::from_secs(30), "took {:?}", ran.elapsed);
}
