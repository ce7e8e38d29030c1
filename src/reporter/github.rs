//! GitHub Actions: an error annotation per failed task (a warning for one its job allows), and
//! a Markdown summary of the run in the job's step summary. Active when `GITHUB_ACTIONS=true`;
//! the folding of failed tasks' output in `::group::` blocks is done where output is printed
//! (`run/output/mod.rs`).
//!
//! Within GitHub's limits: it shows at most 10 error and 10 warning annotations of a step, and
//! takes at most 1 MiB of step summary. So the first failures of each level are annotated one by
//! one and the rest in one last annotation that names them and points to the summary; the
//! summary is cut, with a note, where the file would pass the limit. Failures are annotated and
//! listed in plan order, once the run ends, whatever order they finished in.

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

/// A task's place in the plan: its job, then its index.
type Place = (usize, u64);

/// Failed tasks of one level: the first in plan order with their annotation's title and
/// message, and how many there are.
#[derive(Default)]
struct Failures {
    first: Vec<(Place, String, String)>,
    count: u64,
}

impl Failures {
    fn add(&mut self, place: Place, title: String, message: String) {
        self.count += 1;
        let at = self.first.partition_point(|(p, _, _)| *p < place);
        if at < SUMMARY_ROWS {
            self.first.insert(at, (place, title, message));
            self.first.truncate(SUMMARY_ROWS);
        }
    }
}

pub struct GitHub {
    console: Arc<Console>,
    name: String,
    step_summary: Option<PathBuf>,
    /// The first failed tasks in plan order, for the summary's table.
    failures: Vec<Finished>,
    errors: Failures,
    warnings: Failures,
}

impl GitHub {
    /// The reporter, when running under GitHub Actions.
    pub fn from_env(console: Arc<Console>) -> Option<GitHub> {
        (std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")).then(|| GitHub {
            console,
            name: String::new(),
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()).map(PathBuf::from),
            failures: Vec::new(),
            errors: Failures::default(),
            warnings: Failures::default(),
        })
    }

    fn annotate(&self, level: &str, title: &str, message: &str) {
        let line = format!("::{level} title={}::{}\n", escape_property(title), escape_data(message));
        let _ = self.console.write(Stream::Stdout, line.as_bytes());
    }

    /// The failures' annotations, in plan order: one by one while all but one of the level's
    /// fit (all but two of the errors: one is kept for an interrupt), then, if more remain
    /// than the last one, one that groups them.
    fn annotate_failures(&mut self) {
        for level in ["error", "warning"] {
            let failures = std::mem::take(if level == "error" { &mut self.errors } else { &mut self.warnings });
            let one_by_one = if level == "error" { ANNOTATIONS_SHOWN - 2 } else { ANNOTATIONS_SHOWN - 1 };
            let alone = if failures.count as usize <= one_by_one + 1 { one_by_one + 1 } else { one_by_one };
            let mut first = failures.first.into_iter();
            for (_, title, message) in first.by_ref().take(alone) {
                self.annotate(level, &title, &message);
            }
            let rest: Vec<String> =
                first.map(|(_, title, _)| title.trim_start_matches("batchrun: ").to_owned()).collect();
            if rest.is_empty() {
                continue;
            }
            let all = failures.count - alone as u64;
            let mut message = rest.join("\n");
            let unnamed = all.saturating_sub(rest.len() as u64);
            if unnamed > 0 {
                message.push_str(&format!("\n… and {unnamed} more"));
            }
            let what = if level == "error" { "more failed task" } else { "more allowed failure" };
            let title = format!("batchrun: and {}: see the step summary", crate::words::count(all, what));
            self.annotate(level, &title, &message);
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
                    "| {} | {} | {} | {last} |\n",
                    table_cell(&markdown_text(&f.label)),
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
                let place = (task.job, task.index);
                match task.allowed {
                    true => self.warnings.add(place, format!("batchrun: {} failed (allowed)", task.label), message),
                    false => self.errors.add(place, format!("batchrun: {} failed", task.label), message),
                }
                let at = self.failures.partition_point(|f| (f.job, f.index) < place);
                if at < SUMMARY_ROWS {
                    self.failures.insert(at, Finished { evidence: None, ..(*task).clone() });
                    self.failures.truncate(SUMMARY_ROWS);
                }
            }
            Event::RunFinished { counts, elapsed, interrupted_by } => {
                self.annotate_failures();
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
/// Text that Markdown shows as it is: its punctuation escaped, so that a label made of outside
/// values can make no link, code span or emphasis (`|` is left to [`table_cell`]).
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_ascii_punctuation() && c != '|' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

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
