//! `batchrun plan`: the tasks of a plan as text for people or JSON lines for tools, streamed.

use std::io::{self, Write};

use serde_json::json;

use super::{Plan, PlannedTask};

/// Writes every task; returns how many could not be rendered (each reported in place).
pub fn text(plan: &Plan, out: &mut impl Write) -> io::Result<u64> {
    let jobs = plan.jobs.iter().filter(|j| j.selected).count();
    writeln!(out, "{}: {} tasks in {} jobs", plan.file.name, plan.total(), jobs)?;
    let mut broken = 0;
    for (i, job) in plan.file.jobs.iter().enumerate() {
        if !plan.jobs[i].selected {
            continue;
        }
        let needs: Vec<&str> = job.needs.iter().map(|&n| plan.file.jobs[n].name.as_str()).collect();
        let needs = if needs.is_empty() { String::new() } else { format!(", needs {}", needs.join(", ")) };
        writeln!(out, "{} ({} tasks{needs})", job.name, plan.jobs[i].count())?;
        for task in plan.tasks(i) {
            match task {
                Ok(t) => writeln!(out, "  {}: {}", t.label, t.rendered)?,
                Err(b) => {
                    broken += 1;
                    writeln!(out, "  {}: ERROR {}", b.label, b.error)?
                }
            }
        }
    }
    Ok(broken)
}

/// One JSON object per task per line:
/// `{"job":"export","index":0,"label":"export[0]","command":"…","vars":{…}}`.
pub fn json(plan: &Plan, out: &mut impl Write) -> io::Result<u64> {
    let mut broken = 0;
    for task in plan.all_tasks() {
        let line = json_line(plan, &task);
        if task.is_err() {
            broken += 1;
        }
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(broken)
}

fn json_line(plan: &Plan, task: &PlannedTask) -> serde_json::Value {
    match task {
        Ok(t) => {
            let vars: serde_json::Map<String, serde_json::Value> = t
                .bindings
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::to_value(v).unwrap_or(serde_json::Value::Null)))
                .collect();
            json!({
                "job": plan.file.jobs[t.job].name,
                "index": t.index,
                                "label": t.label,
                "key": crate::plan::identity::format_key(t.key),
                "command": t.rendered,
                "vars": vars,
            })
        }
        Err(b) => json!({
            "job": plan.file.jobs[b.job].name,
            "index": b.index,
            "label": b.label,
            "error": b.error,
        }),
    }
}
