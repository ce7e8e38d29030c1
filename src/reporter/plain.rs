//! Plain lines for logs and CI: no bars, no escape codes. One line per finished task and a
//! progress line every ten seconds.

use std::sync::Arc;
use std::time::Duration;

use super::Reporter;
use super::format::{duration, eta};
use crate::console::{Console, Stream};
use crate::events::{Counts, Event};

const PROGRESS_EVERY: Duration = Duration::from_secs(10);

pub struct Plain {
    console: Arc<Console>,
    next_progress: Duration,
}

impl Plain {
    pub fn new(console: Arc<Console>) -> Plain {
        Plain {
            console,
            next_progress: PROGRESS_EVERY,
        }
    }

    fn line(&self, text: String) {
        self.console
            .write(Stream::Stderr, format!("{text}\n").as_bytes());
    }
}

/// `1234/5000 done, 2 failed, 4 running, 10.0s elapsed, ETA 30.0s`.
pub fn progress_line(counts: &Counts, elapsed: Duration) -> String {
    let mut line = format!("{}/{} done", counts.done(), counts.total);
    if counts.failed > 0 {
        line.push_str(&format!(", {} failed", counts.failed));
    }
    line.push_str(&format!(
        ", {} running, {} elapsed",
        counts.running,
        duration(elapsed)
    ));
    if let Some(eta) = eta(counts, elapsed) {
        line.push_str(&format!(", ETA {}", duration(eta)));
    }
    line
}

impl Reporter for Plain {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted {
                name,
                counts,
                workers,
            } => self.line(format!(
                "batchrun: {name}: {} tasks on {workers} workers",
                counts.total
            )),
            Event::TaskStarted { .. } | Event::RunFinished { .. } => {}
            Event::TaskFinished { task, .. } => {
                let took = duration(task.duration);
                if task.outcome.is_success() {
                    self.line(format!("ok {} {took}", task.label));
                } else {
                    self.line(format!(
                        "FAILED {} {} after {took}",
                        task.label,
                        task.outcome.describe()
                    ));
                }
            }
            Event::JobSkipped {
                job, tasks, reason, ..
            } => {
                self.line(format!("SKIPPED {job} ({tasks} tasks): {reason}"));
            }
        }
    }

    fn tick(&mut self, counts: &Counts, elapsed: Duration) {
        if elapsed >= self.next_progress {
            self.line(format!("progress: {}", progress_line(counts, elapsed)));
            while self.next_progress <= elapsed {
                self.next_progress += PROGRESS_EVERY;
            }
        }
    }
}
