//! GitHub Actions: an error annotation per failed task, and a Markdown summary of the run in
//! the job's step summary. Active when `GITHUB_ACTIONS=true`; the folding of failed tasks'
//! output in `::group::` blocks is done where output is printed (`run/output/mod.rs`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use super::format::duration;
use crate::console::{Console, Stream};
use crate::events::Listener;
use crate::events::{Event, Finished};

/// Failed tasks listed in the step summary; the rest are counted.
const SUMMARY_ROWS: usize = 50;

pub struct GitHub {
    console: Arc<Console>,
    name: String,
    step_summary: Option<PathBuf>,
    failures: Vec<Finished>,
}

impl GitHub {
    /// The reporter, when running under GitHub Actions.
    pub fn from_env(console: Arc<Console>) -> Option<GitHub> {
        (std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")).then(|| GitHub {
            console,
            name: String::new(),
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()).map(PathBuf::from),
            failures: Vec::new(),
        })
    }

    fn summary_markdown(&self, counts: &crate::events::Counts, elapsed: std::time::Duration) -> String {
        let mut md = format!("### batchrun: {}\n\n", self.name);
        md.push_str(
            "| tasks | succeeded | failed | skipped | not run | already done | time |\n|---|---|---|---|---|---|---|\n",
        );
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            counts.total,
            counts.succeeded,
            counts.failed,
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
            Event::TaskFinished { task, .. } if !task.outcome.is_success() => {
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
                let line = format!("::{level} title={}::{}\n", escape_property(&title), escape_data(&message));
                let _ = self.console.write(Stream::Stdout, line.as_bytes());
                if self.failures.len() < SUMMARY_ROWS {
                    self.failures.push((*task).clone());
                }
            }
            Event::RunFinished { counts, elapsed, .. } => {
                if let Some(path) = &self.step_summary {
                    let md = self.summary_markdown(counts, *elapsed);
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

/// Text safe inside a Markdown table cell.
fn table_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
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
}
