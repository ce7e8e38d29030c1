//! The terminal display: one overall bar and a line per running task.
//!
//! Events only update state; drawing happens on ticks (10 Hz), so a run of thousands of tiny
//! tasks per second costs no redraw per task. Lines for running tasks are capped, so more
//! workers than terminal rows never break the display. Everything else that reaches the
//! terminal goes through the [`Console`], which suspends these bars around it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::eta::Estimate;
use super::format::{duration, rate};
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
    estimate: Estimate,
    /// The terminal's width the bar was last fitted to, and the bar's width then.
    fitted_to: Option<usize>,
    bar: usize,
}

/// The bar's width at most; it narrows on a narrow terminal, down to [`MIN_BAR`].
const MAX_BAR: usize = 30;
const MIN_BAR: usize = 5;

impl Progress {
    /// The bars to hand to [`Console::set_bars`] before the console is shared.
    pub fn bars() -> MultiProgress {
        MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10))
    }

    /// `jobs`: each job's name and the tasks planned for it at the start (for the ETA).
    pub fn new(console: Arc<Console>, jobs: Vec<(String, u64)>) -> Progress {
        let multi = console.bars().cloned().unwrap_or_else(Progress::bars);
        // Length 1 until the first draw: indicatif draws a bar of length 0 full.
        let overall = multi.add(ProgressBar::new(1));
        let rows = console::Term::stderr().size_checked().map_or(24, |(rows, _)| rows as usize);
        let max_lines = MAX_RUNNING_LINES.min(rows.saturating_sub(3)).max(1);
        let estimate = Estimate::new(jobs);
        let mut progress = Progress {
            console,
            multi,
            overall,
            lines: Vec::new(),
            max_lines,
            running: Vec::new(),
            estimate,
            fitted_to: None,
            bar: MAX_BAR,
        };
        progress.fit(progress.columns());
        progress
    }

    /// The terminal's width now (it may change while the run goes on).
    fn columns(&self) -> usize {
        console::Term::stderr().size_checked().map_or(80, |(_, cols)| cols as usize)
    }

    /// Fits the bar to a terminal `columns` wide: the bar narrows before the text after it is
    /// cut, and one column stays free so that no line wraps.
    fn fit(&mut self, columns: usize) {
        if self.fitted_to == Some(columns) {
            return;
        }
        self.fitted_to = Some(columns);
        let prefix = console::measure_text_width(&self.overall.prefix());
        // `NAME [BAR] 1,234/5,000 · …`: room for the counts and a few words of the message.
        let bar = columns.saturating_sub(prefix + 4 + 45).clamp(MIN_BAR, MAX_BAR);
        self.bar = bar;
        let template = format!("{{prefix:.bold}} [{{bar:{bar}.cyan/blue}}] {{msg}}");
        self.overall.set_style(
            ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
    }

    /// What is left of a line `columns` wide after `used` columns, the spare one kept.
    fn room(columns: usize, used: usize) -> usize {
        columns.saturating_sub(used + 1)
    }

    fn draw(&mut self, counts: &Counts, elapsed: Duration) {
        let columns = self.columns();
        self.fit(columns);
        self.overall.set_length(counts.total.max(1));
        self.overall.set_position(counts.done());
        // `12/40 1 failed · 9.5 tasks/s · 2.4s elapsed · ETA 1.3s`; on a narrow terminal the
        // rate goes first, then the time elapsed, so that the counts and the ETA stay.
        let eta = self.estimate.left(counts, elapsed).map(|eta| format!("ETA {}", duration(eta)));
        let rate = rate(counts, elapsed);
        let elapsed = Some(format!("{} elapsed", duration(elapsed)));
        let compose = |rate: &Option<String>, elapsed: &Option<String>| {
            let mut msg = format!("{}/{} ", number(counts.done()), number(counts.total));
            let mut parts = Vec::new();
            if counts.failed > 0 {
                parts.push(format!("{} failed", number(counts.failed)));
            }
            if counts.cancelled > 0 {
                parts.push(format!("{} cancelled", number(counts.cancelled)));
            }
            if counts.skipped > 0 {
                parts.push(format!("{} skipped", number(counts.skipped)));
            }
            parts.extend([rate, elapsed, &eta].into_iter().flatten().cloned());
            msg.push_str(&parts.join(" · "));
            msg
        };
        let room = Self::room(columns, console::measure_text_width(&self.overall.prefix()) + 4 + self.bar);
        let msg = [compose(&rate, &elapsed), compose(&None, &elapsed), compose(&None, &None)]
            .into_iter()
            .find(|m| console::measure_text_width(m) <= room)
            .unwrap_or_else(|| compose(&None, &None));
        self.overall.set_message(console::truncate_str(&msg, room, "…").into_owned());

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
            let text = format!("▸ {label}  {}{more}", duration(now - *since));
            line.set_message(console::truncate_str(&text, Self::room(columns, 2), "…").into_owned());
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
        self.estimate.event(event);
        match event {
            Event::RunStarted { name, counts, .. } => {
                self.overall.set_prefix(name.to_string());
                self.fitted_to = None;
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
            Event::JobRerun { job, because, .. } => self.say(&plain::rerun_line(job, because)),
            Event::RunFinished { .. } => self.clear(),
            // The bar's length follows `counts.total` at the next draw.
            Event::JobPlanned { .. } | Event::Warning { .. } => {}
        }
    }

    fn tick(&mut self, counts: &Counts, elapsed: Duration) {
        self.draw(counts, elapsed);
    }
}
