//! Starting one task as a child process, and reading how it ended.
//!
//! Each task gets its own process group (so it can later be signalled as a whole without
//! touching batchrun), stdin from /dev/null (a background group must never read the
//! terminal), and the `BATCHRUN_*` variables. `process_group` is set through std rather than a
//! `pre_exec` hook, which keeps std's fast `posix_spawn` path.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::events::Outcome;
use crate::plan::{CommandLine, Task};

pub fn spawn(
    task: &Task,
    job: &str,
    cwd: &Path,
    attempt: u32,
    stdout: Stdio,
    stderr: Stdio,
) -> Result<Child, String> {
    let mut command = match &task.command {
        CommandLine::Shell { program, script } => {
            let mut c = Command::new(program);
            c.arg("-c").arg(script);
            c
        }
        CommandLine::Argv(argv) => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    command
        .current_dir(cwd)
        .envs(task.env.iter().map(|(k, v)| (k, v)))
        .env("BATCHRUN_JOB", job)
        .env("BATCHRUN_INDEX", task.index.to_string())
        .env("BATCHRUN_TASK", &task.label)
        .env("BATCHRUN_ATTEMPT", attempt.to_string())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    command
        .spawn()
        .map_err(|e| describe_spawn_error(&e, task, cwd))
}

fn describe_spawn_error(e: &io::Error, task: &Task, cwd: &Path) -> String {
    if e.kind() == io::ErrorKind::NotFound {
        if !cwd.is_dir() {
            return format!("working directory `{}` does not exist", cwd.display());
        }
        let program = match &task.command {
            CommandLine::Shell { program, .. } => program,
            CommandLine::Argv(argv) => argv[0].as_str(),
        };
        return format!("command not found: `{program}`");
    }
    e.to_string()
}

pub fn outcome(status: ExitStatus) -> Outcome {
    match (status.code(), status.signal()) {
        (Some(0), _) => Outcome::Succeeded,
        (Some(code), _) => Outcome::Exited(code),
        (None, Some(sig)) => Outcome::Signalled(sig),
        (None, None) => Outcome::Exited(-1),
    }
}
