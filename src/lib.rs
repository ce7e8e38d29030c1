//! batchrun: run batch jobs declared in YAML.
//!
//! The data flows one way:
//! job file ─[`config`]→ `JobFile` ─[`plan`]→ lazy tasks ─[`run`]→ [`events`] → [`reporter`]s.

pub mod cli;
pub mod config;
pub mod console;
pub mod diagnostic;
pub mod events;
pub mod exit_code;
pub mod journal;
pub mod plan;
pub mod reporter;
pub mod run;
pub mod slurm;
pub mod status;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use clap::Parser;

use cli::{Cli, Command, PlanArgs, PlanFormat, RunArgs, Selection};
use diagnostic::Diagnostics;
use exit_code::ExitCode;
use plan::{Plan, PlanOptions};
use reporter::{ProgressMode, Reporter, Reporters};

/// The whole program: parse `args`, do what they say, return the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    if args.get(1).is_some_and(|a| a == run::watchdog::SUBCOMMAND) {
        return run::watchdog::serve_stdin(args.get(2).map(OsString::as_os_str), args.get(3).map(OsString::as_os_str));
    }
    let cli = match Cli::try_parse_from(cli::normalize(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::Usage.into() } else { ExitCode::Success.into() };
        }
    };
    let result = match cli.command {
        Command::Run(args) if args.dry_run => {
            let plan_args = PlanArgs { file: args.file, selection: args.selection, format: PlanFormat::Text };
            print_plan(&plan_args)
        }
        Command::Run(args) => run(&args),
        Command::Plan(args) => print_plan(&args),
        Command::Status(args) => show_status(&args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "batchrun", &mut io::stdout());
            Ok(ExitCode::Success)
        }
        Command::Man => {
            let page = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            Ok(match page.render(&mut io::stdout()) {
                Ok(()) => ExitCode::Success,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::Success,
                Err(e) => {
                    say!("error: cannot write the manual page: {e}");
                    ExitCode::Usage
                }
            })
        }
        Command::Validate { files } => validate(&files),
        Command::Exec { manifest, element } => slurm::exec::exec(&manifest, element),
        Command::Schema => {
            let text = serde_json::to_string_pretty(&config::schema::job_file()).unwrap_or_default();
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "{text}");
            Ok(ExitCode::Success)
        }
    };
    match result {
        Ok(code) => code.into(),
        Err(diagnostics) => {
            say!("{diagnostics}");
            ExitCode::Usage.into()
        }
    }
}

fn load_plan(file: &Path, selection: &Selection) -> Result<Plan, Diagnostics> {
    let job_file = config::load(file)?;
    let options = PlanOptions { set: selection.set.clone(), only: selection.only.clone(), ..PlanOptions::default() };
    Plan::new(job_file, &options)
}

fn run(args: &RunArgs) -> Result<ExitCode, Diagnostics> {
    let mut job_file = config::load(&args.file)?;
    apply_overrides(&mut job_file, args);
    let options =
        PlanOptions { set: args.selection.set.clone(), only: args.selection.only.clone(), ..PlanOptions::default() };
    let mut report_formats = Vec::new();
    for path in &args.reports {
        match reporter::report::Format::of(path) {
            Some(format) => report_formats.push((path.clone(), format)),
            None => {
                let message = format!("--report {}: the file name must end in .json or .xml", path.display());
                return Err(diagnostic::Diagnostic::new(&args.file, None, message).into());
            }
        }
    }
    if args.backend == cli::Backend::Slurm {
        slurm::preflight().map_err(|e| Diagnostics::from(diagnostic::Diagnostic::new(&args.file, None, e)))?;
    }
    let state_dir = args.state_dir.clone().unwrap_or_else(|| default_state_dir(&job_file));
    // Items files are read once, into this run's snapshots (removed when the run ends).
    let snapshots = reads_items_files(&job_file).then(|| plan::inputs::Snapshots::new(&state_dir));
    let inputs = snapshots.as_ref().map_or(plan::Inputs::InPlace, |s| {
        let all_on_disk = args.backend == cli::Backend::Slurm;
        plan::Inputs::Snapshot(plan::inputs::SnapshotDir { dir: s.dir().to_owned(), all_on_disk })
    });
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
            say!(
                "batchrun: running at most {workers} tasks at once, not {asked}: the open-file limit (ulimit -n) is {}, and each running task needs up to {}",
                limit.unwrap_or_default(),
                run::open_files::PER_TASK
            );
        }
        workers
    } else {
        asked
    };
    let guards = if args.backend == cli::Backend::Local {
        // SAFETY: batchrun has one thread until the run starts below.
        unsafe { run::Guards::start(workers) }
    } else {
        run::Guards::none()
    };

    args.color.apply();
    let progress = args.progress.resolve();
    let mut console = console::Console::new();
    if args.events.is_some() {
        console.redirect_stdout_to_stderr();
    }
    if progress == ProgressMode::Bar {
        console.set_bars(reporter::progress::Progress::bars());
    }
    let console = Arc::new(console);
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    match progress {
        ProgressMode::Bar => reporters.push(Box::new(reporter::progress::Progress::new(console.clone()))),
        ProgressMode::Plain => reporters.push(Box::new(reporter::plain::Plain::new(console.clone()))),
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
        let journal = journal::Journal::open(&state_dir, args.resume, names)
            .map_err(in_state_dir)?
            .with_plan(planned, plan.resolved_vars());
        if args.resume {
            let read = journal::reader::read_state(&state_dir)
                .map_err(|e| in_state_dir(journal::JournalError::Io { path: state_dir.clone(), source: e }))?;
            history = Some(read);
        }
        reporters.insert(0, Box::new(journal));
        resume_command = Some(resume_hint(args));
    }
    reporters.push(Box::new(reporter::summary::Summary::new(console.clone(), resume_command)));
    let report_failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for (path, format) in report_formats {
        let names = plan.file.jobs.iter().map(|j| j.name.clone()).collect();
        let report =
            reporter::report::Report::new(path.clone(), format, names, report_failed.clone()).map_err(|e| {
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
        reporters.push(Box::new(reporter::events_json::EventsJson::stdout(names)));
    }
    let github = reporter::github::GitHub::from_env(console.clone());
    let fold_failures = github.is_some();
    if let Some(github) = github {
        reporters.push(Box::new(github));
    }

    if args.backend == cli::Backend::Slurm {
        let options = slurm::Options {
            state_dir: std::path::absolute(&state_dir).unwrap_or(state_dir),
            concurrency: args.jobs.map(|j| j as usize),
            keep_logs: args.keep_logs,
        };
        let result = slurm::run(&plan, history.as_ref(), &options, &mut Reporters(reporters));
        return Ok(exit_status(&result, report_failed.load(std::sync::atomic::Ordering::Relaxed)));
    }
    let logs = run::output::Logs { dir: state_dir.join("logs"), keep_all: args.keep_logs };
    let output = run::output::Output::new(args.output, console, logs, fold_failures, workers);
    let result = run::run(&plan, history.as_ref(), &guards, workers, &output, &mut Reporters(reporters));
    Ok(exit_status(&result, report_failed.load(std::sync::atomic::Ordering::Relaxed)))
}

/// 128+N when signal N stopped the run, 3 when output or a report was not delivered, 1 when a
/// task failed or was skipped, else 0 (see [`ExitCode`] for the order).
pub fn exit_status(result: &run::RunResult, report_failed: bool) -> ExitCode {
    match result.interrupted_by {
        Some(signal) => ExitCode::Interrupted(signal),
        None if result.undelivered > 0 || report_failed => ExitCode::Undelivered,
        None if result.counts.failed + result.counts.skipped + result.counts.not_run + result.counts.unaccounted()
            > 0 =>
        {
            ExitCode::TasksFailed
        }
        None => ExitCode::Success,
    }
}

fn reads_items_files(file: &config::JobFile) -> bool {
    file.jobs.iter().any(|j| {
        matches!(&j.work, config::Work::Templated { source: config::Source::Items(config::ItemsSpec::File { .. }), .. })
    })
}

/// `.batchrun/<name>` beside the job file, unless `--state-dir` says otherwise.
fn default_state_dir(file: &config::JobFile) -> std::path::PathBuf {
    file.dir.join(".batchrun").join(&file.name)
}

/// The command that finishes this run: the same selection and state folder, with `--resume`.
fn resume_hint(args: &RunArgs) -> String {
    let mut words = vec!["batchrun".to_owned(), "run".into(), args.file.display().to_string()];
    for (k, v) in &args.selection.set {
        words.push(format!("--set {k}={v}"));
    }
    for job in &args.selection.only {
        words.push(format!("--only {job}"));
    }
    if let Some(dir) = &args.state_dir {
        words.push(format!("--state-dir {}", dir.display()));
    }
    if args.backend == cli::Backend::Slurm {
        words.push("--backend slurm".into());
    }
    words.push("--resume".into());
    words.join(" ")
}

/// Reads the job file only for where its state folder is: nothing of it is planned or run.
fn show_status(args: &cli::StatusArgs) -> Result<ExitCode, Diagnostics> {
    let file = config::load(&args.file)?;
    let dir = args.state_dir.clone().unwrap_or_else(|| default_state_dir(&file));
    let history = journal::reader::read_state(&dir).map_err(|e| {
        Diagnostics::from(diagnostic::Diagnostic::new(
            &args.file,
            None,
            format!("cannot read the journal in {}: {e}", dir.display()),
        ))
    })?;
    let _ = status::print(&file.name, &history, &args.selection.only, &dir, &mut io::stdout().lock());
    Ok(ExitCode::Success)
}

/// Command-line settings that override every job's.
fn apply_overrides(file: &mut config::JobFile, args: &RunArgs) {
    for job in &mut file.jobs {
        let s = &mut job.settings;
        if args.fail_fast {
            s.on_failure = config::OnFailure::Stop;
        }
        if let Some(t) = args.timeout {
            s.timeout = Some(t);
        }
        if let Some(r) = args.retries {
            s.retries = r;
        }
    }
}

fn print_plan(args: &PlanArgs) -> Result<ExitCode, Diagnostics> {
    let plan = load_plan(&args.file, &args.selection)?;
    let mut out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let printed = match args.format {
        PlanFormat::Text => plan::print::text(&plan, &mut out),
        PlanFormat::Json => plan::print::json(&plan, &mut out),
    }
    .and_then(|broken| out.flush().map(|()| broken));
    match printed {
        Ok(0) => Ok(ExitCode::Success),
        Ok(broken) => {
            say!("error: {broken} tasks could not be rendered");
            Ok(ExitCode::Usage)
        }
        // stdout closed early (`plan … | head`): not an error of the plan.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::Success),
        Err(e) => {
            say!("error: cannot write the plan: {e}");
            Ok(ExitCode::Usage)
        }
    }
}

/// Checks shape and meaning without running anything: computed vars are checked, not run.
fn validate(files: &[std::path::PathBuf]) -> Result<ExitCode, Diagnostics> {
    let mut all = Vec::new();
    for file in files {
        let plan =
            config::load(file).and_then(|f| Plan::new(f, &PlanOptions { check_only: true, ..PlanOptions::default() }));
        match plan {
            Ok(plan) => {
                let deferred: Vec<&str> = plan
                    .file
                    .jobs
                    .iter()
                    .zip(&plan.jobs)
                    .filter(|(_, p)| p.deferred)
                    .map(|(j, _)| j.name.as_str())
                    .collect();
                let mut later = if deferred.is_empty() {
                    String::new()
                } else {
                    format!("; {} use computed vars, so they are counted or rendered when run", deferred.join(", "))
                };
                let when_ready: Vec<&str> = plan
                    .file
                    .jobs
                    .iter()
                    .zip(&plan.jobs)
                    .filter(|(_, p)| p.waits_to_be_planned())
                    .map(|(j, _)| j.name.as_str())
                    .collect();
                match when_ready.as_slice() {
                    [] => {}
                    [one] => later.push_str(&format!("; {one} reads its items when it runs")),
                    many => later.push_str(&format!("; {} read their items when they run", many.join(", "))),
                }
                say!("{}: ok ({} tasks in {} jobs{later})", file.display(), plan.total(), plan.jobs.len())
            }
            Err(Diagnostics(mut errors)) => all.append(&mut errors),
        }
    }
    if all.is_empty() { Ok(ExitCode::Success) } else { Err(Diagnostics(all)) }
}
