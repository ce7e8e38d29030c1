//! Raw YAML structs → the typed [`JobFile`], reporting every problem with its place.
//!
//! Validation collects errors instead of stopping at the first, so `batchrun validate` can list
//! everything wrong with a file in one go. It also hands on the file as far as it could be read:
//! a part with an error is kept in a form that later checks pass over (a job whose work cannot
//! be read has none; a malformed var's value is unknown), so the planner's checks of the
//! templates come in the same pass and do not repeat an error already reported.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::model::*;
use super::raw::{RawJob, RawJobFile, RawRange, RawSettings, RawSlurm, Spanned};
use super::{graph, sources};
use crate::diagnostic::{Diagnostic, Pos, hint};

/// Collects diagnostics for one file.
pub(super) struct Checker<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub errors: Vec<Diagnostic>,
    /// Keys that were misspelt, already said.
    pub misspelt: &'a [Misspelt],
}

/// A key that was misspelt (and said so): in a job, or at the top of the file.
pub(super) struct Misspelt {
    pub job: Option<String>,
    pub meant: String,
}

impl Checker<'_> {
    /// Whether the key `meant` was misspelt in `job` (`None`: at the top): its absence is no news.
    fn was_misspelt(&self, job: Option<&str>, meant: &[&str]) -> bool {
        self.misspelt.iter().any(|m| m.job.as_deref() == job && meant.contains(&m.meant.as_str()))
    }
}

impl Checker<'_> {
    pub fn error(&mut self, pos: Option<Pos>, message: impl Into<String>) {
        self.errors.push(Diagnostic::new(self.file, pos, message).with_source(self.text));
    }
}

pub(super) fn pos<T>(s: &Spanned<T>) -> Option<Pos> {
    Pos::from_location(&s.referenced)
}

pub(super) fn located<T: Clone>(s: &Spanned<T>) -> Located<T> {
    Located { value: s.value.clone(), pos: pos(s) }
}

/// Names every task has in its templates: a var or a matrix key of one of these names would
/// hide it, or be hidden.
pub(super) const EVERY_TASK_HAS: [&str; 3] = ["job", "index", "count"];

pub(super) fn every_task_has(what: &str) -> String {
    format!("{what} has the name of a value every task has (`job`, `index`, `count`): rename it")
}

/// Names of jobs (and so of state folders and labels): `[A-Za-z0-9_-]+`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Template variable names must be identifiers so that `{{ name }}` can reach them.
pub fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The file as far as it could be read (`None` without `jobs`), and every error found.
/// `misspelt`: keys that were misspelt, which is said already.
pub(super) fn validate(
    path: &Path,
    text: &str,
    raw: RawJobFile,
    misspelt: &[Misspelt],
) -> (Option<JobFile>, Vec<Diagnostic>) {
    let dir = job_file_dir(path);
    let mut ck = Checker { file: path, text, errors: Vec::new(), misspelt };

    let name = match &raw.name {
        Some(n) if !is_valid_name(&n.value) => {
            ck.error(pos(n), format!("invalid name `{}`: use letters, digits, `_` and `-`", n.value));
            n.value.clone()
        }
        Some(n) => n.value.clone(),
        None => default_name(path),
    };
    let state_name = if raw.name.is_some() { name.clone() } else { default_state_name(path) };
    let concurrency = raw.concurrency.as_ref().and_then(|c| positive(&mut ck, c, "concurrency"));

    let mut vars = IndexMap::new();
    for (key, value) in &raw.vars {
        if !is_identifier(&key.value) {
            ck.error(pos(key), format!("invalid var name `{}`: use letters, digits and `_`", key.value));
        } else if EVERY_TASK_HAS.contains(&key.value.as_str()) {
            ck.error(pos(key), every_task_has(&format!("var `{}`", key.value)));
        }
        let var = match &value.value {
            Json::Object(map) if map.contains_key("sh") => match (map.len(), map.get("sh")) {
                (1, Some(Json::String(cmd))) => Var::Command(cmd.clone()),
                _ => {
                    ck.error(pos(value), format!("var `{}`: a computed var is `{{sh: COMMAND}}`", key.value));
                    // Its value is unknown, as a computed var's is to a check: what uses it is
                    // not checked further, rather than reported as using an unknown name.
                    Var::Command(String::new())
                }
            },
            other => Var::Literal(other.clone()),
        };
        vars.insert(key.value.clone(), Located { value: var, pos: pos(key) });
    }

    let mut limits = IndexMap::new();
    for (key, value) in &raw.limits {
        // A limit with a bad size is still a limit: the jobs that use it are not reported too.
        let n = positive(&mut ck, value, &format!("limits.{}", key.value)).unwrap_or(1);
        limits.insert(key.value.clone(), n);
    }

    let on_failure = raw.on_failure.as_ref().and_then(|f| match Threshold::parse(&f.value) {
        Ok(halt) => Some(halt),
        Err(e) => {
            ck.error(pos(f), e);
            None
        }
    });
    let defaults = settings(&mut ck, &dir, raw.defaults.unwrap_or_default(), &base_settings(&dir));
    let slurm_defaults = slurm(&mut ck, raw.slurm.unwrap_or_default(), &SlurmSettings::default());

    let Some(raw_jobs) = raw.jobs else {
        if !ck.was_misspelt(None, &["jobs"]) {
            ck.error(None, "the job file has no `jobs`: add a map of job names to jobs");
        }
        return (None, ck.errors);
    };
    if raw_jobs.is_empty() {
        ck.error(None, "`jobs` is empty: add at least one job");
    }
    let names: Vec<String> = raw_jobs.keys().map(|k| k.value.clone()).collect();
    let mut jobs = Vec::with_capacity(raw_jobs.len());
    let mut needs = Vec::with_capacity(raw_jobs.len());
    for (key, job) in raw_jobs {
        let job_pos = pos(&key);
        if !is_valid_name(&key.value) {
            ck.error(job_pos, format!("invalid job name `{}`: use letters, digits, `_` and `-`", key.value));
        }
        let job_pos_value = pos(&job);
        let (job, job_needs) = job_from_raw(
            &mut ck,
            &dir,
            &names,
            &limits,
            (&defaults, &slurm_defaults),
            key.value,
            job_pos,
            job_pos_value,
            job.value,
        );
        jobs.push(job);
        needs.push(job_needs);
    }
    let jobs = graph::order_by_needs(&mut ck, jobs, needs);
    let file = JobFile { path: path.to_path_buf(), dir, name, state_name, concurrency, vars, limits, jobs, on_failure };
    (Some(file), ck.errors)
}

/// The folder relative paths resolve against and the state folder sits in: the job file's,
/// or the current one for a job file read from a pipe (`/dev/stdin`, `/dev/fd/N`,
/// `/proc/self/fd/N`), whose folder is not the user's.
fn job_file_dir(path: &Path) -> PathBuf {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let parent = std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf());
    if parent.starts_with("/dev") || parent.starts_with("/proc") {
        return std::path::absolute(".").unwrap_or(parent);
    }
    parent
}

fn default_name(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let cleaned: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    if cleaned.is_empty() { "batch".into() } else { cleaned }
}

/// The default state folder's name for a file without `name:`: the stem when it is a valid
/// name already, else the cleaned stem and a hash of the stem as written, so that files whose
/// stems clean alike (`my jobs`, `my_jobs`) never share a folder.
fn default_state_name(path: &Path) -> String {
    let stem = path.file_stem().unwrap_or_default();
    let name = default_name(path);
    if name.as_bytes() == stem.as_encoded_bytes() {
        return name;
    }
    let hash = xxhash_rust::xxh3::xxh3_64(stem.as_encoded_bytes());
    format!("{name}-{:08x}", hash >> 32)
}

fn base_settings(dir: &Path) -> Settings {
    Settings {
        shell: Shell::Auto,
        timeout: None,
        retries: 0,
        retry_delay: Duration::from_secs(1),
        kill_grace: Duration::from_secs(5),
        env: IndexMap::new(),
        cwd: dir.to_path_buf(),
        on_failure: OnFailure::Continue,
        halt_after: Threshold::Count(1),
        retry_on: None,
        start_gap: Duration::ZERO,
    }
}

#[allow(clippy::too_many_arguments)]
fn job_from_raw(
    ck: &mut Checker,
    dir: &Path,
    names: &[String],
    limits: &IndexMap<String, usize>,
    (defaults, slurm_defaults): (&Settings, &SlurmSettings),
    name: String,
    name_pos: Option<Pos>,
    body_pos: Option<Pos>,
    mut raw: RawJob,
) -> (Job, Vec<(usize, Option<Pos>)>) {
    let settings = settings(ck, dir, raw.take_settings(), defaults);
    let slurm = slurm(ck, raw.slurm.take().unwrap_or_default(), slurm_defaults);
    let work = work(ck, dir, &name, body_pos, &mut raw);
    let concurrency = raw.concurrency.as_ref().and_then(|c| positive(ck, c, "concurrency"));

    let mut needs = Vec::new();
    for need in &raw.needs {
        match names.iter().position(|n| *n == need.value) {
            Some(i) => needs.push((i, pos(need))),
            None => {
                // A job cannot need itself: never suggest its own name.
                let hint = hint(&need.value, names.iter().map(String::as_str).filter(|n| *n != name));
                ck.error(pos(need), format!("job `{name}` needs unknown job `{}`{hint}", need.value));
            }
        }
    }
    let mut uses = Vec::new();
    for limit in &raw.uses {
        match limits.get_index_of(&limit.value) {
            Some(i) => uses.push(i),
            None => {
                let hint = hint(&limit.value, limits.keys().map(String::as_str));
                ck.error(pos(limit), format!("job `{name}` uses unknown limit `{}`{hint}", limit.value));
            }
        }
    }
    let product = raw.product.as_ref().and_then(|p| {
        let value = p.value.trim();
        let refused = if value.is_empty() {
            Some("is empty: name the file each task writes")
        } else if value.ends_with('/') || value.ends_with("/.") || value == "." {
            Some("names a folder: a product is a file")
        } else {
            None
        };
        match refused {
            Some(why) => {
                ck.error(pos(p), format!("job `{name}`: `product` {why}"));
                None
            }
            None => Some(located(p)),
        }
    });
    let verify = raw.verify.as_ref().and_then(|v| {
        if v.value.trim().is_empty() {
            ck.error(pos(v), format!("job `{name}`: `verify` is empty: give the command that checks the task's work"));
            return None;
        }
        Some(located(v))
    });
    let manifest = match &raw.manifest {
        None => crate::job_manifest::DEFAULT_NAME.to_owned(),
        Some(m) => {
            let value = m.value.as_str();
            let refused = if raw.product.is_none() {
                Some("is the manifest of the job's products, and it declares no `product`")
            } else if value.is_empty() || value == "." || value == ".." || value.contains(['/', '\0']) {
                Some("takes a file name (it is written in the folder of the job's products)")
            } else if crate::plan::task::Product::is_temp_name(value) {
                Some("is named as a product's temporary, which a later run would remove")
            } else {
                None
            };
            if let Some(why) = refused {
                ck.error(pos(m), format!("job `{name}`: `manifest` {why}"));
            }
            value.to_owned()
        }
    };
    let job = Job {
        name,
        pos: name_pos,
        work,
        needs: Vec::new(),
        concurrency,
        uses,
        settings,
        slurm,
        product,
        verify,
        manifest,
        allow_failure: raw.allow_failure.as_ref().is_some_and(|a| a.value),
        label: raw.label.as_ref().map(located),
    };
    (job, needs)
}

/// The job's work. When its shape is wrong (no command, two sources) it has none, so that its
/// templates are not checked against names that are not there; when only its source has an
/// error, the source is [`Source::Unread`] with the names it binds, so the command is checked.
fn work(ck: &mut Checker, dir: &Path, name: &str, body_pos: Option<Pos>, raw: &mut RawJob) -> Work {
    let sources = [raw.range.is_some(), raw.matrix.is_some(), raw.items.is_some()];
    if sources.iter().filter(|s| **s).count() > 1 {
        ck.error(body_pos, format!("job `{name}` has more than one of `range`, `matrix` and `items`; keep one"));
        return Work::Commands(Vec::new());
    }
    match (raw.command.take(), raw.commands.take()) {
        (Some(c), Some(_)) => {
            ck.error(pos(&c), format!("job `{name}` has both `command` and `commands`; keep one"));
            Work::Commands(Vec::new())
        }
        (None, Some(list)) => {
            if sources.contains(&true) {
                ck.error(
                    pos(&list),
                    format!(
                        "job `{name}`: `commands` takes no `range`, `matrix` or `items`; use `command` with a source"
                    ),
                );
            }
            if list.value.is_empty() {
                ck.error(pos(&list), format!("job `{name}`: `commands` is empty"));
            }
            if sources.contains(&true) {
                return Work::Commands(Vec::new());
            }
            Work::Commands(list.value.iter().map(located).collect())
        }
        (None, None) => {
            if !ck.was_misspelt(Some(name), &["command", "commands"]) {
                ck.error(body_pos, format!("job `{name}` has no `command` or `commands`"));
            }
            Work::Commands(Vec::new())
        }
        (Some(command), None) => {
            let unread = |names: Vec<String>| move || Source::Unread(names);
            let source = if let Some(range) = raw.range.take() {
                range_spec(ck, name, range).unwrap_or_else(unread(vec!["start".into(), "end".into()]))
            } else if let Some(matrix) = raw.matrix.take() {
                let names = sources::matrix_names(&matrix.value);
                sources::matrix(ck, name, matrix).map_or_else(unread(names), Source::Matrix)
            } else if let Some(items) = raw.items.take() {
                let needs_something = !raw.needs.is_empty();
                sources::items(ck, dir, name, items, needs_something)
                    .map_or_else(unread(vec!["item".into()]), Source::Items)
            } else {
                Source::Single
            };
            Work::Templated { command: located(&command), source }
        }
    }
}

fn range_spec(ck: &mut Checker, job: &str, range: Spanned<RawRange>) -> Option<Source> {
    let at = pos(&range);
    let RawRange { from, to, step, chunks, bounds } = range.value;
    if let Some(bounds) = bounds {
        let with = [from.as_ref().map(pos), to.as_ref().map(pos), step.as_ref().map(pos), chunks.as_ref().map(pos)];
        if let Some(other) = with.into_iter().flatten().next() {
            ck.error(
                other,
                format!(
                    "job `{job}`: `range.bounds` takes every bound from its command: not with from, to, step or chunks"
                ),
            );
            return None;
        }
        let sh = &bounds.value.sh;
        if sh.value.trim().is_empty() {
            ck.error(
                pos(sh),
                format!("job `{job}`: `range.bounds.sh` is empty: give the command that prints the bounds"),
            );
            return None;
        }
        let (command, format, pos) = (sh.value.clone(), ItemsFormat::Bounds, pos(&bounds));
        return Some(Source::Items(ItemsSpec::Command { command, format, pos }));
    }
    let split = match (step, chunks) {
        (Some(s), Some(_)) => {
            ck.error(pos(&s), format!("job `{job}`: `range` takes `step` or `chunks`, not both"));
            return None;
        }
        (_, Some(c)) => Split::Chunks(positive(ck, &c, "range.chunks")? as u64),
        (Some(s), None) => Split::Step(positive(ck, &s, "range.step")? as u64),
        (None, None) => Split::Step(1),
    };
    let (Some(from), Some(to)) = (from, to) else {
        ck.error(at, format!("job `{job}`: `range` needs both `from` and `to`"));
        return None;
    };
    Some(Source::Range(RangeSpec { from: located(&from), to: located(&to), split }))
}

/// `value` as a count of at least 1, or an error naming `what`.
pub(super) fn positive(ck: &mut Checker, value: &Spanned<i64>, what: &str) -> Option<usize> {
    match usize::try_from(value.value) {
        Ok(n) if n > 0 => Some(n),
        _ => {
            ck.error(pos(value), format!("`{what}` must be at least 1, got {}", value.value));
            None
        }
    }
}

/// Layers `raw` over `base` (the defaults, or the built-in defaults for `defaults` itself).
fn settings(ck: &mut Checker, dir: &Path, raw: RawSettings, base: &Settings) -> Settings {
    let mut s = base.clone();
    if let Some(shell) = raw.shell {
        s.shell = match shell.value.as_str() {
            "auto" => Shell::Auto,
            "sh" => Shell::Sh,
            "bash" => Shell::Bash,
            "none" => Shell::None,
            other => {
                ck.error(pos(&shell), format!("unknown shell `{other}`: use auto, sh, bash or none"));
                s.shell
            }
        };
    }
    if let Some(t) = raw.timeout {
        s.timeout = duration(ck, &t, "timeout");
    }
    if let Some(r) = raw.retries {
        match u32::try_from(r.value) {
            Ok(n) => s.retries = n,
            Err(_) if r.value < 0 => ck.error(pos(&r), format!("`retries` must be 0 or more, got {}", r.value)),
            Err(_) => ck.error(pos(&r), format!("`retries` must be at most {}, got {}", u32::MAX, r.value)),
        }
    }
    if let Some(d) = raw.retry_delay {
        s.retry_delay = duration(ck, &d, "retry_delay").unwrap_or(s.retry_delay);
    }
    if let Some(d) = raw.kill_grace {
        s.kill_grace = duration(ck, &d, "kill_grace").unwrap_or(s.kill_grace);
    }
    if let Some(d) = raw.start_gap {
        s.start_gap = duration(ck, &d, "start_gap").unwrap_or(s.start_gap);
    }
    if let Some(env) = raw.env {
        for (key, value) in env {
            if key.value.is_empty() || key.value.contains(['=', '\0']) {
                ck.error(pos(&key), format!("invalid environment variable name `{}`", key.value));
            } else if key.value.starts_with("BATCHRUN_") {
                // batchrun sets these for every task; `BATCHRUN_RUN` marks the run's processes,
                // and a task that overrode it would escape the cleanup when batchrun is killed.
                let message = format!(
                    "`env` may not set `{}`: batchrun sets the BATCHRUN_ variables of every task itself",
                    key.value
                );
                ck.error(pos(&key), message);
            }
            s.env.insert(key.value, located(&value));
        }
    }
    if let Some(cwd) = raw.cwd {
        s.cwd = dir.join(&cwd.value);
        // A folder that does not exist yet may be made by a job that runs first; one that is a
        // file never becomes a folder.
        if s.cwd.exists() && !s.cwd.is_dir() {
            ck.error(pos(&cwd), format!("`cwd`: `{}` is a file, not a folder", s.cwd.display()));
        }
    }
    if let Some(f) = raw.on_failure {
        match Threshold::parse(&f.value) {
            Ok((action, after)) => (s.on_failure, s.halt_after) = (action, after),
            Err(e) => ck.error(pos(&f), e),
        }
    }
    if let Some(r) = raw.retry_on {
        match RetryOn::parse(&r.value) {
            Ok(on) => s.retry_on = Some(on),
            Err(e) => ck.error(pos(&r), e),
        }
    }
    s
}

/// Layers a `slurm:` section over `base` (the file's, for a job's).
fn slurm(ck: &mut Checker, raw: RawSlurm, base: &SlurmSettings) -> SlurmSettings {
    let mut s = base.clone();
    let text = |ck: &mut Checker, value: Spanned<String>, what: &str| {
        if value.value.trim().is_empty() || value.value.contains(char::is_whitespace) {
            ck.error(pos(&value), format!("`slurm.{what}` must be one word, got `{}`", value.value));
        }
        value.value
    };
    if let Some(p) = raw.partition {
        s.partition = Some(text(ck, p, "partition"));
    }
    if let Some(t) = raw.time {
        s.time = Some(text(ck, t, "time"));
    }
    if let Some(m) = raw.mem {
        s.mem = Some(text(ck, m, "mem"));
    }
    if let Some(c) = raw.cpus_per_task {
        s.cpus_per_task = positive(ck, &c, "slurm.cpus_per_task").map(|n| n.min(u32::MAX as usize) as u32);
    }
    if let Some(t) = raw.tasks_per_element {
        s.tasks_per_element = positive(ck, &t, "slurm.tasks_per_element").map(|n| n as u64);
    }
    if let Some(extra) = raw.extra {
        s.extra = extra.into_iter().map(|e| e.value).collect();
    }
    s
}

fn duration(ck: &mut Checker, value: &Spanned<String>, what: &str) -> Option<Duration> {
    match super::parse_duration(&value.value) {
        Ok(d) => Some(d),
        Err(e) => {
            ck.error(pos(value), format!("`{what}`: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_name("export-2_b"));
        assert!(!is_valid_name("a b"));
        assert!(!is_valid_name(""));
        assert!(is_identifier("max_id"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier("a-b"));
    }

    #[test]
    fn default_name_is_the_file_stem() {
        assert_eq!(default_name(Path::new("jobs/export.yaml")), "export");
        assert_eq!(default_name(Path::new("my jobs.yml")), "my_jobs");
        assert_eq!(default_state_name(Path::new("jobs/my_jobs.yaml")), "my_jobs");
        let spaced = default_state_name(Path::new("jobs/my jobs.yaml"));
        assert!(spaced.starts_with("my_jobs-") && spaced.len() == "my_jobs-".len() + 8, "{spaced}");
        assert_ne!(spaced, default_state_name(Path::new("jobs/my.jobs.yaml")));
    }
}
