//! Talking to Slurm through its commands: `sbatch`, `squeue`, `scancel`, `scontrol`, `sinfo`.
//!
//! Only what every cluster has: no `sacct` (needs slurmdbd), no jobcomp files, no REST API.
//! `squeue` is asked for liveness only, one call per array; how tasks ended comes from the
//! elements' journals.

use std::ops::Range;
use std::process::{Command, Stdio};

/// How long the controller has to answer `scontrol ping` before a run is refused: long enough
/// for a busy controller, far shorter than the client's own retries against one that is gone.
pub const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Slurm's default `MaxArraySize`: array indices run from 0 to 1000.
pub const DEFAULT_MAX_ARRAY_SIZE: u64 = 1001;

/// What the submitter asks of the scheduler. [`Slurm`] runs Slurm's commands; the tests' fake
/// runs the elements in-process, so the submitter's behaviour is tested without a cluster.
pub trait Scheduler {
    /// The most elements one array may have.
    fn max_array_size(&self) -> u64;
    /// `sbatch --parsable ARGS…`: the new array's job id.
    fn submit(&self, args: &[String]) -> Result<String, String>;
    /// What the scheduler says of the array's elements.
    fn poll(&self, array: &str) -> Result<ArrayState, String>;
    fn cancel(&self, arrays: &[String], how: Cancel) -> Result<(), String>;
    /// How many nodes the cluster has (0 when it cannot say).
    fn nodes(&self) -> u64;
}

/// The cluster, through Slurm's client commands.
pub struct Slurm;

impl Scheduler for Slurm {
    fn max_array_size(&self) -> u64 {
        max_array_size()
    }

    fn submit(&self, args: &[String]) -> Result<String, String> {
        submit(args)
    }

    fn poll(&self, array: &str) -> Result<ArrayState, String> {
        poll(array)
    }

    fn cancel(&self, arrays: &[String], how: Cancel) -> Result<(), String> {
        cancel(arrays, how)
    }

    /// `sinfo -h -o %D`: the nodes of each partition, summed.
    fn nodes(&self) -> u64 {
        let counts = call("sinfo", &["-h".into(), "-o".into(), "%D".into()]).unwrap_or_default();
        counts.lines().filter_map(|l| l.trim().parse::<u64>().ok()).sum()
    }
}

/// `scontrol ping`, given `timeout` to answer: whether the controller is up, or what was said.
pub fn ping(timeout: std::time::Duration) -> Result<(), String> {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let mut child = Command::new("scontrol")
        .arg("ping")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run `scontrol ping`: {e}"))?;
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                let group = rustix::process::Pid::from_child(&child);
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                let _ = child.wait();
                return Err(format!("`scontrol ping` had no answer within {}", humantime::format_duration(timeout)));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for `scontrol ping`: {e}")),
        }
    };
    let mut said = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut said);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut said);
    }
    let said: Vec<&str> = said.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let said = said.join(" / ");
    // One controller up is enough (a backup may be down while the primary answers).
    if said.contains(" is UP") {
        Ok(())
    } else {
        Err(format!("`scontrol ping` said: {} ({status})", if said.is_empty() { "nothing" } else { &said }))
    }
}

/// Runs a Slurm command; its stdout, or its stderr (trimmed) as the error.
fn call(program: &str, args: &[String]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{program}`: {e} (is Slurm's client installed and on PATH?)"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        Err(format!("`{program}` failed ({}): {}", output.status, said.join(" / ")))
    }
}

/// The cluster's `MaxArraySize` (`scontrol show config`), or Slurm's default.
fn max_array_size() -> u64 {
    call("scontrol", &["show".into(), "config".into()])
        .ok()
        .and_then(|text| parse_config_value(&text, "MaxArraySize"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MAX_ARRAY_SIZE)
}

fn parse_config_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// `sbatch --parsable ARGS…`: the new array's job id.
fn submit(args: &[String]) -> Result<String, String> {
    let mut all = vec!["--parsable".to_owned()];
    all.extend_from_slice(args);
    let out = call("sbatch", &all)?;
    // `--parsable` prints `ID` or `ID;CLUSTER`.
    let id = out.trim().split(';').next().unwrap_or("").to_owned();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("`sbatch` printed no job id: {}", out.trim()));
    }
    Ok(id)
}

/// What `squeue` says of one array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrayState {
    /// The state of each element it lists (pending ones may be listed as ranges).
    Elements(Vec<(Vec<Range<u64>>, String)>),
    /// The scheduler no longer knows the array (it ended longer ago than `MinJobAge`).
    Gone,
}

/// `squeue -h -r -t all -j ID -o %K|%T`: one call for the whole array.
fn poll(array: &str) -> Result<ArrayState, String> {
    let args: Vec<String> =
        ["-h", "-r", "-t", "all", "-j", array, "-o", "%K|%T"].iter().map(|s| s.to_string()).collect();
    match call("squeue", &args) {
        Ok(text) => Ok(parse_squeue(&text)),
        Err(e) if e.contains("Invalid job id") => Ok(ArrayState::Gone),
        Err(e) => Err(e),
    }
}

pub fn parse_squeue(text: &str) -> ArrayState {
    let elements: Vec<(Vec<Range<u64>>, String)> = text
        .lines()
        .filter_map(|line| {
            let (indices, state) = line.trim().split_once('|')?;
            Some((parse_indices(indices)?, state.trim().to_owned()))
        })
        .collect();
    if elements.is_empty() { ArrayState::Gone } else { ArrayState::Elements(elements) }
}

/// `7`, `[2-9%2]`, `3,5-7` → index ranges (a `%K` throttle is dropped).
fn parse_indices(text: &str) -> Option<Vec<Range<u64>>> {
    let text = text.trim().trim_start_matches('[').trim_end_matches(']');
    let text = text.split('%').next()?;
    text.split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => Some(a.trim().parse().ok()?..b.trim().parse::<u64>().ok()? + 1),
            None => {
                let i: u64 = part.trim().parse().ok()?;
                Some(i..i + 1)
            }
        })
        .collect()
}

/// States after which an element runs nothing more.
pub fn is_finished(state: &str) -> bool {
    !matches!(
        state,
        "PENDING"
            | "RUNNING"
            | "CONFIGURING"
            | "COMPLETING"
            | "SUSPENDED"
            | "REQUEUED"
            | "REQUEUE_HOLD"
            | "REQUEUE_FED"
            | "RESIZING"
            | "SIGNALING"
            | "STAGE_OUT"
            | "STOPPED"
            | "RESV_DEL_HOLD"
    )
}

/// How arrays are cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// Pending elements only; running ones finish.
    Pending,
    /// Pending elements, and SIGTERM to the batchrun of each running one, which stops its
    /// tasks as a local run would (SIGTERM to each group, SIGKILL after `kill_grace`) and
    /// records them as cancelled. A plain `scancel` would signal every process of the element
    /// at once, and a task whose child was killed could still end "successfully".
    Graceful,
    /// `scancel`: everything, at once.
    Hard,
}

fn cancel(arrays: &[String], how: Cancel) -> Result<(), String> {
    if arrays.is_empty() {
        return Ok(());
    }
    let with = |flags: &[&str]| {
        let mut args: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        args.extend(arrays.iter().cloned());
        match call("scancel", &args) {
            // Nothing left of that array to cancel.
            Err(e) if e.contains("Invalid job id") => Ok(()),
            other => other.map(drop),
        }
    };
    match how {
        Cancel::Pending => with(&["--state=PENDING"]),
        Cancel::Graceful => with(&["--state=PENDING"]).and(with(&["--batch", "--signal=TERM", "--state=RUNNING"])),
        Cancel::Hard => with(&[]),
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_become_element_states() {
        let text = "0|COMPLETED\n1|RUNNING\n[2-9%2]|PENDING\n10|CANCELLED\n";
        assert_eq!(
            parse_squeue(text),
            ArrayState::Elements(vec![
                (vec![0..1], "COMPLETED".into()),
                (vec![1..2], "RUNNING".into()),
                (vec![2..10], "PENDING".into()),
                (vec![10..11], "CANCELLED".into()),
            ])
        );
        assert_eq!(parse_squeue(""), ArrayState::Gone);
        assert_eq!(parse_indices("3,5-7"), Some(vec![3..4, 5..8]));
        assert_eq!(parse_indices("2-9%2"), Some(vec![2..10]));
        assert_eq!(parse_indices("x"), None);
    }

    #[test]
    fn finished_states() {
        for s in ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "PREEMPTED"]
        {
            assert!(is_finished(s), "{s}");
        }
        for s in ["PENDING", "RUNNING", "COMPLETING", "REQUEUED"] {
            assert!(!is_finished(s), "{s}");
        }
    }

    #[test]
    fn config_values() {
        let text = "Configuration data as of …\nMaxArraySize            = 1001\nMaxJobCount = 10000\n";
        assert_eq!(parse_config_value(text, "MaxArraySize").as_deref(), Some("1001"));
        assert_eq!(parse_config_value(text, "Nope"), None);
    }
}
