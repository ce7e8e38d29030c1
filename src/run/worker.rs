//! A worker thread: takes the next task, runs it to the end, reports, takes the next.

use std::path::Path;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::output::Output;
use super::process;
use crate::events::{Finished, Outcome};
use crate::plan::{Plan, Task};

/// Runs tasks from `tasks` until the channel closes, sending each result to `results`.
pub fn work(plan: &Plan, output: &Output, tasks: Receiver<Task>, results: Sender<Finished>) {
    for task in tasks {
        let finished = run_task(plan, output, &task);
        if results.send(finished).is_err() {
            break;
        }
    }
}

fn run_task(plan: &Plan, output: &Output, task: &Task) -> Finished {
    let job = &plan.file.jobs[task.job];
    let started = Instant::now();
    let (outcome, stderr_tail) = match output.begin(&task.label) {
        Err(e) => {
            output.nothing(task.seq, 1);
            (
                Outcome::NotStarted(format!("cannot capture output: {e}")),
                Vec::new(),
            )
        }
        Ok(mut capture) => {
            let stdout = std::mem::replace(&mut capture.stdout, std::process::Stdio::null());
            let stderr = std::mem::replace(&mut capture.stderr, std::process::Stdio::null());
            let outcome = match process::spawn(
                task,
                &job.name,
                Path::new(&job.settings.cwd),
                1,
                stdout,
                stderr,
            ) {
                Ok(mut child) => match child.wait() {
                    Ok(status) => process::outcome(status),
                    Err(e) => Outcome::NotStarted(format!("cannot wait for the task: {e}")),
                },
                Err(why) => Outcome::NotStarted(why),
            };
            let tail = output.end(task.seq, capture, !outcome.is_success());
            (outcome, tail)
        }
    };
    Finished {
        job: task.job,
        index: task.index,
        label: task.label.clone(),
        command: task.rendered.clone(),
        outcome,
        duration: started.elapsed(),
        stderr_tail,
    }
}
