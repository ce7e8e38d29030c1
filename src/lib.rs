//! batchrun: run batch jobs declared in YAML.
//!
//! The data flows one way:
//! job file ─[`config`]→ `JobFile` ─[`plan`]→ lazy tasks ─[`run`]→ [`events`] → [`reporter`]s.

pub mod assemble;
pub mod cli;
pub mod config;
pub mod console;
pub mod diagnostic;
pub mod events;
pub mod evidence;
pub mod exit_code;
pub mod job_manifest;
pub mod journal;
pub mod manual;
pub mod plan;
pub mod policy;
pub mod reporter;
pub mod run;
pub mod run_state;
pub mod same_file;
pub mod slurm;
pub mod state_dir;
pub mod status;
pub mod task_key;
pub mod words;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::Path;

use clap::Parser;

use cli::{Cli, Command, PlanArgs, PlanFormat, Selection};
use diagnostic::Diagnostics;
use exit_code::ExitCode;
use journal::reader::History;
use plan::{Plan, PlanOptions};

/// The whole program: parse `args`, do what they say, return the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    if args.get(1).is_some_and(|a| a == run::watchdog::SUBCOMMAND) {
        return run::watchdog::serve_stdin(args.get(2).map(OsString::as_os_str), args.get(3).map(OsString::as_os_str));
    }
    let cli = match Cli::try_parse_from(cli::normalize(args)) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let _ = e.print();
            return ExitCode::Usage.into();
        }
        // `--help`, `--version`: written to stdout, which may be full or closed.
        Err(e) => return delivered("the help", e.print()).into(),
    };
    // Colour on stderr as `--color` says for a run, by the same rules for the other commands.
    match &cli.command {
        Command::Run(args) => args.color.apply(),
        _ => reporter::color::ColorChoice::Auto.apply(),
    }
    let result = match cli.command {
        Command::Run(args) if args.dry_run && args.resume => dry_run_resume(&args),
        Command::Run(args) if args.dry_run => {
            let plan_args = PlanArgs { file: args.file, selection: args.selection, format: PlanFormat::Text };
            print_plan(&plan_args)
        }
        Command::Run(args) => assemble::run(&args),
        Command::Plan(args) => print_plan(&args),
        Command::Status(args) => show_status(&args),
        Command::Completions { shell } => {
            let mut command = cli::for_completions();
            // Generated whole first: clap_complete panics when it cannot write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "batchrun", &mut script);
            let script = cli::complete_job_names(shell, &String::from_utf8_lossy(&script));
            Ok(to_stdout("the completion script", |out| out.write_all(script.as_bytes())))
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            Ok(to_stdout("the manual page", |out| manual::render(command, out)))
        }
        Command::Validate { files } => validate(&files),
        Command::Exec { manifest, element } => assemble::exec(&manifest, element),
        Command::CompleteJobs { words } => Ok(complete_jobs(&words)),
        Command::Schema => {
            let text = serde_json::to_string_pretty(&config::schema::job_file()).unwrap_or_default();
            Ok(to_stdout("the schema", |out| writeln!(out, "{text}")))
        }
    };
    match result {
        Ok(code) => code.into(),
        Err(diagnostics) => {
            say!("{}", diagnostic::Painted(&diagnostics));
            ExitCode::Usage.into()
        }
    }
}

/// `batchrun __jobs WORDS…`: the names of the jobs in the first job file among `words`, one per
/// line; nothing when there is none or it cannot be read (a completion shows no error).
fn complete_jobs(words: &[String]) -> ExitCode {
    let is_job_file = |w: &&String| (w.ends_with(".yaml") || w.ends_with(".yml")) && Path::new(w.as_str()).is_file();
    let names = words
        .iter()
        .find(is_job_file)
        .and_then(|file| config::load(Path::new(file)).ok())
        .map(|file| file.jobs.iter().map(|j| format!("{}\n", j.name)).collect::<String>())
        .unwrap_or_default();
    to_stdout("the job names", |out| out.write_all(names.as_bytes()))
}

/// Writes to stdout with `write`, then flushes. A closed pipe (`batchrun … | head`) ends the
/// output quietly; any other error (a full disk) is said and ends with exit 3, as nothing
/// else a run could not deliver does.
fn to_stdout(what: &str, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> ExitCode {
    let mut out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    delivered(what, write(&mut out).and_then(|()| out.flush()))
}

/// The exit status of writing `what` to stdout (see [`to_stdout`]).
fn delivered(what: &str, written: io::Result<()>) -> ExitCode {
    match written {
        Ok(()) => ExitCode::Success,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::Success,
        Err(e) => {
            say!("error: cannot write {what} to stdout: {e}");
            ExitCode::Undelivered
        }
    }
}

fn load_plan(file: &Path, selection: &Selection) -> Result<Plan, Diagnostics> {
    let job_file = config::load(file)?;
    let options = PlanOptions { set: selection.set.clone(), only: selection.only.clone(), ..PlanOptions::default() };
    Plan::new(job_file, &options)
}

/// Where `file`'s state folder is: `--state-dir` when `given`, else `.batchrun/<name>` beside
/// the job file.
pub(crate) fn state_location(given: Option<&Path>, file: &config::JobFile) -> state_dir::Location {
    match given {
        Some(path) => state_dir::Location::Given(path.to_path_buf()),
        None => state_dir::Location::Beside { job_dir: file.dir.clone(), name: file.state_name.clone() },
    }
}

/// The history in `file`'s state folder (`--state-dir`, or its default), read without writing
/// anything: empty when there is no folder yet; an error when the folder is not this file's.
/// With it, the pid of a run using the folder now, if one is.
fn read_history(
    path: &Path,
    file: &config::JobFile,
    state_dir: Option<&Path>,
    places: bool,
) -> Result<(History, Option<u32>), Diagnostics> {
    let location = state_location(state_dir, file);
    let dir = location.path();
    let error = |message: String| Diagnostics::from(diagnostic::Diagnostic::new(path, None, message));
    let owner = state_dir::Owner::of(path, &file.name);
    let Some(state) = state_dir::StateDir::inspect(location, &owner).map_err(|e| error(e.to_string()))? else {
        return Ok((History::default(), None));
    };
    let read = if places { journal::reader::read_places(&state) } else { journal::reader::read_state(&state) };
    let history = read.map_err(|e| error(format!("cannot read the journal in {}: {e}", dir.display())))?;
    Ok((history, state.running()))
}

/// Reads the job file only for where its state folder is: nothing of it is planned or run.
fn show_status(args: &cli::StatusArgs) -> Result<ExitCode, Diagnostics> {
    let file = config::load(&args.file)?;
    let dir = state_location(args.state_dir.as_deref(), &file).path();
    let (history, running) = read_history(&args.file, &file, args.state_dir.as_deref(), true)?;
    let only = &args.selection.only;
    let mut all_done = false;
    let code = to_stdout("the status", |out| {
        all_done = status::print(&file.name, &history, running, only, &dir, out)?;
        Ok(())
    });
    Ok(match code {
        ExitCode::Success if running.is_some() => ExitCode::Running,
        ExitCode::Success if !all_done => ExitCode::TasksFailed,
        code => code,
    })
}

/// `--resume --dry-run`: the plan without the tasks the journal records as done.
fn dry_run_resume(args: &cli::RunArgs) -> Result<ExitCode, Diagnostics> {
    let plan = load_plan(&args.file, &args.selection)?;
    let (history, _) = read_history(&args.file, &plan.file, args.state_dir.as_deref(), false)?;
    let mut out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let printed =
        plan::print::text_of(&plan, &mut out, |key| history.is_done(key)).and_then(|b| out.flush().map(|()| b));
    written(printed)
}

fn print_plan(args: &PlanArgs) -> Result<ExitCode, Diagnostics> {
    let plan = load_plan(&args.file, &args.selection)?;
    let mut out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let printed = match args.format {
        PlanFormat::Text => plan::print::text(&plan, &mut out),
        PlanFormat::Json => plan::print::json(&plan, &mut out),
    }
    .and_then(|broken| out.flush().map(|()| broken));
    written(printed)
}

/// The exit status of a printed plan: how many tasks could not be rendered, or why it could
/// not be written.
fn written(printed: io::Result<u64>) -> Result<ExitCode, Diagnostics> {
    match printed {
        Ok(0) => Ok(ExitCode::Success),
        Ok(broken) => {
            say!("error: {} could not be rendered", words::count(broken, "task"));
            Ok(ExitCode::Usage)
        }
        Err(e) => Ok(delivered("the plan", Err(e))),
    }
}

/// Checks shape and meaning without running anything: computed vars are checked, not run.
/// The templates are checked even when the file has other errors, so that one pass reports
/// them all.
fn validate(files: &[std::path::PathBuf]) -> Result<ExitCode, Diagnostics> {
    let mut all = Vec::new();
    for file in files {
        let (job_file, mut errors) = config::check(file);
        let plan = job_file.map(|f| Plan::new(f, &PlanOptions { check_only: true, ..PlanOptions::default() }));
        match plan {
            Some(Err(Diagnostics(mut more))) => errors.append(&mut more),
            Some(Ok(plan)) if errors.is_empty() => {
                let deferred: Vec<&str> = plan
                    .file
                    .jobs
                    .iter()
                    .zip(&plan.jobs)
                    .filter(|(_, p)| p.deferred)
                    .map(|(j, _)| j.name.as_str())
                    .collect();
                let computed: Vec<String> = plan
                    .file
                    .vars
                    .iter()
                    .filter(|(_, v)| matches!(v.value, config::Var::Command(_)))
                    .map(|(name, _)| format!("`{name}`"))
                    .collect();
                let not_run =
                    format!("validate runs no command, so computed vars {} were not run", computed.join(", "));
                let mut later = match deferred.as_slice() {
                    [] => String::new(),
                    [one] => format!("; {not_run}: {one} uses them, so it is counted or rendered when run"),
                    many => {
                        format!("; {not_run}: {} use them, so they are counted or rendered when run", many.join(", "))
                    }
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
                    [one] => later.push_str(&format!("; {one} is planned when it runs")),
                    many => later.push_str(&format!("; {} are planned when they run", many.join(", "))),
                }
                for warning in &plan.warnings {
                    eprintln!("batchrun: warning: {}: {warning}", file.display());
                }
                let (tasks, jobs) = (words::count(plan.total(), "task"), words::count(plan.jobs.len() as u64, "job"));
                say!("{}: ok ({tasks} in {jobs}{later})", file.display())
            }
            _ => {}
        }
        all.append(&mut errors);
    }
    if all.is_empty() { Ok(ExitCode::Success) } else { Err(Diagnostics(all)) }
}
