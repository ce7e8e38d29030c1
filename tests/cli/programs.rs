//! How a task's program is found: batchrun looks a bare name up in PATH itself, once per
//! worker, and the program must not be able to tell.

use crate::harness::batchrun;

#[test]
fn a_program_found_in_path_keeps_its_name_as_argv0() {
    // `cat /proc/self/cmdline` prints cat's own argv, NUL-separated.
    let ran = batchrun()
        .job("jobs:\n  c:\n    items: [1, 2, 3]\n    command: cat /proc/self/cmdline\n")
        .args(&["--progress", "none", "-j", "1"])
        .run();
    ran.success();
    assert_eq!(ran.stdout, "cat\0/proc/self/cmdline\0".repeat(3));
}

#[test]
fn a_task_environment_path_is_searched_and_a_missing_program_still_fails_clearly() {
    let b = batchrun().file("tools/only-here", "#!/bin/sh\necho found-in-task-path\n");
    let tools = b.path().join("tools");
    std::fs::set_permissions(tools.join("only-here"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let job = format!(
        "jobs:\n  with:\n    env: {{PATH: '{}:/usr/bin:/bin'}}\n    command: only-here\n  \
         without:\n    command: only-here\n",
        tools.display()
    );
    let ran = b.job(&job).args(&["--progress", "plain"]).run();
    ran.code(1).stdout_has("found-in-task-path").stderr_has("not started: command not found: `only-here`");
}
