//! A job's `verify:` command: run after the task's command succeeded and before its product
//! is committed, so that a product that is complete but wrong (too few rows) is never
//! committed. Its failure fails the attempt, which is retried like any other failure. It runs
//! in a process group of its own, under the job's `timeout` and the run's cancellation, so a
//! check that hangs is stopped as a task would be.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::cancel::{Cancel, Level};
use crate::config::Settings;
use crate::plan::Task;
use crate::plan::command_line::CommandLine;

/// What a verify that failed printed, for the attempt's stderr.
pub struct Failed {
    pub why: String,
    pub stderr_tail: Vec<String>,
}

/// The rows a verify reported: its output's last line, when that is a count alone.
pub fn rows(printed: &str) -> Option<u64> {
    let last = printed.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    // `u64::from_str` takes a leading `+`; a count is digits only.
    last.bytes().all(|b| b.is_ascii_digit()).then(|| last.parse().ok()).flatten()
}

/// How often a running verify is looked at (its end, its timeout, a stop).
const POLL: Duration = Duration::from_millis(10);

/// Runs task's rendered `verify` in its `cwd`, with its environment: its trimmed stdout, or
/// why it failed. `Ok(None)`: the run stopped it.
pub fn run(
    task: &Task,
    verify: &str,
    job: &str,
    attempt: u32,
    settings: &Settings,
    cancel: &Cancel,
) -> Result<Option<String>, Failed> {
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
    let mut child = command
        .current_dir(Path::new(&settings.cwd))
        .envs(task.env.iter().map(|(k, v)| (k, v)))
        .env("BATCHRUN_JOB", job)
        .env("BATCHRUN_INDEX", task.index.to_string())
        .env("BATCHRUN_TASK", task.place(job))
        .env("BATCHRUN_ATTEMPT", attempt.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| fail(format!("verify could not start: {e}")))?;
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            text
        })
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let group = rustix::process::Pid::from_child(&child);
    let kill = || _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                kill();
                return Err(fail(format!("cannot wait for verify: {e}")));
            }
        }
        if cancel.level() >= Level::Terminate {
            kill();
            let _ = child.wait();
            return Ok(None);
        }
        if let Some(limit) = settings.timeout
            && started.elapsed() >= limit
        {
            kill();
            let _ = child.wait();
            return Err(fail(format!("verify timed out after {}", humantime::format_duration(limit))));
        }
        std::thread::sleep(POLL);
    };
    // What is left in the group (a background child holding the pipes) ends with it.
    kill();
    let stdout = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).trim().to_owned();
    if status.success() {
        return Ok(Some(stdout));
    }
    let stderr = stderr.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let stderr_tail = lines[lines.len().saturating_sub(5)..].iter().map(|l| format!("verify | {l}")).collect();
    let status = match status.code() {
        Some(code) => format!("exit {code}"),
        None => status.to_string(),
    };
    Err(Failed { why: format!("verify failed ({status})"), stderr_tail })
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_are_a_count_alone_on_the_last_line() {
        assert_eq!(super::rows("checked\n 1200 \n"), Some(1200));
        assert_eq!(super::rows("1200 rows"), None);
        assert_eq!(super::rows("+5"), None);
        assert_eq!(super::rows("-5"), None);
        assert_eq!(super::rows(""), None);
        assert_eq!(super::rows("99999999999999999999999"), None, "too big to be a count");
    }
}
