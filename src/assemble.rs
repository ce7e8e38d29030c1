//! Assembling a run: what listens to it (console, progress, journal, summary, reports), what
//! keeps its processes from outliving it, and where its task output goes. Both `batchrun run`
//! and a Slurm array element (`batchrun exec`) are put together here, so the runner and the
//! Slurm driver know nothing of the console or the reporters.

use std::path::Path;
use std::sync::Arc;

use crate::cli::{self, RunArgs};
use crate::config;
use crate::console::Console;
use crate::diagnostic::{self, Diagnostics};
use crate::events::{Listener, Listeners};
use crate::exit_code::ExitCode;
use crate::journal;
use crate::plan::{self, Plan, PlanOptions};
use crate::reporter::{self, ProgressMode};
use crate::run;
use crate::say;
use crate::slurm;
use crate::state_dir::{Owner, StateDir};

/// `batchrun run FILE`: plans the file, then runs it on the local pool or as Slurm arrays.
pub fn run(args: &RunArgs) -> Result<ExitCode, Diagnostics> {
    let mut job_file = config::load(&args.file)?;
    args.overrides().apply(&mut job_file);
    let options =
        PlanOptions { set: args.selection.set.clone(), only: args.selection.only.clone(), ..PlanOptions::default() };
    let mut report_formats = Vec::new();
    for path in &args.reports {
        match reporter::report::Format::of(path) {
            Some(format) => report_formats.push((path.clone(), format)),
            None => {
                let message = format!("--report {}: the file name must end in .json, .xml or .html", path.display());
                return Err(diagnostic::Diagnostic::new(&args.file, None, message).into());
            }
        }
    }
    if args.backend == cli::Backend::Slurm {
        slurm::preflight().map_err(|e| Diagnostics::from(diagnostic::Diagnostic::new(&args.file, None, e)))?;
    }
    let location = crate::state_location(args.state_dir.as_deref(), &job_file);
    refuse_reports_over_inputs(args, &job_file, &location.path())?;
    let owner = Owner::of(&args.file, &job_file.name);
    let state = StateDir::claim(location, owner)
        .map_err(|e| Diagnostics::from(diagnostic::Diagnostic::new(&args.file, None, e.to_string())))?;
    // Items files are read once, into this run's snapshots (removed when the run ends).
    let snapshots = reads_items_files(&job_file).then(|| plan::inputs::Snapshots::new(&state));
    let inputs = snapshots
        .as_ref()
        .map_or(plan::Inputs::InPlace, |s| plan::Inputs::Snapshot(s.to(args.backend == cli::Backend::Slurm)));
    let plan = Plan::new(job_file, &PlanOptions { inputs, ..options })?;
    let asked = args
        .jobs
        .map(|j| j as usize)
        .or(plan.file.concurrency)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let workers = if args.backend == cli::Backend::Local {
        let limit = run::open_files::raise_for(asked);
        let workers = run::open_files::fit(asked, limit);
        if workers < asked {
            say!("batchrun: {}", run::open_files::fitted(asked, workers, limit.unwrap_or_default()));
        }
        workers
    } else {
        asked
    };
    let guards = if args.backend == cli::Backend::Local { start_guards(workers) } else { run::Guards::none() };

    let progress = args.progress.resolve();
    let mut console = Console::new();
    if args.events.is_some() {
        console.redirect_stdout_to_stderr();
    }
    if progress == ProgressMode::Bar {
        console.set_bars(reporter::progress::Progress::bars());
    }
    let console = Arc::new(console);
    let mut reporters: Vec<Box<dyn Listener>> = vec![Box::new(reporter::warnings::Warnings::new(console.clone()))];
    let jobs = || plan.file.jobs.iter().zip(&plan.jobs).map(|(j, p)| (j.name.clone(), p.count())).collect();
    match progress {
        ProgressMode::Bar => reporters.push(Box::new(reporter::progress::Progress::new(console.clone(), jobs()))),
        ProgressMode::Plain => reporters.push(Box::new(reporter::plain::Plain::new(console.clone(), jobs()))),
        ProgressMode::None | ProgressMode::Auto => {}
    }

    let in_state_dir =
        |e: journal::JournalError| Diagnostics::from(diagnostic::Diagnostic::new(&args.file, None, e.to_string()));
    let mut history = None;
    let mut resume_command = None;
    if !args.no_journal {
        let names = plan.file.jobs.iter().map(|j| j.name.clone()).collect();
        let planned = plan
            .file
            .jobs
            .iter()
            .zip(&plan.jobs)
            .filter(|(_, p)| p.selected)
            .map(|(j, p)| journal::record::PlannedJob {
                name: j.name.clone(),
                planned: p.count(),
                when_ready: p.waits_to_be_planned(),
            })
            .collect();
        let journal = journal::Journal::open(&state, args.resume, names)
            .map_err(in_state_dir)?
            .with_plan(planned, plan.resolved_vars());
        // Products a killed batchrun left half-written never stay beside finished ones. Only
        // under the lock the journal holds: another run's temporaries are its own.
        let swept = run::product::sweep(&state);
        if swept > 0 {
            say!(
                "batchrun: removed {} that a stopped run left unfinished",
                crate::words::count(swept as u64, "product")
            );
        }
        if args.resume {
            let read = journal::reader::read_state(&state)
                .map_err(|e| in_state_dir(journal::JournalError::Io { path: state.root().to_path_buf(), source: e }))?;
            history = Some(read);
        }
        reporters.insert(0, Box::new(journal));
        resume_command = Some(resume_hint(args));
    }
    reporters.push(Box::new(reporter::summary::Summary::new(console.clone(), resume_command)));
    // Set when a report or the event stream could not be written: the run then ends with 3.
    let not_written = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for (path, format) in report_formats {
        let names = plan.file.jobs.iter().map(|j| j.name.clone()).collect();
        let report = reporter::report::Report::new(path.clone(), format, names, not_written.clone()).map_err(|e| {
            Diagnostics::from(diagnostic::Diagnostic::new(
                &args.file,
                None,
                format!("--report {}: {e}", path.display()),
            ))
        })?;
        reporters.push(Box::new(report));
    }
    if let Some(cli::EventsFormat::Json) = args.events {
        let names = plan.file.jobs.iter().map(|j| j.name.clone()).collect();
        reporters.push(Box::new(reporter::events_json::EventsJson::stdout(names, not_written.clone())));
    }
    let github = reporter::github::GitHub::from_env(console.clone());
    let fold_failures = github.is_some();
    if let Some(github) = github {
        reporters.push(Box::new(github));
    }
    let mut reporters = Listeners(reporters);
    for message in &plan.warnings {
        reporters.event(&crate::events::Event::Warning { message });
    }

    if args.backend == cli::Backend::Slurm {
        let options = slurm::Options {
            state,
            concurrency: args.jobs.map(|j| j as usize),
            keep_logs: args.keep_logs,
            overrides: args.overrides(),
        };
        let result = slurm::run(&plan, history.as_ref(), &options, &mut reporters);
        return Ok(exit_status(&result, not_written.load(std::sync::atomic::Ordering::Relaxed)));
    }
    let logs = run::output::Logs { state, keep_all: args.keep_logs };
    let output = run::output::Output::new(args.output, console, logs, fold_failures, workers);
    let result = run::run(&plan, history.as_ref(), &guards, workers, &output, &mut reporters);
    Ok(exit_status(&result, not_written.load(std::sync::atomic::Ordering::Relaxed)))
}

/// `batchrun exec MANIFEST ELEMENT`: one Slurm array element's share of a job, run on a local
/// pool of its own, recorded in the element's journal, which the submitter follows.
pub fn exec(manifest_path: &Path, element: Option<u64>) -> Result<ExitCode, Diagnostics> {
    let element = slurm::exec::prepare(manifest_path, element)?;
    let guards = start_guards(element.workers());
    let console = Arc::new(Console::new());
    let listeners: Vec<Box<dyn Listener>> = vec![
        Box::new(reporter::warnings::Warnings::new(console.clone())),
        // Its progress lines go to the element's output file: the run-wide rate is enough there.
        Box::new(reporter::plain::Plain::new(console.clone(), Vec::new())),
    ];
    let result = element
        .run(&guards, console, listeners)
        .map_err(|e| Diagnostics::from(diagnostic::Diagnostic::new(manifest_path, None, e.to_string())))?;
    Ok(exit_status(&result, false))
}

/// Starts the guards of a local pool, saying what could not be started.
fn start_guards(workers: usize) -> run::Guards {
    // SAFETY: called before the run starts any thread (workers, journal syncer, bars).
    let guards = unsafe { run::Guards::start(workers) };
    for warning in &guards.warnings {
        say!("batchrun: warning: {warning}");
    }
    guards
}

/// 128+N when signal N stopped the run, 3 when output or a report was not delivered, 1 when a
/// task failed or was skipped, else 0 (see [`ExitCode`] for the order).
pub fn exit_status(result: &run::RunResult, not_written: bool) -> ExitCode {
    match result.interrupted_by {
        Some(signal) => ExitCode::Interrupted(signal),
        None if result.undelivered > 0 || not_written => ExitCode::Undelivered,
        None if result.counts.failed - result.counts.allowed
            + result.counts.cancelled
            + result.counts.skipped
            + result.counts.not_run
            + result.counts.unaccounted()
            > 0 =>
        {
            ExitCode::TasksFailed
        }
        None => ExitCode::Success,
    }
}

/// A report is an output: it may not be written over the job file, an items file, the state
/// folder or another report. Checked before anything runs, since the report is written last.
fn refuse_reports_over_inputs(args: &RunArgs, file: &config::JobFile, state_dir: &Path) -> Result<(), Diagnostics> {
    use crate::same_file::{id, is_within};
    let mut inputs = vec![(id(&args.file), "the job file".to_owned())];
    for job in &file.jobs {
        if let config::Work::Templated { source: config::Source::Items(config::ItemsSpec::File { path, .. }), .. } =
            &job.work
        {
            inputs.push((id(path), format!("the items file of job `{}`", job.name)));
        }
    }
    let mut reports: Vec<(crate::same_file::FileId, &Path)> = Vec::new();
    for path in &args.reports {
        let this = id(path);
        let clash = if let Some((_, what)) = inputs.iter().find(|(input, _)| *input == this) {
            Some(format!("it is {what}"))
        } else if let Some((_, other)) = reports.iter().find(|(report, _)| *report == this) {
            Some(format!("it is the same file as --report {}", other.display()))
        } else if is_within(path, state_dir) {
            Some(format!("it is in the state folder {}, which batchrun keeps to itself", state_dir.display()))
        } else {
            None
        };
        if let Some(clash) = clash {
            let message = format!(
                "--report {}: {clash}; a report is never written over what a run reads or keeps: choose another path",
                path.display()
            );
            return Err(diagnostic::Diagnostic::new(&args.file, None, message).into());
        }
        reports.push((this, path));
    }
    Ok(())
}

/// Whether a job reads items from a file or a command's output, which the run snapshots.
fn reads_items_files(file: &config::JobFile) -> bool {
    file.jobs.iter().any(|j| {
        matches!(
            &j.work,
            config::Work::Templated {
                source: config::Source::Items(config::ItemsSpec::File { .. } | config::ItemsSpec::Command { .. }),
                ..
            }
        )
    })
}

/// The command that finishes this run: the same selection and state folder, with `--resume`,
/// each value quoted for the shell where it needs it (a path with a space), so it can be
/// pasted as it is.
fn resume_hint(args: &RunArgs) -> String {
    let quoted = |text: String| shlex::try_quote(&text).map_or_else(|_| text.clone(), |q| q.into_owned());
    let mut words = vec!["batchrun".to_owned(), "run".into(), quoted(args.file.display().to_string())];
    for (k, v) in &args.selection.set {
        words.push(format!("--set {}", quoted(format!("{k}={v}"))));
    }
    for job in &args.selection.only {
        words.push(format!("--only {}", quoted(job.clone())));
    }
    if let Some(dir) = &args.state_dir {
        words.push(format!("--state-dir {}", quoted(dir.display().to_string())));
    }
    if args.backend == cli::Backend::Slurm {
        words.push("--backend slurm".into());
    }
    words.push("--resume".into());
    words.join(" ")
}
