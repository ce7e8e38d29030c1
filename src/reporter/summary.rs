//! The end-of-run summary on stderr: counts, times, the slowest tasks, and for each failed task
//! what happened and the last lines of its stderr.
//!
//! It keeps a bounded amount of state whatever the number of tasks: the few slowest, the first
//! [`MAX_FAILURES_SHOWN`] failures in plan order in full and as many flaky tasks (the rest are
//! counted). On a
//! colour terminal the counts, FAILED and FLAKY are coloured (the `console` crate's switch for
//! stderr, set once from `--color`).

use std::sync::Arc;
use std::time::Duration;

use super::format::duration;
use crate::console::{Console, Stream};
use crate::events::Listener;
use crate::events::{Event, Finished, Outcome};
use crate::words::{count, number};

const SLOWEST_SHOWN: usize = 3;
const MAX_FAILURES_SHOWN: usize = 20;

pub struct Summary {
    console: Arc<Console>,
    task_time: Duration,
    slowest: Vec<(Duration, String)>,
    failures: Vec<Finished>,
    /// Tasks that failed and then succeeded on a retry: label, attempts.
    flaky: Vec<(String, u32)>,
    flaky_count: u64,
    skipped: Vec<String>,
    retried_tasks: u64,
    extra_attempts: u64,
    stopped: Option<String>,
    /// How to finish the run later, shown when something is left to do.
    resume_command: Option<String>,
}

impl Summary {
    pub fn new(console: Arc<Console>, resume_command: Option<String>) -> Summary {
        Summary {
            console,
            task_time: Duration::ZERO,
            slowest: Vec::new(),
            failures: Vec::new(),
            flaky: Vec::new(),
            flaky_count: 0,
            skipped: Vec::new(),
            retried_tasks: 0,
            extra_attempts: 0,
            stopped: None,
            resume_command,
        }
    }

    fn note_duration(&mut self, label: &str, took: Duration) {
        self.task_time += took;
        if self.slowest.len() < SLOWEST_SHOWN || self.slowest.last().is_some_and(|(d, _)| took > *d) {
            let at = self.slowest.partition_point(|(d, _)| *d >= took);
            self.slowest.insert(at, (took, label.to_owned()));
            self.slowest.truncate(SLOWEST_SHOWN);
        }
    }
}

impl Listener for Summary {
    fn event(&mut self, event: &Event) {
        match event {
            Event::TaskFinished { task, .. } => {
                self.note_duration(&task.label, task.duration);
                // A task batchrun stopped is counted, and the stop's reason said once. The first
                // failures in plan order are kept, whatever order they finished in.
                if !task.outcome.is_success() && task.outcome != Outcome::Cancelled {
                    let place = |f: &Finished| (f.job, f.index);
                    let at = self.failures.partition_point(|f| place(f) < place(task));
                    if at < MAX_FAILURES_SHOWN {
                        self.failures.insert(at, Finished { evidence: None, ..(*task).clone() });
                        self.failures.truncate(MAX_FAILURES_SHOWN);
                    }
                }
                if task.outcome.is_success() && task.attempt > 1 {
                    self.flaky_count += 1;
                    if self.flaky.len() < MAX_FAILURES_SHOWN {
                        self.flaky.push((task.label.clone(), task.attempt));
                    }
                }
            }
            Event::TaskRetrying { task, .. } => self.task_time += task.duration,
            // Counted when a retry starts, not when it is planned: a stop during the retry delay
            // means it never runs.
            Event::TaskStarted { attempt, .. } if *attempt > 1 => {
                self.extra_attempts += 1;
                if *attempt == 2 {
                    self.retried_tasks += 1;
                }
            }
            Event::RunCancelling { reason, .. } => {
                self.stopped.get_or_insert_with(|| reason.to_string());
            }
            Event::JobPlanned { .. } | Event::Warning { .. } | Event::JobRerun { .. } => {}
            Event::JobSkipped { job, tasks, reason, not_run, .. } => {
                self.skipped.push(super::plain::skipped_line(job, *tasks, reason, *not_run))
            }
            Event::RunFinished { counts, elapsed, .. } => {
                let mut out = String::new();
                // Coloured only where it says something: a count of 0 stays plain.
                let paint = |n: u64, style: fn(console::StyledObject<String>) -> console::StyledObject<String>| {
                    let text = number(n);
                    if n > 0 { style(console::style(text).for_stderr()).to_string() } else { text }
                };
                out.push_str(&format!(
                    "\n{}: {}: {} succeeded{}, {} failed{}{}, {} skipped{}{} in {} (task time {})\n",
                    console::style("Summary").bold().for_stderr(),
                    count(counts.total, "task"),
                    paint(counts.succeeded, |s| s.green()),
                    if counts.flaky > 0 {
                        format!(" ({} flaky)", paint(counts.flaky, |s| s.yellow()))
                    } else {
                        String::new()
                    },
                    paint(counts.failed - counts.allowed, |s| s.red().bold()),
                    if counts.allowed > 0 {
                        format!(" (and {} allowed to fail)", paint(counts.allowed, |s| s.yellow()))
                    } else {
                        String::new()
                    },
                    if counts.cancelled > 0 {
                        format!(", {} cancelled", paint(counts.cancelled, |s| s.yellow()))
                    } else {
                        String::new()
                    },
                    paint(counts.skipped, |s| s.yellow()),
                    if counts.not_run > 0 {
                        format!(", {} not run", paint(counts.not_run, |s| s.yellow()))
                    } else {
                        String::new()
                    },
                    if counts.already_done > 0 {
                        format!(", {} already done", number(counts.already_done))
                    } else {
                        String::new()
                    },
                    duration(*elapsed),
                    duration(self.task_time)
                ));
                if counts.unaccounted() > 0 {
                    out.push_str(&format!(
                        "  error: {} planned tasks are in no count above (batchrun lost track of them): run again with --resume to finish them, and please report this\n",
                        counts.unaccounted()
                    ));
                }
                if self.retried_tasks > 0 {
                    out.push_str(&format!(
                        "  retried {}, {}\n",
                        count(self.retried_tasks, "task"),
                        count(self.extra_attempts, "extra attempt")
                    ));
                }
                if let Some(reason) = &self.stopped {
                    out.push_str(&format!("  stopped early: {reason}\n"));
                }
                if counts.total > 1 && !self.slowest.is_empty() {
                    let slowest: Vec<String> =
                        self.slowest.iter().map(|(d, l)| format!("{l} {}", duration(*d))).collect();
                    out.push_str(&format!("  slowest: {}\n", slowest.join(", ")));
                }
                for f in &self.failures {
                    let attempts = if f.attempt > 1 { format!(" ({} attempts)", f.attempt) } else { String::new() };
                    let failed = match f.allowed {
                        true => console::style("FAILED (allowed)").yellow().bold().for_stderr(),
                        false => console::style("FAILED").red().bold().for_stderr(),
                    };
                    out.push_str(&format!("  {failed} {}: {}{attempts}\n", f.label, f.outcome.describe()));
                    if !f.command.is_empty() {
                        out.push_str(&format!("    command: {}\n", shown_command(&f.command)));
                    }
                    for line in &f.stderr_tail {
                        out.push_str(&format!("    stderr | {line}\n"));
                    }
                    if let Some(log) = &f.log {
                        out.push_str(&format!("    log: {}.out, .err\n", log.display()));
                    }
                }
                let unshown = counts.failed.saturating_sub(self.failures.len() as u64);
                if unshown > 0 {
                    out.push_str(&format!("  … and {}\n", count(unshown, "more failed task")));
                }
                for (label, attempts) in &self.flaky {
                    let flaky = console::style("FLAKY").yellow().bold().for_stderr();
                    out.push_str(&format!("  {flaky} {label}: succeeded on attempt {attempts}\n"));
                }
                let unshown = self.flaky_count.saturating_sub(self.flaky.len() as u64);
                if unshown > 0 {
                    out.push_str(&format!("  … and {}\n", count(unshown, "more flaky task")));
                }
                for s in &self.skipped {
                    out.push_str(&format!("  {s}\n"));
                }
                if counts.failed + counts.cancelled + counts.skipped + counts.not_run + counts.unaccounted() > 0
                    && let Some(command) = &self.resume_command
                {
                    out.push_str(&format!("To run what is left: {command}\n"));
                }
                let _ = self.console.write(Stream::Stderr, out.as_bytes());
            }
            Event::RunStarted { .. } | Event::TaskStarted { .. } => {}
        }
    }
}
/// How much of a command the summary shows: a generated command can be megabytes.
const COMMAND_SHOWN: usize = 300;

/// The command (its control characters escaped: a value holding a newline cannot start a
/// line of its own), or its start and where the whole one is.
fn shown_command(command: &str) -> String {
    let command = crate::words::escape_controls(command);
    super::format::cut_command(&command, COMMAND_SHOWN, "`batchrun plan FILE` or `--report run.json`").into_owned()
}
