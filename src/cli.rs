//! The command line (clap derive).
//!
//! `batchrun FILE …` is short for `batchrun run FILE …`: [`normalize`] inserts `run` when the
//! first argument is not a subcommand, so clap sees one consistent grammar.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::reporter::ProgressMode;
use crate::reporter::color::ColorChoice;
use crate::run::output::OutputMode;

/// clap's view of the option values whose types live where they are used (and know nothing
/// of clap): each variant's name on the command line, and its help.
macro_rules! value_enum {
    ($ty:ident { $($variant:ident => $name:literal $(: $help:literal)?),* $(,)? }) => {
        impl clap::ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($ty::$variant),*]
            }

            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(match self {
                    $($ty::$variant => clap::builder::PossibleValue::new($name)$(.help($help))?,)*
                })
            }
        }
    };
}

value_enum!(ProgressMode {
    Auto => "auto": "A bar on a terminal; plain lines otherwise or when `CI` is set",
    Bar => "bar",
    Plain => "plain",
    None => "none",
});
value_enum!(OutputMode { Grouped => "grouped", Ordered => "ordered", Tagged => "tagged", None => "none" });
value_enum!(ColorChoice {
    Auto => "auto": "Colour on a terminal, unless `NO_COLOR` or `CI` is set; `CLICOLOR_FORCE` forces it",
    Always => "always",
    Never => "never",
});

/// The exit statuses and which wins when several apply (`--help` and the manual page).
const EXIT_STATUS: &str = "Exit status:
  0        every task succeeded and its output was delivered
  1        one or more tasks failed, or were skipped because a job they need failed
  2        bad job file or usage: nothing ran
  3        a task's output could not be written out (a closed pipe, a full disk): kept in its log,
           not done, so --resume runs it again; or a --report or --events json could not be written
  129/130/143  interrupted by SIGHUP/SIGINT/SIGTERM
When several apply, the first of 2, 129/130/143, 3, 1 wins.";

/// `status`'s exit statuses (its `--help` and the manual page).
pub const STATUS_EXIT_STATUS: &str = "Exit status:
  0        every task the last run planned is done
  1        not every task is done: some failed, or never ran, or no run is recorded yet
  2        bad job file or usage
  3        the status could not be written out
  4        a run is using the state folder now";

#[derive(Debug, Parser)]
#[command(
    name = "batchrun",
    version,
    about = "Run batch jobs declared in YAML on a pool of workers",
    long_about = None,
    override_usage = "batchrun FILE [OPTIONS]        (the same as batchrun run FILE [OPTIONS])\n       batchrun <COMMAND> [ARGS]",
    after_long_help = EXIT_STATUS
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a job file (the default: `batchrun FILE` is `batchrun run FILE`).
    Run(RunArgs),
    /// Expand a job file and print its tasks without running them.
    Plan(PlanArgs),
    /// Per job, from the journal: tasks done, failed, cancelled and not run.
    #[command(after_long_help = STATUS_EXIT_STATUS)]
    Status(StatusArgs),
    /// Print a shell completion script: `batchrun completions bash > /etc/bash_completion.d/batchrun`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `batchrun man | man -l -`.
    Man,
    /// Run one Slurm array element's tasks (what `--backend slurm` submits).
    #[command(hide = true)]
    Exec {
        manifest: PathBuf,
        /// The element; default: $SLURM_ARRAY_TASK_ID.
        element: Option<u64>,
    },
    /// The job names of the job file among WORDS (a command line being completed), one per
    /// line: what the completion scripts offer after `--only`.
    #[command(name = "__jobs", hide = true)]
    CompleteJobs {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Print the JSON Schema of job files, for editors: `batchrun schema > batchrun.schema.json`.
    Schema,
    /// Check job files; print every error found.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// What selects and shapes the plan; shared by `run` and `plan`.
#[derive(Debug, Args)]
pub struct Selection {
    /// Override a var: KEY=VALUE, the value read as a YAML scalar (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Run only this job and the jobs it needs (repeatable).
    #[arg(long = "only", value_name = "JOB")]
    pub only: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job file.
    pub file: PathBuf,
    /// Number of workers (overrides `concurrency`; default: number of CPUs).
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    #[command(flatten)]
    pub selection: Selection,
    /// Print the plan and run nothing (same as `batchrun plan`); with `--resume`, only the
    /// tasks that would run.
    #[arg(long, conflicts_with_all = ["reports", "events"])]
    pub dry_run: bool,
    /// How progress is shown: a bar on a terminal (done of total, failed, tasks/s, elapsed, and an
    /// ETA once the rate is steady); plain lines otherwise or under CI (every failure, `ok` lines
    /// for the first 100 tasks, a progress line every 10 s).
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// How task output is printed.
    #[arg(long, value_enum, default_value_t = OutputMode::Grouped)]
    pub output: OutputMode,
    /// Stop starting tasks after the first failure (`on_failure: stop` for every job).
    #[arg(long)]
    pub fail_fast: bool,
    /// Per-attempt timeout for every job, e.g. 30s, 5m (overrides the file).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Extra attempts after a failed one, for every job (overrides the file).
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Colours on stderr: auto (a terminal, unless NO_COLOR or CI is set; CLICOLOR_FORCE forces them).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Where tasks run: here, or on a Slurm cluster as job arrays (state folder on a shared filesystem).
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    /// Stream the run's events as JSON lines on stdout (task output then goes to stderr).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub events: Option<EventsFormat>,
    /// Write a report when the run ends: PATH.json (JSON), PATH.xml (JUnit) or PATH.html (a page
    /// with a timeline); repeatable.
    #[arg(long = "report", value_name = "PATH")]
    pub reports: Vec<PathBuf>,
    /// Run only the tasks that the journal does not record as done.
    #[arg(long)]
    pub resume: bool,
    /// Write no journal (and so allow no later --resume).
    #[arg(long, conflicts_with = "resume")]
    pub no_journal: bool,
    /// Keep every task's output on disk, not only failed tasks'.
    #[arg(long)]
    pub keep_logs: bool,
    /// The state folder (journal, logs); default: `.batchrun/<name>` beside the job file.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl RunArgs {
    /// The settings this command line gives every job.
    pub fn overrides(&self) -> crate::config::Overrides {
        crate::config::Overrides { fail_fast: self.fail_fast, timeout: self.timeout, retries: self.retries }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A pool of worker threads on this machine.
    Local,
    /// Slurm job arrays (`sbatch`), followed through the shared state folder.
    Slurm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventsFormat {
    /// One JSON object per event per line.
    Json,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::config::parse_duration(text)
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The job file.
    pub file: PathBuf,
    #[command(flatten)]
    pub selection: Selection,
    /// `text` for people, `json` for one object per task per line.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The job file.
    pub file: PathBuf,
    #[command(flatten)]
    pub selection: Selection,
    /// The state folder, if the run used --state-dir.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got `{text}`")),
    }
}

/// The command line as shell completions offer it: without the commands batchrun runs itself
/// (`exec`, which `--backend slurm` submits).
pub fn for_completions() -> clap::Command {
    let full = <Cli as clap::CommandFactory>::command();
    let mut shown = clap::Command::new("batchrun").version(env!("CARGO_PKG_VERSION"));
    if let Some(about) = full.get_about() {
        shown = shown.about(about.clone());
    }
    for sub in full.get_subcommands().filter(|s| !s.is_hide_set()) {
        shown = shown.subcommand(sub.clone());
    }
    shown
}

/// `script` (clap_complete's, for `shell`) with `--only` completing the job names of the job
/// file on the command line (from `batchrun __jobs`) rather than file names. Shells whose
/// scripts cannot call a command keep clap's completion.
pub fn complete_job_names(shell: clap_complete::Shell, script: &str) -> String {
    use clap_complete::Shell;
    match shell {
        Shell::Bash => script.replace(
            "--only)\n                    COMPREPLY=($(compgen -f \"${cur}\"))",
            "--only)\n                    COMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" __jobs \"${COMP_WORDS[@]}\" 2>/dev/null)\" -- \"${cur}\"))",
        ),
        Shell::Zsh => {
            let jobs = "_batchrun_jobs() {\n    local -a jobs\n    jobs=(${(f)\"$(${words[1]} __jobs ${words[@]} 2>/dev/null)\"})\n    _describe 'job' jobs\n}\n\n";
            let script = script.replace(
                "(repeatable)]:JOB:_default'",
                "(repeatable)]:JOB:_batchrun_jobs'",
            );
            match script.split_once('\n') {
                Some((first, rest)) if first.starts_with("#compdef") => format!("{first}\n\n{jobs}{rest}"),
                _ => format!("{jobs}{script}"),
            }
        }
        Shell::Fish => script.replace(
            "-l only -d 'Run only this job and the jobs it needs (repeatable)' -r",
            "-l only -d 'Run only this job and the jobs it needs (repeatable)' -r -f -a \"(batchrun __jobs (commandline -opc))\"",
        ),
        _ => script.to_owned(),
    }
}

/// Inserts `run` when the first argument is neither a subcommand nor a top-level flag.
pub fn normalize(mut args: Vec<OsString>) -> Vec<OsString> {
    const TOP_LEVEL: &[&str] = &[
        "run",
        "plan",
        "status",
        "validate",
        "schema",
        "exec",
        "__jobs",
        "completions",
        "man",
        "help",
        "-h",
        "--help",
        "-V",
        "--version",
    ];
    if let Some(first) = args.get(1)
        && !TOP_LEVEL.iter().any(|t| first == t)
    {
        args.insert(1, "run".into());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::parse_from(normalize(args.iter().map(OsString::from).collect()))
    }

    #[test]
    fn file_alone_means_run() {
        let Command::Run(run) = parse(&["batchrun", "jobs/x.yaml", "-j", "3"]).command else { panic!() };
        assert_eq!(run.file, PathBuf::from("jobs/x.yaml"));
        assert_eq!(run.jobs, Some(3));
        let Command::Run(run) = parse(&["batchrun", "-j", "3", "x.yaml"]).command else { panic!() };
        assert_eq!(run.file, PathBuf::from("x.yaml"));
    }

    #[test]
    fn set_takes_key_value() {
        let Command::Plan(plan) = parse(&["batchrun", "plan", "x.yaml", "--set", "a=b=c"]).command else { panic!() };
        assert_eq!(plan.selection.set, [("a".to_owned(), "b=c".to_owned())]);
        assert!(Cli::try_parse_from(["batchrun", "plan", "x", "--set", "novalue"]).is_err());
    }
}
