//! `batchrun plan`: the tasks of a plan as text for people or JSON lines for tools, streamed.

use crate::words::escape_controls;
use std::io::{self, Write};

use serde::Serialize;
use serde::ser::SerializeMap;

use super::expand::Bindings;
use super::{Plan, PlannedTask};
use crate::words::count;

/// Writes every task; returns how many could not be rendered (each reported in place).
pub fn text(plan: &Plan, out: &mut impl Write) -> io::Result<u64> {
    text_of(plan, out, |_| false)
}

/// [`text`] without the tasks `done` says are done (`--resume --dry-run`: what would run), and
/// a last line that says how many were left out.
pub fn text_of(plan: &Plan, out: &mut impl Write, done: impl Fn(u64) -> bool) -> io::Result<u64> {
    let mut left_out = 0;
    let jobs = plan.jobs.iter().filter(|j| j.selected).count();
    let later = plan.jobs.iter().filter(|j| j.waits_to_be_planned()).count();
    let later = match later {
        0 => String::new(),
        1 => " (1 of them planned when it runs)".to_owned(),
        n => format!(" ({n} of them planned when they run)"),
    };
    let (tasks, jobs) = (count(plan.total(), "task"), count(jobs as u64, "job"));
    writeln!(out, "{}: {tasks} in {jobs}{later}", plan.file.name)?;
    let mut broken = 0;
    for (i, job) in plan.file.jobs.iter().enumerate() {
        if !plan.jobs[i].selected {
            continue;
        }
        let needs: Vec<&str> = job.needs.iter().map(|&n| plan.file.jobs[n].name.as_str()).collect();
        let needs = if needs.is_empty() { String::new() } else { format!(", needs {}", needs.join(", ")) };
        if let Some(later) = plan.planned_later(i) {
            writeln!(out, "{} ({later}{needs})", job.name)?;
            continue;
        }
        writeln!(out, "{} ({}{needs})", job.name, count(plan.jobs[i].count(), "task"))?;
        for task in plan.tasks(i) {
            match task {
                Ok(t) if done(t.key) => left_out += 1,
                // A value holding a newline cannot start a line of its own (JSON shows it as is).
                Ok(t) => writeln!(out, "  {}: {}", t.label, escape_controls(&t.rendered))?,
                Err(b) => {
                    broken += 1;
                    writeln!(out, "  {}: ERROR {}", b.label, escape_controls(&b.error))?
                }
            }
        }
    }
    if left_out > 0 {
        writeln!(out, "({} done in an earlier run, left out: --resume would not run them)", count(left_out, "task"))?;
    }
    Ok(broken)
}

/// One JSON object per task per line:
/// `{"job":"export","index":0,"label":"export[0]","command":"…","vars":{…}}`.
pub fn json(plan: &Plan, out: &mut impl Write) -> io::Result<u64> {
    json_tasks(plan, plan.all_tasks(), out)
}

/// [`json`] over any stream of the plan's tasks.
pub fn json_tasks(plan: &Plan, tasks: impl Iterator<Item = PlannedTask>, out: &mut impl Write) -> io::Result<u64> {
    let mut broken = 0;
    for task in tasks {
        match &task {
            Ok(t) => {
                let key = crate::task_key::format(t.key);
                let line = TaskLine {
                    job: &plan.file.jobs[t.job].name,
                    index: t.index,
                    label: &t.label,
                    key: &key,
                    command: &t.rendered,
                    vars: Vars(&t.bindings),
                };
                serde_json::to_writer(&mut *out, &line)?;
            }
            Err(b) => {
                broken += 1;
                let line =
                    BrokenLine { job: &plan.file.jobs[b.job].name, index: b.index, label: &b.label, error: &b.error };
                serde_json::to_writer(&mut *out, &line)?;
            }
        }
        out.write_all(b"\n")?;
    }
    Ok(broken)
}

/// One line of `plan --format json`, serialised straight from the task (no JSON tree).
#[derive(Serialize)]
struct TaskLine<'a> {
    job: &'a str,
    index: u64,
    label: &'a str,
    key: &'a str,
    command: &'a str,
    vars: Vars<'a>,
}

#[derive(Serialize)]
struct BrokenLine<'a> {
    job: &'a str,
    index: u64,
    label: &'a str,
    error: &'a str,
}

/// A task's bindings as a JSON object, in binding order.
struct Vars<'a>(&'a Bindings);

impl Serialize for Vars<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(&**k, v)?;
        }
        map.end()
    }
}
