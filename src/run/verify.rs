//! A job's `verify:` command: run after the task's command succeeded and before its product
//! is committed, so that a product that is complete but wrong (too few rows) is never
//! committed. Its failure fails the attempt, which is retried like any other failure.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::config::Settings;
use crate::plan::Task;
use crate::plan::command_line::CommandLine;

/// What a verify that failed printed, for the attempt's stderr.
pub struct Failed {
    pub why: String,
    pub stderr_tail: Vec<String>,
}

/// Runs task's rendered `verify` in its `cwd`, with its environment: its trimmed stdout, or
/// why it failed.
pub fn run(task: &Task, verify: &str, job: &str, attempt: u32, settings: &Settings) -> Result<String, Failed> {
    let fail = |why: String| Failed { why, stderr_tail: Vec::new() };
    let line = CommandLine::resolve(verify, settings.shell).map_err(|e| fail(format!("verify: {e}")))?;
    let mut command = match &line {
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
    let output = command
        .current_dir(Path::new(&settings.cwd))
        .envs(task.env.iter().map(|(k, v)| (k, v)))
        .env("BATCHRUN_JOB", job)
        .env("BATCHRUN_INDEX", task.index.to_string())
        .env("BATCHRUN_TASK", &task.label)
        .env("BATCHRUN_ATTEMPT", attempt.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(format!("verify could not start: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let stderr_tail = lines[lines.len().saturating_sub(5)..].iter().map(|l| format!("verify | {l}")).collect();
    let status = match output.status.code() {
        Some(code) => format!("exit {code}"),
        None => output.status.to_string(),
    };
    Err(Failed { why: format!("verify failed ({status})"), stderr_tail })
}
