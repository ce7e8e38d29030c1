//! `--events json`: the run's events as JSON lines on stdout, for tools that follow a run live.
//!
//! Format version 1. Every line is one object with `event` (its kind), `at` (RFC 3339 time)
//! and `counts` (`total`, `running`, `succeeded`, `failed`, `cancelled`, `skipped`, `not_run`,
//! `already_done`, and `flaky` and `allowed` when not 0), plus:
//!
//! - `run_started`: `version`, `name`, `workers`, `backend` (`local` or `slurm`)
//! - `task_started`: `job`, `index`, `label`, `key`, `attempt`, `command`
//! - `task_retrying`: the fields of `task_finished` for the failed attempt, and `delay_ms`.
//!   Each attempt that started ends with one `task_retrying` or one `task_finished`, except
//!   when a stop gives a pending retry up: then `task_finished` follows with the same attempt,
//!   which is the task's last.
//! - `task_finished`: the fields of the journal's end record ([`TaskEnd`]: `job`, `index`,
//!   `label`, `key`, `attempt`, `status` (`ok`, `failed`, `signalled`, `timeout`, `cancelled`,
//!   `not_started`, `lost`, `undelivered`), `exit`, `signal`, `duration_ms`, and `reason` when
//!   there is one), plus `command`, `outcome` (in words) and `log`
//! - `job_planned`: `job`, `tasks` (a job planned when it became ready; `counts.total` grew by
//!   `tasks`), and `unplanned` when it could not be (it then counts as one task, which fails)
//! - `job_skipped`: `job`, `tasks` (0 for a job that was never planned), `reason`, `not_run`
//! - `run_cancelling`: `reason`
//! - `warning`: `message` (something the run could not do that changes no count, such as
//!   printing the held-back output of a task whose retry a stop gave up)
//! - `run_finished`: `duration_ms`, `interrupted_by` (a signal number or null)
//!
//! Lines are buffered and handed to the OS each time the dispatcher wakes up, so a reader sees
//! every event within one wake-up of it happening. Task output goes to stderr while this is on
//! (see `Console::redirect_stdout_to_stderr`), so stdout carries nothing but events.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::events::Listener;
use crate::events::{Counts, Event, Finished, TaskEnd};

pub const VERSION: u32 = 1;

pub struct EventsJson<W: Write> {
    out: BufWriter<W>,
    jobs: Vec<String>,
    /// Set once a write fails (a reader that went away): the run goes on without events, says
    /// so at once, and ends with exit 3 through `failed`, so no lost event goes unnoticed.
    closed: bool,
    failed: Arc<AtomicBool>,
    /// As of the last event that carried them, for those that do not (warnings).
    last_counts: Counts,
}

impl EventsJson<io::Stdout> {
    pub fn stdout(jobs: Vec<String>, failed: Arc<AtomicBool>) -> Self {
        EventsJson::new(io::stdout(), jobs, failed)
    }
}

impl<W: Write> EventsJson<W> {
    pub fn new(out: W, jobs: Vec<String>, failed: Arc<AtomicBool>) -> Self {
        EventsJson {
            out: BufWriter::with_capacity(64 * 1024, out),
            jobs,
            closed: false,
            failed,
            last_counts: Counts::default(),
        }
    }
}

/// Writes one line, or nothing once a write has failed.
fn emit<W: Write>(out: &mut BufWriter<W>, closed: &mut bool, failed: &AtomicBool, line: &Line) {
    if *closed {
        return;
    }
    let written = serde_json::to_writer(&mut *out, line).map_err(io::Error::from).and_then(|()| out.write_all(b"\n"));
    if let Err(e) = written {
        lost(closed, failed, &e);
    }
}

fn lost(closed: &mut bool, failed: &AtomicBool, error: &io::Error) {
    *closed = true;
    failed.store(true, Ordering::Relaxed);
    crate::say!("batchrun: error: cannot write the events (--events json): {error}; the run goes on without them");
}

#[derive(Serialize)]
struct Line<'a> {
    event: &'static str,
    at: String,
    #[serde(flatten)]
    body: Body<'a>,
    counts: Counts,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    RunStarted {
        version: u32,
        name: &'a str,
        workers: usize,
        backend: &'a str,
    },
    TaskStarted {
        #[serde(flatten)]
        task: crate::events::TaskStart,
        command: &'a str,
    },
    TaskEnded(TaskEnded<'a>),
    TaskRetrying {
        #[serde(flatten)]
        task: TaskEnded<'a>,
        delay_ms: u64,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        waits_for_worker: bool,
    },
    JobPlanned {
        job: &'a str,
        tasks: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        unplanned: Option<&'a str>,
    },
    JobRerun {
        job: &'a str,
        because: &'a str,
    },
    JobSkipped {
        job: &'a str,
        tasks: u64,
        reason: &'a str,
        not_run: bool,
    },
    RunCancelling {
        reason: &'a str,
    },
    Warning {
        message: &'a str,
    },
    RunFinished {
        duration_ms: u64,
        interrupted_by: Option<i32>,
    },
}

#[derive(Serialize)]
struct TaskEnded<'a> {
    #[serde(flatten)]
    end: TaskEnd,
    command: &'a str,
    /// What happened, in words.
    outcome: String,
    log: Option<&'a Path>,
    /// It failed first and passed on this retry.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    flaky: bool,
    /// It failed in a job with `allow_failure`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    allowed: bool,
}

impl<'a> TaskEnded<'a> {
    fn of(task: &'a Finished, job: &str) -> Self {
        TaskEnded {
            end: TaskEnd::of(task, job),
            command: &task.command,
            outcome: task.outcome.describe(),
            log: task.log.as_deref(),
            flaky: task.outcome.is_success() && task.attempt > 1,
            allowed: task.allowed,
        }
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<W: Write> Listener for EventsJson<W> {
    fn event(&mut self, event: &Event) {
        let jobs = &self.jobs;
        let job = |i: usize| jobs.get(i).map_or("", String::as_str);
        let (kind, body, counts) = match event {
            Event::RunStarted { name, counts, workers, backend } => {
                ("run_started", Body::RunStarted { version: VERSION, name, workers: *workers, backend }, counts)
            }
            Event::TaskStarted { task, attempt, counts } => (
                "task_started",
                Body::TaskStarted {
                    task: crate::events::TaskStart::of(task, job(task.job), *attempt),
                    command: task.command,
                },
                counts,
            ),
            Event::TaskRetrying { task, delay, waits_for_worker, counts } => (
                "task_retrying",
                Body::TaskRetrying {
                    task: TaskEnded::of(task, job(task.job)),
                    delay_ms: millis(*delay),
                    waits_for_worker: *waits_for_worker,
                },
                counts,
            ),
            Event::TaskFinished { task, counts } => {
                ("task_finished", Body::TaskEnded(TaskEnded::of(task, job(task.job))), counts)
            }
            Event::JobPlanned { job, tasks, unplanned, counts } => {
                ("job_planned", Body::JobPlanned { job, tasks: *tasks, unplanned: *unplanned }, counts)
            }
            Event::JobSkipped { job, tasks, reason, not_run, counts, .. } => {
                ("job_skipped", Body::JobSkipped { job, tasks: *tasks, reason, not_run: *not_run }, counts)
            }
            Event::JobRerun { job, because, counts } => ("job_rerun", Body::JobRerun { job, because }, counts),
            Event::RunCancelling { reason, counts } => ("run_cancelling", Body::RunCancelling { reason }, counts),
            Event::Warning { message } => ("warning", Body::Warning { message }, &self.last_counts),
            Event::RunFinished { counts, elapsed, interrupted_by } => (
                "run_finished",
                Body::RunFinished { duration_ms: millis(*elapsed), interrupted_by: *interrupted_by },
                counts,
            ),
        };
        let at = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let counts = *counts;
        emit(&mut self.out, &mut self.closed, &self.failed, &Line { event: kind, at, body, counts });
        self.last_counts = counts;
        if matches!(event, Event::RunFinished { .. }) {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.closed {
            return;
        }
        if let Err(e) = self.out.flush() {
            lost(&mut self.closed, &self.failed, &e);
        }
    }
}
