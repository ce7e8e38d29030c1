//! `--report PATH`: a record of the run, as JSON (`.json`), JUnit XML (`.xml`) or a page to look
//! at (`.html`, see [`super::html`]).
//!
//! Finished tasks are streamed to a temporary file as JSON lines while the run goes on, so a
//! report of millions of tasks costs no memory; the report itself is assembled from that file
//! when the run ends, written beside its final path and renamed into place.
//!
//! JSON (format version 1): `{"version", "name", "started", "duration_ms", "interrupted_by",
//! "counts": {"total", "running", "succeeded", "failed", "skipped", "not_run", "already_done", and
//! "flaky" and "allowed" when not 0}, "tasks": [{
//! the fields of the journal's end record (`events::TaskEnd`: "job", "index", "label", "key",
//! "attempt", "status", "exit", "signal", "duration_ms", "reason" when there is one), and
//! "command", "attempts" (as "attempt"), "log", "stderr_tail", "outcome", and for a task with
//! failed attempts before its last "failed_attempts": [{"attempt", "status", "exit", "signal",
//! "duration_ms", "outcome", "stderr_tail"}] and "flaky": true when it then passed, and
//! "allowed": true for a failure its job's `allow_failure` allows}]}`, every planned
//! task in plan order (jobs in the file's order, then by index). `status` is one of `ok`,
//! `failed`, `signalled`, `timeout`, `cancelled`, `not_started`, `lost` (a Slurm array element
//! ended without recording it), `undelivered` (it succeeded but its output could not be written
//! out), `skipped` (a job it needs did not succeed) or `not_run` (the run stopped first); tasks
//! done in an earlier run (`--resume`) are only counted.
//! JUnit: one `testsuite` per job, one `testcase` per task in plan order, a `failure` with the
//! exit code (or signal, timeout) and the tail of stderr, `<skipped/>` for tasks not run, and
//! each failed attempt before the last as `flakyFailure` (the task then passed) or
//! `rerunFailure` (it failed again), as nextest and Maven Surefire write them.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::events::Listener;
use crate::events::{Counts, Event, Status, TaskEnd};
use crate::evidence::Evidence;

pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Junit,
    Html,
}

impl Format {
    /// From the report's file name: `.json`, `.xml` or `.html`.
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "json" => Some(Format::Json),
            "html" => Some(Format::Html),
            "xml" => Some(Format::Junit),
            _ => None,
        }
    }
}

/// One finished task, as a report states it.
/// A task as the report holds it: the journal's end record ([`TaskEnd`]) and more.
#[derive(Debug, Serialize, Deserialize)]
struct TaskRecord {
    #[serde(flatten)]
    end: TaskEnd,
    command: String,
    /// The same as `attempt`, under the name version 1 of the report first gave it.
    attempts: u32,
    log: Option<PathBuf>,
    stderr_tail: Vec<String>,
    /// What happened, in words (for JUnit's failure message).
    outcome: String,
    /// When its last attempt started, from the start of the run (absent for tasks not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_ms: Option<u64>,
    /// The worker that ran it (a local run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slot: Option<usize>,
    /// It failed, then passed on a retry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    flaky: bool,
    /// Its attempts before the last, each of which failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    failed_attempts: Vec<FailedAttempt>,
    /// It failed in a job with `allow_failure`: it does not fail the run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    allowed: bool,
    /// Its last attempt's log files, when they were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    logs: Option<Logs>,
    /// The head and tail of its last attempt's stdout and stderr, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evidence: Option<Evidence>,
}

/// An attempt's log files.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Logs {
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Logs {
    fn of(stem: Option<&Path>) -> Option<Logs> {
        use crate::state_dir::log_file;
        stem.map(|stem| Logs { stdout: log_file(stem, "out"), stderr: log_file(stem, "err") })
    }
}

/// An attempt that failed and was retried.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FailedAttempt {
    attempt: u32,
    status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signal: Option<i32>,
    duration_ms: u64,
    /// What happened, in words.
    outcome: String,
    stderr_tail: Vec<String>,
    /// When it started, from the start of the run, and the worker that ran it (a local run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slot: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    logs: Option<Logs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evidence: Option<Evidence>,
}

#[derive(Serialize)]
struct Header<'a> {
    version: u32,
    name: &'a str,
    started: &'a str,
    duration_ms: u64,
    interrupted_by: Option<i32>,
    counts: Counts,
    /// Why the run stopped early, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<&'a str>,
}

pub struct Report {
    path: PathBuf,
    /// Set when the report could not be written, so the run does not end with 0.
    failed: Arc<AtomicBool>,
    format: Format,
    jobs: Vec<String>,
    name: String,
    started: String,
    /// When the run started, for each task's start in the HTML timeline.
    run_started: std::time::Instant,
    tasks: BufWriter<File>,
    /// Why the run began to stop, the first time it did.
    stopped: Option<String>,
    /// Failed attempts of tasks being retried, by (job, index), until their last attempt.
    retried: std::collections::HashMap<(usize, u64), Vec<FailedAttempt>>,
}

impl Report {
    /// Checks before anything runs that the report can be written where it is asked for (its
    /// folder exists, it is not a folder, the folder takes a new file), so a long run does not
    /// end with a report it cannot write. `failed` is set if writing it fails all the same.
    pub fn new(path: PathBuf, format: Format, jobs: Vec<String>, failed: Arc<AtomicBool>) -> io::Result<Report> {
        let folder = folder_of(&path);
        if !folder.is_dir() {
            // The nearest part of the path that exists says what is wrong with it.
            let message = match folder.ancestors().find(|a| a.exists() || a.as_os_str().is_empty()) {
                Some(file) if !file.as_os_str().is_empty() && !file.is_dir() => {
                    format!("{} is a file, not a folder", file.display())
                }
                _ => format!("the folder {} does not exist", folder.display()),
            };
            return Err(io::Error::new(io::ErrorKind::NotFound, message));
        }
        if path.is_dir() {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "it is a folder"));
        }
        if path.as_os_str().as_encoded_bytes().ends_with(b"/") {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "it ends in /, as a folder does"));
        }
        partial_in(&folder, &path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot write in {}: {e}", folder.display())))?;
        Ok(Report {
            path,
            failed,
            format,
            jobs,
            name: String::new(),
            started: crate::events::now(),
            run_started: std::time::Instant::now(),
            tasks: BufWriter::new(tempfile::tempfile().map_err(|e| {
                let dir = std::env::temp_dir();
                io::Error::new(e.kind(), format!("cannot make its working file in {} (TMPDIR): {e}", dir.display()))
            })?),
            retried: std::collections::HashMap::new(),
            stopped: None,
        })
    }

    fn write(&mut self, counts: &Counts, elapsed: Duration, interrupted_by: Option<i32>) -> io::Result<()> {
        self.tasks.flush()?;
        let tasks = self.tasks.get_mut();
        let mut out = BufWriter::new(partial_in(&folder_of(&self.path), &self.path)?);
        let header = Header {
            version: VERSION,
            name: &self.name,
            started: &self.started,
            duration_ms: elapsed.as_millis() as u64,
            interrupted_by,
            counts: *counts,
            stopped: self.stopped.as_deref(),
        };
        let order = plan_order(tasks, &self.jobs)?;
        match self.format {
            Format::Json => write_json(&header, records(tasks, &order), &mut out)?,
            Format::Junit => write_junit(&header, &self.jobs, tasks, &order, &mut out)?,
            Format::Html => write_html(&header, &self.jobs, records(tasks, &order), &mut out)?,
        }
        let temp = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        temp.persist(&self.path).map(drop).map_err(|e| e.error)
    }
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A new file beside the report, to be renamed into place when it is whole: a hidden name of
/// its own (`.<report>.<random>.partial`), created exclusively, so no file of the user's is
/// ever truncated or removed in its stead; it is removed if the report is not completed.
fn partial_in(folder: &Path, path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    use std::os::unix::fs::PermissionsExt as _;
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        // As any file the user writes: readable by others unless the umask says otherwise.
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(folder)
}

/// Where each task's line starts in the spool, in plan order: by job (the file's order), then
/// by index. Tasks finish in any order; reports list them as the plan does.
fn plan_order(tasks: &mut File, jobs: &[String]) -> io::Result<Vec<u64>> {
    #[derive(Deserialize)]
    struct Place {
        job: String,
        index: u64,
    }
    tasks.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(&mut *tasks);
    let mut places = Vec::new();
    let (mut offset, mut line) = (0u64, String::new());
    loop {
        line.clear();
        let read = reader.read_line(&mut line)?;
        if read == 0 {
            break;
        }
        if let Ok(place) = serde_json::from_str::<Place>(&line) {
            let job = jobs.iter().position(|j| *j == place.job).unwrap_or(usize::MAX);
            places.push((job, place.index, offset));
        }
        offset += read as u64;
    }
    places.sort_unstable();
    Ok(places.into_iter().map(|(_, _, offset)| offset).collect())
}

/// The spool's tasks, in plan order.
fn records<'a>(tasks: &'a mut File, order: &'a [u64]) -> impl Iterator<Item = TaskRecord> + 'a {
    let mut line = String::new();
    order.iter().filter_map(move |&offset| {
        line.clear();
        tasks.seek(SeekFrom::Start(offset)).ok()?;
        BufReader::new(&mut *tasks).read_line(&mut line).ok()?;
        serde_json::from_str(&line).ok()
    })
}

fn write_json(header: &Header, tasks: impl Iterator<Item = TaskRecord>, out: &mut impl Write) -> io::Result<()> {
    let head = serde_json::to_string(header)?;
    // The header object, reopened to add the task list.
    out.write_all(&head.as_bytes()[..head.len() - 1])?;
    out.write_all(b",\"tasks\":[")?;
    for (i, task) in tasks.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, &task)?;
    }
    out.write_all(b"]}\n")
}

fn write_junit(
    header: &Header,
    jobs: &[String],
    tasks: &mut File,
    order: &[u64],
    out: &mut impl Write,
) -> io::Result<()> {
    let seconds = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
    // A task batchrun stopped is no failure of its own: CI renderers show it as skipped.
    let not_run = |status: Status| matches!(status, Status::Skipped | Status::NotRun | Status::Cancelled);
    // Tallies per job first (one pass), then the testcases in plan order (a second).
    let mut tally = vec![Tally::default(); jobs.len()];
    for task in records(tasks, order) {
        if let Some(i) = jobs.iter().position(|j| *j == task.end.job) {
            tally[i].tests += 1;
            tally[i].failures += u64::from(task.end.status != Status::Ok && !not_run(task.end.status));
            tally[i].skipped += u64::from(not_run(task.end.status));
            tally[i].ms += task.end.duration_ms;
        }
    }
    let sum = |f: fn(&Tally) -> u64| tally.iter().map(f).sum::<u64>();
    let (tests, failures, skipped) = (sum(|t| t.tests), sum(|t| t.failures), sum(|t| t.skipped));
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="{}" tests="{tests}" failures="{failures}" skipped="{skipped}" time="{}">"#,
        xml(header.name),
        seconds(header.duration_ms)
    )?;
    let mut open_suite: Option<String> = None;
    // Labels show values, and two tasks may have the same: a testcase's name is its own in
    // its suite (CI renderers merge testcases of one name), the later ones told by their index.
    let mut names = std::collections::HashSet::new();
    for task in records(tasks, order) {
        if open_suite.as_deref() != Some(task.end.job.as_str()) {
            names.clear();
            if open_suite.is_some() {
                writeln!(out, "  </testsuite>")?;
            }
            let t = jobs.iter().position(|j| *j == task.end.job).map(|i| tally[i].clone()).unwrap_or_default();
            writeln!(
                out,
                r#"  <testsuite name="{}" tests="{}" failures="{}" skipped="{}" time="{}">"#,
                xml(&task.end.job),
                t.tests,
                t.failures,
                t.skipped,
                seconds(t.ms)
            )?;
            open_suite = Some(task.end.job.clone());
        }
        let name = if names.insert(task.end.label.clone()) {
            task.end.label.clone()
        } else {
            format!("{} #{}", task.end.label, task.end.index)
        };
        let open = format!(
            r#"    <testcase name="{}" classname="{}" time="{}""#,
            xml(&name),
            xml(&task.end.job),
            seconds(task.end.duration_ms)
        );
        // The product a task committed, as testcase properties (read by JUnit viewers).
        let product = task.end.product.as_ref().map(|p| {
            format!(
                "      <properties>\n        <property name=\"product\" value=\"{}\"/>\n        <property name=\"product_bytes\" value=\"{}\"/>\n      </properties>\n",
                xml(&p.path.display().to_string()),
                p.bytes
            )
        });
        // Attempts that failed before the last, as nextest and Surefire write them:
        // `flakyFailure` in a test that then passed, `rerunFailure` in one that failed again,
        // each with its description as `stackTrace` and its output excerpts.
        let reruns: String = task
            .failed_attempts
            .iter()
            .map(|a| {
                let element = if task.end.status == Status::Ok { "flakyFailure" } else { "rerunFailure" };
                format!(
                    "      <{element} message=\"{}\" type=\"{:?}\">\n        <stackTrace>{}</stackTrace>{}\n      </{element}>\n",
                    xml(&format!("attempt {}: {}", a.attempt, a.outcome)),
                    a.status,
                    xml(&failure_text(&task.command, a.logs.as_ref(), &a.stderr_tail)),
                    streams(a.evidence.as_ref(), "        "),
                )
            })
            .collect();
        if task.end.status == Status::Ok {
            match (product, reruns.is_empty()) {
                (None, true) => writeln!(out, "{open}/>")?,
                (product, _) => write!(out, "{open}>\n{}{reruns}    </testcase>\n", product.unwrap_or_default())?,
            }
            continue;
        }
        writeln!(out, "{open}>")?;
        if task.end.status == Status::Cancelled {
            let why = header
                .stopped
                .map_or_else(|| "stopped by batchrun".to_owned(), |r| format!("stopped by batchrun: {r}"));
            writeln!(out, r#"      <skipped message="{}"/>"#, xml(&format!("cancelled: {why}")))?;
        } else if not_run(task.end.status) {
            writeln!(out, r#"      <skipped message="{}"/>"#, xml(&task.outcome))?;
        } else {
            let body = failure_text(&task.command, task.logs.as_ref(), &task.stderr_tail);
            // A failure its job allows is still a failure, said as allowed, as the summary does.
            let allowed = if task.allowed { "allowed failure: " } else { "" };
            let attempts = crate::words::count(u64::from(task.attempts), "attempt");
            let message = format!("{allowed}{} ({attempts})", task.outcome);
            writeln!(
                out,
                r#"      <failure message="{}" type="{:?}">{}</failure>"#,
                xml(&message),
                task.end.status,
                xml(&body)
            )?;
            write!(out, "{reruns}")?;
            let streams = streams(task.evidence.as_ref(), "      ");
            if !streams.is_empty() {
                writeln!(out, "{}", &streams[1..])?;
            }
        }
        writeln!(out, "    </testcase>")?;
    }
    if open_suite.is_some() {
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

/// How much of a command JUnit and the HTML page show for each failed attempt: a generated
/// command can be megabytes, and the JSON report has it whole.
const COMMAND_SHOWN: usize = 1000;

/// The command, or its start and how long it is.
fn shown_command(command: &str) -> std::borrow::Cow<'_, str> {
    super::format::cut_command(command, COMMAND_SHOWN, "the JSON report")
}

/// A failure's body in JUnit: the command, where its logs are, and the last lines of stderr.
fn failure_text(command: &str, logs: Option<&Logs>, stderr_tail: &[String]) -> String {
    let mut text = format!("command: {}\n", shown_command(command));
    if let Some(logs) = logs {
        text.push_str(&format!("stdout: {}\nstderr: {}\n", logs.stdout.display(), logs.stderr.display()));
    }
    if !stderr_tail.is_empty() {
        text.push('\n');
        text.push_str(&stderr_tail.join("\n"));
    }
    text
}

/// `<system-out>` and `<system-err>` of an attempt's excerpts (as nextest and Surefire write
/// a test's output), each on a line of its own; nothing for a stream that printed nothing.
fn streams(evidence: Option<&Evidence>, indent: &str) -> String {
    let Some(evidence) = evidence else { return String::new() };
    let mut out = String::new();
    for (element, excerpt) in [("system-out", &evidence.stdout), ("system-err", &evidence.stderr)] {
        if excerpt.bytes > 0 {
            out.push_str(&format!("\n{indent}<{element}>{}</{element}>", xml(&excerpt.text())));
        }
    }
    out
}

/// One job's testcases, for its testsuite's attributes.
#[derive(Debug, Clone, Default)]
struct Tally {
    tests: u64,
    failures: u64,
    skipped: u64,
    ms: u64,
}

/// The HTML page (see [`super::html`]): the run and its tasks as one compact JSON value.
fn write_html(
    header: &Header,
    jobs: &[String],
    tasks: impl Iterator<Item = TaskRecord>,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut data = serde_json::to_string(header)?;
    data.pop();
    data.push_str(",\"jobs\":");
    data.push_str(&serde_json::to_string(jobs)?);
    data.push_str(",\"tasks\":[");
    let mut excerpts = Excerpts::default();
    for (i, task) in tasks.enumerate() {
        if i > 0 {
            data.push(',');
        }
        let job = jobs.iter().position(|j| *j == task.end.job).unwrap_or(0);
        let failed = task.end.status != Status::Ok;
        let shown = if failed { task.outcome.as_str() } else { "" };
        let end = &task.end;
        let tail = &task.stderr_tail;
        let product = end.product.as_ref().map(|p| p.bytes);
        // Attempts that failed before the last, drawn in the timeline too.
        let tries: Vec<_> = task
            .failed_attempts
            .iter()
            .map(|a| {
                let excerpt = excerpts.of(a.evidence.as_ref());
                (a.started_ms, a.duration_ms, a.slot, a.status, &a.outcome, excerpt, a.logs.as_ref().map(|l| &l.stderr))
            })
            .collect();
        let excerpt = excerpts.of(task.evidence.as_ref().filter(|_| failed));
        let command = if failed && task.attempts > 0 { shown_command(&task.command) } else { "".into() };
        let logs = task.logs.as_ref().filter(|_| failed).map(|l| (&l.stdout, &l.stderr));
        let row = (
            job,
            &end.label,
            task.started_ms,
            end.duration_ms,
            end.status,
            end.attempt,
            shown,
            tail,
            task.slot,
            product,
            u8::from(task.flaky),
        );
        let first = serde_json::to_string(&row)?;
        // A task with no failed attempt ends there: most tasks, so the page stays small.
        if tries.is_empty() && excerpt < 0 && command.is_empty() && logs.is_none() && !task.allowed {
            data.push_str(&first);
        } else {
            let rest = serde_json::to_string(&(tries, excerpt, command, logs, u8::from(task.allowed)))?;
            data.push_str(&first[..first.len() - 1]);
            data.push(',');
            data.push_str(&rest[1..]);
        }
    }
    data.push_str("],\"excerpts\":");
    data.push_str(&serde_json::to_string(&excerpts.pairs)?);
    data.push_str(",\"texts\":");
    data.push_str(&serde_json::to_string(&excerpts.texts)?);
    data.push('}');
    super::html::write_page(out, header.name, &data)
}

/// The output excerpts the HTML page carries, each text once: a thousand failures that printed
/// the same stderr carry it once, and each its own stdout beside it. At most
/// [`Excerpts::MOST_BYTES`] of text in all (the JSON report holds every one).
#[derive(Default)]
struct Excerpts {
    /// Per excerpt: its stdout's and its stderr's index in `texts`.
    pairs: Vec<(usize, usize)>,
    texts: Vec<String>,
    text_ids: std::collections::HashMap<String, usize>,
    pair_ids: std::collections::HashMap<(usize, usize), usize>,
    bytes: usize,
}

impl Excerpts {
    const MOST_BYTES: usize = 16 << 20;

    /// The index of the excerpt of this attempt's output, or -1 when there is none to show.
    fn of(&mut self, evidence: Option<&Evidence>) -> i64 {
        let Some(evidence) = evidence else { return -1 };
        let (out, err) = (evidence.stdout.text(), evidence.stderr.text());
        let new =
            [&out, &err].iter().filter(|t| !self.text_ids.contains_key(t.as_str())).map(|t| t.len()).sum::<usize>();
        if self.bytes + new > Self::MOST_BYTES {
            return -1;
        }
        self.bytes += new;
        let pair = (self.text(out), self.text(err));
        let next = self.pairs.len();
        *self.pair_ids.entry(pair).or_insert_with(|| {
            self.pairs.push(pair);
            next
        }) as i64
    }

    fn text(&mut self, text: String) -> usize {
        let next = self.texts.len();
        match self.text_ids.entry(text) {
            std::collections::hash_map::Entry::Occupied(seen) => *seen.get(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                self.texts.push(entry.key().clone());
                entry.insert(next);
                next
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Text safe in XML 1.0 content and attributes (characters XML cannot hold are dropped).
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

impl Listener for Report {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { name, .. } => self.name = name.to_string(),
            Event::RunCancelling { reason, .. } => {
                self.stopped.get_or_insert_with(|| reason.to_string());
            }
            Event::TaskRetrying { task, .. } => {
                let end = TaskEnd::of(task, &self.jobs[task.job]);
                self.retried.entry((task.job, task.index)).or_default().push(FailedAttempt {
                    attempt: task.attempt,
                    status: end.status,
                    exit: end.exit,
                    signal: end.signal,
                    duration_ms: end.duration_ms,
                    outcome: task.outcome.describe(),
                    stderr_tail: task.stderr_tail.clone(),
                    started_ms: Some(millis(self.run_started.elapsed().saturating_sub(task.duration))),
                    slot: task.slot,
                    logs: Logs::of(task.log.as_deref()),
                    evidence: task.evidence.as_deref().cloned(),
                });
            }
            Event::TaskFinished { task, .. } => {
                let mut failed_attempts = self.retried.remove(&(task.job, task.index)).unwrap_or_default();
                // A retry given up (the run stopped) makes the failed attempt the last one.
                failed_attempts.retain(|a| a.attempt < task.attempt);
                let record = TaskRecord {
                    allowed: task.allowed,
                    flaky: task.outcome.is_success() && !failed_attempts.is_empty(),
                    failed_attempts,
                    end: TaskEnd::of(task, &self.jobs[task.job]),
                    command: task.command.clone(),
                    attempts: task.attempt,
                    log: task.log.clone(),
                    stderr_tail: task.stderr_tail.clone(),
                    outcome: task.outcome.describe(),
                    started_ms: Some(millis(self.run_started.elapsed().saturating_sub(task.duration))),
                    slot: task.slot,
                    logs: Logs::of(task.log.as_deref()),
                    evidence: task.evidence.as_deref().cloned(),
                };
                let _ = serde_json::to_writer(&mut self.tasks, &record);
                let _ = self.tasks.write_all(b"\n");
            }
            Event::JobSkipped { which, reason, not_run, .. } => {
                let (status, what) = if *not_run { (Status::NotRun, "not run") } else { (Status::Skipped, "skipped") };
                let (job, tasks) = (&self.jobs[which.job], &mut self.tasks);
                (which.tasks)(&mut |index, label, key| {
                    let end = TaskEnd::unrun(job, index, label, key, status, reason);
                    let outcome = format!("{what}: {reason}");
                    let record = TaskRecord {
                        end,
                        command: String::new(),
                        attempts: 0,
                        log: None,
                        stderr_tail: Vec::new(),
                        outcome,
                        started_ms: None,
                        slot: None,
                        flaky: false,
                        failed_attempts: Vec::new(),
                        allowed: false,
                        logs: None,
                        evidence: None,
                    };
                    let _ = serde_json::to_writer(&mut *tasks, &record);
                    let _ = tasks.write_all(b"\n");
                });
            }
            Event::RunFinished { counts, elapsed, interrupted_by } => {
                if let Err(e) = self.write(counts, *elapsed, *interrupted_by) {
                    crate::say!("batchrun: error: cannot write the report {}: {e}", self.path.display());
                    self.failed.store(true, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping_and_formats() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(Format::of(Path::new("r.json")), Some(Format::Json));
        assert_eq!(Format::of(Path::new("r.xml")), Some(Format::Junit));
        assert_eq!(Format::of(Path::new("r.html")), Some(Format::Html));
        assert_eq!(Format::of(Path::new("r.txt")), None);
    }
}
