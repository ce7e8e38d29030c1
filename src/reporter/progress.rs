//! The terminal display: one overall bar and a line per running task.
//!
//! Events only update state; drawing happens on ticks (10 Hz), so a run of thousands of tiny
//! tasks per second costs no redraw per task. Lines for running tasks are capped, so more
//! workers than terminal rows never break the display. Everything else that reaches the
//! terminal goes through the [`Console`], which suspends these bars around it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::format::{duration, eta, rate};
use super::plain;
use crate::console::{Console, Stream};
use crate::events::Listener;
use crate::events::{Counts, Event};
use crate::words::number;

/// At most this many running tasks get a line of their own.
const MAX_RUNNING_LINES: usize = 8;

pub struct Progress {
    console: Arc<Console>,
    multi: MultiProgress,
    overall: ProgressBar,
    lines: Vec<ProgressBar>,
    max_lines: usize,
    /// Running tasks, oldest first: label, what to show, start time.
    running: Vec<(String, String, Instant)>,
}

impl Progress {
    /// The bars to hand to [`Console::set_bars`] before the console is shared.
    pub fn bars() -> MultiProgress {
        MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10))
    }

    pub fn new(console: Arc<Console>) -> Progress {
        let multi = console.bars().cloned().unwrap_or_else(Progress::bars);
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30.cyan/blue}] {human_pos}/{human_len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let rows = console::Term::stderr().size_checked().map_or(24, |(rows, _)| rows as usize);
        let max_lines = MAX_RUNNING_LINES.min(rows.saturating_sub(3)).max(1);
        Progress { console, multi, overall, lines: Vec::new(), max_lines, running: Vec::new() }
    }

    fn draw(&mut self, counts: &Counts, elapsed: Duration) {
        self.overall.set_length(counts.total);
        self.overall.set_position(counts.done());
        let mut msg = String::new();
        if counts.failed > 0 {
            msg.push_str(&format!("{} failed · ", number(counts.failed)));
        }
        if counts.skipped > 0 {
            msg.push_str(&format!("{} skipped · ", number(counts.skipped)));
        }
        if let Some(rate) = rate(counts, elapsed) {
            msg.push_str(&format!("{rate} · "));
        }
        msg.push_str(&format!("{} elapsed", duration(elapsed)));
        if let Some(eta) = eta(counts, elapsed) {
            msg.push_str(&format!(" · ETA {}", duration(eta)));
        }
        self.overall.set_message(msg);

        let shown = self.running.len().min(self.max_lines);
        while self.lines.len() < shown {
            let line = self.multi.add(ProgressBar::new_spinner());
            line.set_style(
                ProgressStyle::with_template("  {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            self.lines.push(line);
        }
        while self.lines.len() > shown {
            if let Some(line) = self.lines.pop() {
                line.finish_and_clear();
                self.multi.remove(&line);
            }
        }
        let now = Instant::now();
        let hidden = self.running.len() - shown;
        for (i, (line, (_, label, since))) in self.lines.iter().zip(&self.running).enumerate() {
            let more =
                if hidden > 0 && i + 1 == shown { format!("   (+{hidden} more running)") } else { String::new() };
            line.set_message(format!("▸ {label}  {}{more}", duration(now - *since)));
        }
    }

    fn ended(&mut self, label: &str) {
        if let Some(at) = self.running.iter().position(|(l, _, _)| l == label) {
            self.running.remove(at);
        }
    }

    /// A line above the bars.
    fn say(&self, line: &str) {
        let _ = self.console.write(Stream::Stderr, format!("{line}\n").as_bytes());
    }

    fn clear(&mut self) {
        for line in self.lines.drain(..) {
            line.finish_and_clear();
            self.multi.remove(&line);
        }
        self.overall.finish_and_clear();
    }
}

impl Listener for Progress {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { name, counts, .. } => {
                self.overall.set_prefix(name.to_string());
                self.draw(counts, Duration::ZERO);
            }
            Event::TaskStarted { task, attempt, .. } => {
                let label = task.label;
                let shown = if *attempt > 1 { format!("{label} (attempt {attempt})") } else { label.to_owned() };
                self.running.push((label.to_owned(), shown, Instant::now()));
            }
            Event::TaskRetrying { task, delay, waits_for_worker, .. } => {
                self.ended(&task.label);
                self.say(&plain::retry_line(task, *delay, *waits_for_worker));
            }
            Event::TaskFinished { task, .. } => {
                self.ended(&task.label);
                if !task.outcome.is_success() {
                    self.say(&plain::finished_line(task));
                }
            }
            Event::JobSkipped { job, tasks, reason, not_run, .. } => {
                self.say(&plain::skipped_line(job, *tasks, reason, *not_run))
            }
            Event::RunCancelling { reason, .. } => self.say(&format!("STOPPING: {reason}")),
            Event::RunFinished { .. } => self.clear(),
            // The bar's length follows `counts.total` at the next draw.
            Event::JobPlanned { .. } | Event::Warning { .. } => {}
        }
    }

    fn tick(&mut self, counts: &Counts, elapsed: Duration) {
        self.draw(counts, elapsed);
    }
}
