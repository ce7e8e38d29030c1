//! `batchrun man`: the whole manual in one page. clap renders the synopsis and every option of
//! `run`; the rest (the job file, templates and quoting, exit status, environment, files) is
//! written here, so `man` says what the README says without pointing at pages that do not exist.

use std::io::{self, Write};

use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

/// Sections after the options: a title, then paragraphs, each either text or a term and its
/// description.
const SECTIONS: &[(&str, &[Para])] = &[
    (
        "THE JOB FILE",
        &[
            Para::Text("A YAML map. Top-level keys:"),
            Para::Term("name", "the run's name (default: the file's name without .yaml)"),
            Para::Term("vars", "values every template sees; {sh: CMD} runs CMD once when the run is planned"),
            Para::Term("defaults", "settings every job inherits (the per-job settings below)"),
            Para::Term("limits", "named caps shared across jobs: db: 4, used by a job with uses: [db]"),
            Para::Term("concurrency", "tasks at once for the whole run (default: the number of CPUs; -j overrides)"),
            Para::Term("jobs", "the jobs, by name, run in needs order"),
            Para::Text("A job has a command (a template) and at most one source, or a commands list:"),
            Para::Term("range: {from, to, step | chunks}", "partitions of an integer range; binds start and end"),
            Para::Term(
                "range: {bounds: {sh: CMD}}",
                "partitions from the ascending integers CMD prints (each starts one; the last ends the range)",
            ),
            Para::Term(
                "matrix: {KEY: LIST | {from, to, step}, include, exclude}",
                "the cartesian product; binds each key",
            ),
            Para::Term(
                "items: LIST | {file: PATH | sh: CMD, format: lines|csv|jsonl}",
                "one task per item (of a file, or of what CMD prints, run when the job becomes ready); binds item",
            ),
            Para::Term("commands: [CMD, ...]", "one task per entry"),
            Para::Text("Every task also binds job, index (0-based in its job) and count (tasks in its job)."),
            Para::Term(
                "product: PATH",
                "the file each task writes (a template); the command writes {{ product }}, a temporary \
                 beside it, renamed into place only when the attempt succeeded",
            ),
            Para::Term(
                "verify: CMD",
                "run after the command succeeded and before the product is committed; when it fails, \
                 the attempt failed",
            ),
            Para::Term(
                "manifest: NAME",
                "the file written in the folder of the job's products once every task has committed \
                 its own (default _SUCCESS: their paths, sizes, and rows where verify printed a count); \
                 removed before any of them is rebuilt",
            ),
            Para::Term(
                "label: TEMPLATE",
                "how its tasks are shown, after the job's name (test[3.12/postgres]); by default a matrix \
                 or items task shows its values when short (test[python=3.12,db=postgres]), else its \
                 index; display only: --resume and BATCHRUN_TASK do not see it",
            ),
            Para::Text("Per-job settings (also under defaults):"),
            Para::Term("needs: [JOB, ...]", "run after every task of these jobs succeeded; skipped when one failed"),
            Para::Term("uses: [LIMIT, ...]", "count against these limits"),
            Para::Term("concurrency: N", "a cap for this job"),
            Para::Term("timeout, retry_delay, kill_grace, start_gap", "durations: 30s, 5m, 1h30m"),
            Para::Term("retries: N", "extra attempts after a failed one (the delay doubles, with jitter)"),
            Para::Term(
                "allow_failure: true",
                "its failures are reported but do not fail the run, and jobs that need it still run",
            ),
            Para::Term(
                "retry_on: [CODE, \"LOW-HIGH\", timeout, signal, verify]",
                "retry only these failures (default: every failure)",
            ),
            Para::Term(
                "on_failure: continue|stop|kill|{stop: N}|{kill: \"N%\"}",
                "after a failed task (or N of them, or N % of the finished ones once 10 finished): go on, \
                 start nothing new, or also stop what runs; at the top level, for the whole run",
            ),
            Para::Term(
                "shell: auto|sh|bash|none",
                "how a command runs; auto uses sh only for commands that need a shell",
            ),
            Para::Term("env: {KEY: TEMPLATE}", "environment of each task"),
            Para::Term("cwd: PATH", "working folder (relative paths resolve against the job file's folder)"),
            Para::Term("slurm: {partition, time, cpus_per_task, mem, tasks_per_element, extra}", "for --backend slurm"),
            Para::Text(
                "An items file is read once, when its job is planned, into a snapshot that every reader uses. \
                 A job with needs and an items file is planned when the jobs it needs have succeeded. \
                 batchrun schema prints the JSON Schema of job files, for editors.",
            ),
        ],
    ),
    (
        "TEMPLATES AND QUOTING",
        &[
            Para::Text(
                "Templates use Jinja syntax (minijinja): {{ n * 2 }}, {{ name | upper }}. A name that is not \
                 defined is an error before anything runs: every task of a matrix or of inline items is \
                 rendered first; of an items file, the first task (a later record without a field the \
                 command uses fails that task alone).",
            ),
            Para::Text(
                "A value substituted into a command arrives literally, whatever it holds: batchrun reads the \
                 command template as the shell will and escapes each {{ ... }} for the place it sits in: a bare \
                 word, inside \"...\", inside '...', $'...' (bash), or a here-document body. Places where no \
                 escaping is reliable (backticks, comments, ${...}, $((...)), [[ ]], a here-document delimiter) \
                 are refused before anything runs, with the place. {{ x | raw }} inserts a value unescaped.",
            ),
        ],
    ),
    (
        "EXIT STATUS",
        &[
            Para::Term("0", "every task succeeded and its output was delivered"),
            Para::Term("1", "a task failed, was skipped because a job it needs failed, or was not run"),
            Para::Term("2", "bad job file or usage: nothing ran"),
            Para::Term(
                "3",
                "output, a report or the events could not be delivered (a closed pipe, a full disk); a task \
                 whose output was not delivered is not done",
            ),
            Para::Term("129, 130, 143", "interrupted by SIGHUP, SIGINT, SIGTERM"),
            Para::Text("When several apply, the first of 2, 129/130/143, 3, 1 wins."),
            Para::Text(
                "batchrun status exits 0 when every task the last run planned is done; 1 when not (some \
                 failed, or never ran, or no run is recorded yet); 2 for a bad job file or usage; 3 when \
                 the status could not be written out; 4 when a run is using the state folder now.",
            ),
        ],
    ),
    (
        "ENVIRONMENT",
        &[
            Para::Text("Each task gets:"),
            Para::Term(
                "BATCHRUN_JOB, BATCHRUN_INDEX, BATCHRUN_TASK, BATCHRUN_ATTEMPT",
                "its job, index, label and attempt",
            ),
            Para::Term(
                "BATCHRUN_RUN",
                "a mark unique to the run, by which what a task leaves behind is found and stopped; env may \
                 not set any BATCHRUN_ name",
            ),
            Para::Text("batchrun reads:"),
            Para::Term("CI", "plain lines and no escape codes"),
            Para::Term("NO_COLOR, CLICOLOR_FORCE", "colour off, or on"),
            Para::Term("GITHUB_ACTIONS, GITHUB_STEP_SUMMARY", "folded failures, annotations and a step summary"),
            Para::Term("TMPDIR", "where large task output is kept while it waits"),
        ],
    ),
    (
        "FILES",
        &[
            Para::Term(
                ".batchrun/NAME/ beside the job file",
                "the state folder (--state-dir): one run at a time, one job file ever; nothing in it is opened \
                 through a link",
            ),
            Para::Term("owner.json", "the mark: which job file the folder belongs to"),
            Para::Term("journal.jsonl", "every attempt; what --resume and batchrun status read"),
            Para::Term(
                "logs/JOB/INDEX.ATTEMPT.out, .err",
                "the output of failed attempts (every attempt with --keep-logs)",
            ),
            Para::Term("inputs/", "a run's snapshots of large items files, removed when it ends"),
            Para::Term("slurm/", "manifests, Slurm's output and the journals of array elements"),
        ],
    ),
    (
        "EXAMPLES",
        &[
            Para::Term("batchrun jobs/export.yaml", "run a job file"),
            Para::Term("batchrun jobs/export.yaml --resume", "run only what did not succeed"),
            Para::Term("batchrun plan jobs/export.yaml", "print the tasks without running them"),
            Para::Term("batchrun jobs/export.yaml --report run.xml", "write JUnit XML for CI"),
            Para::Term("batchrun jobs/export.yaml --report run.html", "a page to look at: timeline, failures, skew"),
            Para::Term("batchrun status jobs/export.yaml", "per job, what the journal says"),
        ],
    ),
];

enum Para {
    Text(&'static str),
    Term(&'static str, &'static str),
}

/// Writes the manual page (roff) of `command` (the whole CLI).
pub fn render(command: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    let mut page = Vec::new();
    render_parts(command, &mut page)?;
    // Each part starts with roff's apostrophe preamble: keep the first only.
    let text = String::from_utf8_lossy(&page);
    let mut preamble_written = false;
    for line in text.lines() {
        let preamble = line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq");
        if preamble && preamble_written {
            continue;
        }
        preamble_written |= line.starts_with(".el .ds Aq");
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn render_parts(command: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    let man = Man::new(command.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    let mut page = Roff::new();
    page.control("SH", ["SYNOPSIS"]);
    for (usage, what) in [
        ("batchrun [run] FILE [OPTIONS]", "run a job file"),
        ("batchrun plan FILE [--format text|json]", "print its tasks"),
        ("batchrun validate FILE...", "check job files, running nothing: every error in one pass"),
        ("batchrun status FILE", "what the journal says"),
        ("batchrun schema | man | completions SHELL", "the JSON Schema, this page, completion scripts"),
    ] {
        page.control("TP", []).text([bold(usage)]).text([roman(what)]);
    }
    page.control("SH", ["DESCRIPTION"]);
    page.text([roman(
        "batchrun runs batch jobs declared in YAML: a list of commands, a command over a numeric range \
         (a table exported in id partitions), a matrix, or items from a file. It expands the file into \
         tasks, runs them on a pool of workers (or as Slurm job arrays), shows progress, keeps each \
         task's output together, records every attempt in a journal so that --resume runs only what is \
         missing, and ends with a summary that says what failed and why.",
    )]);
    page.to_writer(out)?;
    if let Some(run) = command.find_subcommand("run") {
        let mut title = Roff::new();
        title.control("SH", ["RUN OPTIONS"]);
        title.to_writer(out)?;
        render_options(run.clone(), out)?;
    }
    let mut rest = Roff::new();
    for (title, paras) in SECTIONS {
        rest.control("SH", [*title]);
        for para in *paras {
            match para {
                Para::Text(text) => _ = rest.control("PP", []).text([roman(*text)]),
                Para::Term(term, text) => _ = rest.control("TP", []).text([bold(*term)]).text([roman(*text)]),
            }
        }
    }
    rest.control("SH", ["SEE ALSO"]);
    rest.text([italic("README.md"), roman(" in batchrun's source, and "), bold("batchrun --help"), roman(".")]);
    rest.to_writer(out)
}

/// The options of a subcommand, under a section already written.
fn render_options(command: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    let mut options = Vec::new();
    Man::new(command).render_options_section(&mut options)?;
    // Without its own `.SH OPTIONS` line: the caller named the section.
    let text = String::from_utf8_lossy(&options);
    for line in text.lines().filter(|l| *l != ".SH OPTIONS") {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_every_section_and_points_at_no_missing_page() {
        let mut out = Vec::new();
        render(<crate::cli::Cli as clap::CommandFactory>::command(), &mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "RUN OPTIONS",
            "THE JOB FILE",
            "TEMPLATES AND QUOTING",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "EXAMPLES",
        ] {
            assert!(
                page.contains(&format!(".SH \"{section}\"")) || page.contains(&format!(".SH {section}")),
                "{section}"
            );
        }
        assert!(page.contains("\\-\\-resume"), "run's options are there");
        assert!(!page.contains("batchrun\\-run(1)"), "no page that does not exist");
        assert!(page.lines().count() > 150, "{} lines", page.lines().count());
    }
}
