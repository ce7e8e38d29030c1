//! GitHub Actions: an error annotation per failed task (a warning for one its job allows), and
//! a Markdown summary of the run in the job's step summary. Active when `GITHUB_ACTIONS=true`;
//! the folding of failed tasks' output in `::group::` blocks is done where output is printed
//! (`run/output/mod.rs`).
//!
//! Within GitHub's limits: it shows at most 10 error and 10 warning annotations of a step, and
//! takes at most 1 MiB of step summary. So the first failures of each level are annotated one by
//! one and the rest in one last annotation that names them and points to the summary; the
//! summary is cut, with a note, where the file would pass the limit.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use super::format::duration;
use crate::console::{Console, Stream};
use crate::events::Listener;
use crate::events::{Event, Finished, Outcome};

/// Failed tasks listed in the step summary; the rest are counted.
const SUMMARY_ROWS: usize = 50;

/// Annotations of one level that GitHub shows for a step.
const ANNOTATIONS_SHOWN: usize = 10;

/// The most a step summary may hold.
const STEP_SUMMARY_LIMIT: u64 = 1024 * 1024;

/// The longest text of a table cell in the step summary.
const CELL_CHARS: usize = 300;

/// Failed tasks of one level past those annotated one by one.
#[derive(Default)]
struct Unannotated {
    annotated: usize,
    /// Each one kept whole while one more would still fit as its own annotation.
    held: Vec<(String, String)>,
    /// Labels of the rest (the first ones; the others are counted).
    labels: Vec<String>,
    more: u64,
}

pub struct GitHub {
    console: Arc<Console>,
    name: String,
    step_summary: Option<PathBuf>,
    failures: Vec<Finished>,
    errors: Unannotated,
    warnings: Unannotated,
}

impl GitHub {
    /// The reporter, when running under GitHub Actions.
    pub fn from_env(console: Arc<Console>) -> Option<GitHub> {
        (std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")).then(|| GitHub {
            console,
            name: String::new(),
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()).map(PathBuf::from),
            failures: Vec::new(),
            errors: Unannotated::default(),
            warnings: Unannotated::default(),
        })
    }

    fn annotate(&self, level: &str, title: &str, message: &str) {
        let line = format!("::{level} title={}::{}\n", escape_property(title), escape_data(message));
        let _ = self.console.write(Stream::Stdout, line.as_bytes());
    }

    /// A failed task's annotation: written now while fewer than all but one of the level's
    /// have been (all but two of the errors: one is kept for an interrupt); the next one held
    /// (it is written alone if it is the last); the rest grouped.
    fn failed(&mut self, level: &'static str, title: String, message: String) {
        let (pending, one_by_one) = match level {
            "error" => (&mut self.errors, ANNOTATIONS_SHOWN - 2),
            _ => (&mut self.warnings, ANNOTATIONS_SHOWN - 1),
        };
        if pending.annotated < one_by_one {
            pending.annotated += 1;
            self.annotate(level, &title, &message);
        } else if pending.held.is_empty() && pending.more == 0 {
            pending.held.push((title, message));
        } else {
            pending.more += 1;
            if pending.labels.len() < SUMMARY_ROWS {
                pending.labels.push(title);
            }
        }
    }

    /// At the end: the held annotation alone, or one that groups it with the rest.
    fn annotate_the_rest(&mut self) {
        for level in ["error", "warning"] {
            let pending = std::mem::take(if level == "error" { &mut self.errors } else { &mut self.warnings });
            match (pending.held.into_iter().next(), pending.more) {
                (Some((title, message)), 0) => self.annotate(level, &title, &message),
                (Some((title, _)), more) => {
                    let all = more + 1;
                    let mut names: Vec<String> = std::iter::once(title).chain(pending.labels).collect();
                    let unnamed = all.saturating_sub(names.len() as u64);
                    names.iter_mut().for_each(|t| *t = t.trim_start_matches("batchrun: ").to_owned());
                    let mut message = names.join("\n");
                    if unnamed > 0 {
                        message.push_str(&format!("\n… and {unnamed} more"));
                    }
                    let what = if level == "error" { "more failed task" } else { "more allowed failure" };
                    let title = format!("batchrun: and {}: see the step summary", crate::words::count(all, what));
                    self.annotate(level, &title, &message);
                }
                (None, _) => {}
            }
        }
    }

    fn summary_markdown(&self, counts: &crate::events::Counts, elapsed: std::time::Duration) -> String {
        let mut md = format!("### batchrun: {}\n\n", self.name);
        md.push_str(
            "| tasks | succeeded | failed | cancelled | skipped | not run | already done | time |\n|---|---|---|---|---|---|---|---|\n",
        );
        let flaky = if counts.flaky > 0 { format!(" ({} flaky)", counts.flaky) } else { String::new() };
        md.push_str(&format!(
            "| {} | {}{flaky} | {} | {} | {} | {} | {} | {} |\n",
            counts.total,
            counts.succeeded,
            counts.failed,
            counts.cancelled,
            counts.skipped,
            counts.not_run,
            counts.already_done,
            duration(elapsed)
        ));
        if !self.failures.is_empty() {
            md.push_str("\n| failed task | what happened | attempts | last line of stderr |\n|---|---|---|---|\n");
            for f in &self.failures {
                let last = f.stderr_tail.last().map(|l| table_cell(l)).unwrap_or_default();
                md.push_str(&format!(
                    "| `{}` | {} | {} | {last} |\n",
                    f.label,
                    table_cell(&f.outcome.describe()),
                    f.attempt
                ));
            }
            let more = counts.failed.saturating_sub(self.failures.len() as u64);
            if more > 0 {
                md.push_str(&format!("\n… and {}.\n", crate::words::count(more, "more failed task")));
            }
        }
        md
    }
}

impl Listener for GitHub {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { name, .. } => self.name = name.to_string(),
            // A task batchrun stopped gets no annotation: the interrupt gets one, at the end.
            Event::TaskFinished { task, .. } if !task.outcome.is_success() && task.outcome != Outcome::Cancelled => {
                let mut message = task.outcome.describe();
                if task.attempt > 1 {
                    message.push_str(&format!(" after {} attempts", task.attempt));
                }
                for line in &task.stderr_tail {
                    message.push('\n');
                    message.push_str(line);
                }
                // A failure its job allows is a warning: it does not fail the step.
                let (level, title) = match task.allowed {
                    true => ("warning", format!("batchrun: {} failed (allowed)", task.label)),
                    false => ("error", format!("batchrun: {} failed", task.label)),
                };
                self.failed(level, title, message);
                if self.failures.len() < SUMMARY_ROWS {
                    self.failures.push((*task).clone());
                }
            }
            Event::RunFinished { counts, elapsed, interrupted_by } => {
                self.annotate_the_rest();
                if let Some(signal) = interrupted_by {
                    let title = format!("batchrun: interrupted by {}", crate::words::signal(*signal));
                    let message = format!("{} cancelled", crate::words::count(counts.cancelled, "task"));
                    self.annotate("error", &title, &message);
                }
                if let Some(path) = &self.step_summary {
                    // What the step wrote there before counts against the limit too.
                    let before = std::fs::metadata(path).map_or(0, |m| m.len());
                    let md = fit(self.summary_markdown(counts, *elapsed), STEP_SUMMARY_LIMIT.saturating_sub(before));
                    let appended = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .and_then(|mut f| f.write_all(md.as_bytes()));
                    if let Err(e) = appended {
                        crate::say!("batchrun: warning: cannot write the step summary {}: {e}", path.display());
                    }
                }
            }
            _ => {}
        }
    }
}

/// Escapes a workflow command's message (GitHub's rules: `%`, CR and LF).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Text safe inside a Markdown table cell, and short enough for one.
fn table_cell(text: &str) -> String {
    let mut cell = text.replace('|', "\\|").replace('\n', " ");
    if let Some((at, _)) = cell.char_indices().nth(CELL_CHARS) {
        cell.truncate(at);
        cell.push('…');
    }
    cell
}

/// `md` cut at a line so that it fits in `room` bytes, with a note of the cut.
fn fit(md: String, room: u64) -> String {
    const NOTE: &str =
        "\n… cut here: the step summary is at GitHub's 1 MiB limit; batchrun's log and `--report` hold every task.\n";
    if md.len() as u64 <= room {
        return md;
    }
    if room < NOTE.len() as u64 {
        return String::new();
    }
    let keep = usize::try_from(room).unwrap_or(usize::MAX) - NOTE.len();
    let cut = md[..md.floor_char_boundary(keep)].rfind('\n').map_or(0, |at| at + 1);
    format!("{}{NOTE}", &md[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_escaping() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(escape_property("a: b, c"), "a%3A b%2C c");
        assert_eq!(table_cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn a_summary_is_cut_at_a_line_to_fit_with_a_note() {
        let md = "line one\n".repeat(100);
        assert_eq!(fit(md.clone(), 1000), md);
        let cut = fit(md.clone(), 160);
        assert!(cut.len() <= 160 && cut.ends_with("hold every task.\n"), "{cut}");
        assert!(cut.starts_with("line one\nline one\n") && !cut.contains("line one\n\u{2026}"), "{cut}");
        assert_eq!(fit(md, 10), "", "no room even for the note");
        assert_eq!(table_cell(&"é".repeat(400)).chars().count(), CELL_CHARS + 1);
    }
}
