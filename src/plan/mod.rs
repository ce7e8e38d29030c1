//! The planner: a validated job file → every job's tasks, rendered lazily, with exact counts.
//!
//! Building a [`Plan`] does all the checking that can happen before anything runs: vars are
//! resolved (`--set`, `{sh: …}`), templates compiled, every name they use checked against what
//! is in scope, range bounds rendered, items files counted, and each job's first task rendered.
//! Tasks themselves are produced one at a time by [`Plan::tasks`], so memory does not grow with
//! the number of tasks.

pub mod command_line;
pub mod expand;
pub mod identity;
pub mod inputs;
pub mod partition;
pub mod print;
pub mod quoting;
mod simple_template;
pub mod task;
pub mod template;
mod vars;

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use minijinja::{Environment, Value};

use crate::config::{ItemsFormat, ItemsSpec, Job, JobFile, Located, RangeSpec, Source, Work};
use crate::diagnostic::{Diagnostic, Diagnostics, Pos, hint};
pub use command_line::CommandLine;
use expand::{Bindings, Expansion};
pub use inputs::Inputs;
use partition::Partitions;
use simple_template::SimpleTemplate;
pub use task::{BrokenTask, PlannedTask, Task};
use template::{COMMAND_SUFFIX, Scope, json_value};

/// What the user asked to plan: overrides and a selection of jobs.
#[derive(Debug, Default, Clone)]
pub struct PlanOptions {
    /// `--set KEY=VALUE`.
    pub set: Vec<(String, String)>,
    /// `--only JOB`: these jobs and what they need; empty means all.
    pub only: Vec<String>,
    /// Exact var values that replace the file's (computed vars are not run again): how a
    /// Slurm array element sees the vars its submitter computed.
    pub fixed: Vec<(String, serde_json::Value)>,
    /// Only these tasks of one job (a Slurm array element's share), its needs left out.
    pub shard: Option<Shard>,
    /// Check only (`validate`): computed vars are not run, and what depends on them (a range
    /// bound, a job's first task) is not counted or rendered.
    pub check_only: bool,
    /// Where items files are read (a run reads snapshots).
    pub inputs: Inputs,
}

/// Some tasks of one job, by index: half-open ranges, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub job: String,
    pub indices: Vec<std::ops::Range<u64>>,
}

pub struct Plan {
    pub file: JobFile,
    /// One per job of the file, in the file's (needs-respecting) job order.
    pub jobs: Vec<JobPlan>,
    env: Environment<'static>,
    vars: Arc<Vec<(Arc<str>, Value)>>,
    names: Names,
    inputs: Inputs,
    /// What the user should know before the run, though nothing stops it: a value that begins
    /// with `-` where a program reads it as an option (one warning per job).
    pub warnings: Vec<String>,
}

pub struct JobPlan {
    /// Left out by `--only`: planned as zero tasks and never run.
    pub selected: bool,
    /// With a shard: the only task indices that are planned.
    window: Option<Vec<std::ops::Range<u64>>>,
    pub expansion: Expansion,
    /// Names of the job's templates in the environment, built once rather than per task.
    command_templates: Vec<String>,
    /// The fast path for each command template, where it is simple enough.
    fast: Vec<Option<SimpleTemplate>>,
    env_templates: Vec<(String, String)>,
    /// Its `product` template's name, when it declares one.
    product: Option<String>,
    /// Its `verify` template's name, when it declares one.
    verify: Option<String>,
    /// Its `label` template's name, when it declares one.
    label: Option<String>,
    /// The job's name as a template value.
    name: Value,
    /// Its count or its commands depend on computed vars that a check did not run: counted as
    /// no tasks, and its first task not rendered.
    pub deferred: bool,
    /// Expressions whose value begins a program's argument before any `--` (see
    /// [`Plan::warnings`]).
    leading: Vec<String>,
}

/// Binding names every task has, allocated once.
struct Names {
    job: Arc<str>,
    index: Arc<str>,
    count: Arc<str>,
    product: Arc<str>,
    /// A name no template can read, for a binding a task does not have.
    none: Arc<str>,
}

impl JobPlan {
    pub fn count(&self) -> u64 {
        match &self.window {
            _ if !self.selected => 0,
            Some(window) => window.iter().map(|r| r.end.min(self.expansion.count()).saturating_sub(r.start)).sum(),
            None => self.expansion.count(),
        }
    }

    /// Planned when it becomes ready, and not yet ([`Plan::plan_when_ready`]).
    pub fn waits_to_be_planned(&self) -> bool {
        self.selected && matches!(&self.expansion, Expansion::WhenReady { read, .. } if read.get().is_none())
    }

    fn in_window(&self, index: u64) -> bool {
        self.window.as_ref().is_none_or(|w| w.iter().any(|r| r.contains(&index)))
    }
}

impl Plan {
    pub fn new(file: JobFile, options: &PlanOptions) -> Result<Plan, Diagnostics> {
        let selected = match &options.shard {
            Some(shard) => file.jobs.iter().map(|j| j.name == shard.job).collect(),
            None => select(&file, &options.only)?,
        };
        let (vars, mut errors, computed) = vars::resolve(&file, &options.set, &options.fixed, !options.check_only);
        let vars = Arc::new(vars);
        let unresolved: HashSet<Arc<str>> =
            vars.iter().filter(|(_, v)| v.is_undefined()).map(|(k, _)| k.clone()).collect();
        let mut env = template::environment();
        let mut jobs = Vec::with_capacity(file.jobs.len());
        for (i, job) in file.jobs.iter().enumerate() {
            let none = || JobParts {
                expansion: Expansion::Commands(0),
                fast: Vec::new(),
                deferred: false,
                leading: Vec::new(),
            };
            let JobParts { expansion, fast, deferred, leading } = if selected[i] {
                plan_job(&file, job, &vars, &unresolved, &computed, &options.inputs, &mut env).unwrap_or_else(
                    |mut e| {
                        errors.append(&mut e);
                        none()
                    },
                )
            } else {
                none()
            };
            let templates = match &job.work {
                Work::Commands(list) => list.len(),
                Work::Templated { .. } => 1,
            };
            let command_templates = (0..templates).map(|i| command_template_name(job, i as u64)).collect();
            let env_templates = job.settings.env.keys().map(|k| (k.clone(), env_template_name(&job.name, k))).collect();
            let window = options.shard.as_ref().filter(|s| s.job == job.name).map(|s| s.indices.clone());
            let plan = JobPlan {
                selected: selected[i],
                window,
                expansion,
                command_templates,
                fast,
                env_templates,
                product: job.product.as_ref().map(|_| product_template_name(&job.name)),
                verify: job.verify.as_ref().map(|_| verify_template_name(&job.name)),
                label: job.label.as_ref().map(|_| label_template_name(&job.name)),
                name: Value::from(job.name.as_str()),
                deferred,
                leading,
            };
            jobs.push(plan);
        }
        let names = Names {
            job: Arc::from("job"),
            index: Arc::from("index"),
            count: Arc::from("count"),
            product: Arc::from("product"),
            none: Arc::from(""),
        };
        let mut plan = Plan { file, jobs, env, vars, names, inputs: options.inputs.clone(), warnings: Vec::new() };
        // Jobs with an error above have no tasks here, so this renders the sound jobs only: their
        // mistakes come in the same pass as the others'.
        errors.append(&mut plan.first_task_errors());
        errors.append(&mut plan.manifest_errors());
        plan.warnings = plan.option_warnings();
        plan.warnings.append(&mut plan.label_warnings());
        // A command that wrote to stderr and exited 0 may have printed a value it should not
        // have (`wc -l` of a file `tail` could not read): it is said before anything runs.
        for var in computed.iter().filter(|c| !c.stderr_tail.is_empty()) {
            plan.warnings.push(format!("computed var {}", var.story()));
        }
        if errors.is_empty() {
            Ok(plan)
        } else {
            let source = plan.source_text();
            Err(Diagnostics(one_per_place(errors).into_iter().map(|d| d.with_source(&source)).collect()))
        }
    }

    /// Whether this plan holds only a share of a job's tasks (a Slurm element's).
    pub fn is_share(&self) -> bool {
        self.jobs.iter().any(|j| j.window.is_some())
    }

    /// Tasks planned so far: jobs planned when they become ready count from then on.
    pub fn total(&self) -> u64 {
        self.jobs.iter().map(JobPlan::count).sum()
    }

    /// Plans a job that waited to become ready ([`JobPlan::waits_to_be_planned`]): reads its
    /// items file into the run's snapshot, counts and checks every record, and renders its
    /// first task, as [`Plan::new`] does for the jobs it plans. Returns the job's task count.
    /// An items command is stopped when `stop` says so.
    pub fn plan_when_ready(&self, job: usize, stop: &(dyn Fn() -> bool + Sync)) -> Result<u64, String> {
        let Expansion::WhenReady { source, format, read, command } = &self.jobs[job].expansion else {
            return Ok(self.jobs[job].count());
        };
        let Inputs::Snapshot(dir) = &self.inputs else {
            return Err("its items are read only when the job runs".into());
        };
        let name = &self.file.jobs[job].name;
        let snapshot = match command {
            Some(command) => {
                let rendered = vars::render_command(command, &self.vars)?
                    .ok_or_else(|| format!("`{command}` uses a var that failed"))?;
                let settings = &self.file.jobs[job].settings;
                inputs::take_output(dir, name, &rendered, &settings.cwd, settings.timeout, stop)?
            }
            None => inputs::take(dir, name, source)?,
        };
        let count = expand::count_records(&snapshot, source, *format)?;
        let _ = read.set((snapshot, count));
        let first = self.tasks(job).next().map(|t| t.and_then(|t| self.check_command_line(t)));
        match first {
            Some(Err(broken)) if !broken.unplaceable => Err(format!("task {}: {}", broken.label, broken.error)),
            _ => Ok(count),
        }
    }

    /// The folder of this run's snapshots of items files, when it takes them.
    pub fn snapshots(&self) -> Option<&std::path::Path> {
        match &self.inputs {
            Inputs::Snapshot(to) => Some(&to.dir),
            _ => None,
        }
    }

    /// Why job `job` has no tasks yet, when it is planned later: "planned when `a` has run".
    pub fn planned_later(&self, job: usize) -> Option<String> {
        if !self.jobs[job].waits_to_be_planned() {
            return None;
        }
        let needs: Vec<String> =
            self.file.jobs[job].needs.iter().map(|&n| format!("`{}`", self.file.jobs[n].name)).collect();
        Some(match needs.len() {
            0 if matches!(&self.jobs[job].expansion, Expansion::WhenReady { format: ItemsFormat::Bounds, .. }) => {
                "planned when the run starts: its range's bounds are a command's output, which `plan` does not run"
                    .to_owned()
            }
            0 if matches!(&self.jobs[job].expansion, Expansion::WhenReady { command: Some(_), .. }) => {
                "planned when the run starts: its items are a command's output, which `plan` does not run".to_owned()
            }
            0 => "planned when the run starts: its items file is not a regular file, read once".to_owned(),
            1 => format!("planned when {} has run", needs[0]),
            _ => format!("planned when {} have run", needs.join(", ")),
        })
    }

    /// The tasks of job `job`, in order, rendered one at a time.
    pub fn tasks(&self, job: usize) -> impl Iterator<Item = PlannedTask> + Send + '_ {
        let plan = &self.jobs[job];
        let limit = if plan.selected { usize::MAX } else { 0 };
        let mut occurrences = identity::Occurrences::new(matches!(plan.expansion, Expansion::Range(_)));
        plan.expansion.bindings().take(limit).enumerate().filter_map(move |(index, bindings)| {
            let index = index as u64;
            // Outside a shard's window a task is still rendered when keys depend on the
            // tasks before it (duplicates are numbered); a range's never do.
            let wanted = plan.in_window(index);
            if !wanted && matches!(plan.expansion, Expansion::Range(_)) {
                return None;
            }
            let task = match bindings {
                Ok(b) => self.render(job, index, b),
                Err(error) => Err(self.broken(job, index, error)),
            };
            let task = task.map(|mut task| {
                task.key = occurrences.key(task.key);
                task
            });
            wanted.then_some(task)
        })
    }

    /// The vars as resolved for this plan (computed ones included), for [`PlanOptions::fixed`].
    pub fn resolved_vars(&self) -> Vec<(String, serde_json::Value)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::to_value(v).unwrap_or(serde_json::Value::Null)))
            .collect()
    }

    /// Every task of the plan, job after job.
    pub fn all_tasks(&self) -> impl Iterator<Item = PlannedTask> + Send + '_ {
        (0..self.jobs.len()).flat_map(|j| self.tasks(j))
    }

    fn broken(&self, job: usize, index: u64, error: String) -> BrokenTask {
        BrokenTask { job, index, label: self.label(job, index), error, unplaceable: false, env: None }
    }

    /// The task's name by its place: `export[3]`, or the job's name for a job of one task.
    /// What `BATCHRUN_TASK` holds, and the label of a task that could not be rendered.
    pub fn label(&self, job: usize, index: u64) -> String {
        let single = matches!(self.jobs[job].expansion, Expansion::Single);
        task::label(&self.file.jobs[job].name, index, single)
    }

    /// The task's label unless its job's `label` template says otherwise: a matrix or items
    /// task's values when they are short, else its place.
    fn default_label(&self, job: usize, index: u64, own: &Bindings) -> String {
        let values = match self.jobs[job].expansion {
            Expansion::Matrix(_) | Expansion::Inline(_) => task::values_label(own),
            Expansion::File { format, .. } | Expansion::WhenReady { format, .. } if format != ItemsFormat::Bounds => {
                task::values_label(own)
            }
            _ => None,
        };
        match values {
            Some(values) => format!("{}[{values}]", self.file.jobs[job].name),
            None => self.label(job, index),
        }
    }

    /// The task's label as it is shown: its `label` template rendered, or `default` when it
    /// renders to nothing or fails.
    fn shown_label(
        &self,
        job: usize,
        index: u64,
        own: Bindings,
        extra: &[(Arc<str>, Value); 4],
        default: &mut Option<String>,
    ) -> Result<(String, Bindings), BrokenTask> {
        let Some(name) = &self.jobs[job].label else {
            return Ok((default.take().unwrap_or_else(|| self.label(job, index)), own));
        };
        let scope = Value::from_object(Scope { vars: self.vars.clone(), own, extra: extra.clone() });
        let rendered = self.env.get_template(name).and_then(|t| t.render(&scope));
        let own = Scope::into_own(scope);
        // A label is for display: one that cannot be rendered for this task leaves it its
        // default (the plan warns of it, see `label_warnings`), never keeps it from running.
        match rendered {
            Ok(label) if !label.trim().is_empty() => {
                let label = crate::words::escape_controls(label.trim());
                Ok((format!("{}[{label}]", self.file.jobs[job].name), own))
            }
            _ => Ok((default.take().unwrap_or_else(|| self.label(job, index)), own)),
        }
    }

    /// The task of these bindings; one that cannot be rendered is labelled as it would be shown.
    fn render(&self, job: usize, index: u64, own: Bindings) -> PlannedTask {
        // Taken by the task when it is rendered, left for the error when it is not.
        let mut default = Some(self.default_label(job, index, &own));
        self.render_labelled(job, index, own, &mut default)
            .map_err(|broken| BrokenTask { label: default.unwrap_or(broken.label.clone()), ..broken })
    }

    fn render_labelled(&self, job: usize, index: u64, own: Bindings, default: &mut Option<String>) -> PlannedTask {
        let spec = &self.file.jobs[job];
        let plan = &self.jobs[job];
        let mut extra = [
            (self.names.job.clone(), plan.name.clone()),
            (self.names.index.clone(), Value::from(index)),
            // The job's, not a shard's: a Slurm element's tasks see what local ones see.
            (self.names.count.clone(), Value::from(plan.expansion.count())),
            (self.names.none.clone(), Value::UNDEFINED),
        ];
        let (product, own) = match &plan.product {
            None => (None, own),
            Some(name) => {
                // Rendered first: the command and env see its temporary as `product`.
                let scope = Value::from_object(Scope { vars: self.vars.clone(), own, extra: extra.clone() });
                let rendered =
                    self.env.get_template(name).and_then(|t| t.render(&scope)).map_err(|e| template::describe(&e));
                let own = Scope::into_own(scope);
                match rendered {
                    Ok(path) if !path.trim().is_empty() => {
                        let product = task::Product::of(path.trim());
                        if let Some(why) = product.refused() {
                            return Err(self.broken(job, index, format!("product: {why}")));
                        }
                        extra[3] =
                            (self.names.product.clone(), Value::from(product.temp.to_string_lossy().into_owned()));
                        (Some(product), own)
                    }
                    Ok(_) => return Err(self.broken(job, index, "product: renders to nothing".into())),
                    Err(e) => return Err(self.broken(job, index, format!("product: {e}"))),
                }
            }
        };
        let slot = if plan.command_templates.len() > 1 { index as usize } else { 0 };
        let lookup = |name: &str| {
            own.iter().chain(&extra).chain(self.vars.iter()).find(|(k, _)| &**k == name).map(|(_, v)| v.clone())
        };
        let fast = plan.fast.get(slot).and_then(Option::as_ref).and_then(|t| t.render(lookup));
        let fast = fast.map(|r| r.map_err(RenderError::from));
        let (rendered, env, own) = match fast {
            Some(rendered) if plan.env_templates.is_empty() => (rendered, Vec::new(), own),
            fast => {
                // Kept for `verify` and `label` when the job has one; moved (not copied) otherwise.
                let kept = plan.verify.is_some() || plan.label.is_some();
                let extra = if kept { extra.clone() } else { std::mem::take(&mut extra) };
                let scope = Value::from_object(Scope { vars: self.vars.clone(), own, extra });
                let render = |name: &str| -> Result<String, RenderError> {
                    let template = self.env.get_template(name).map_err(RenderError::from)?;
                    template.render(&scope).map_err(|e| {
                        let undefined = e.kind() == minijinja::ErrorKind::UndefinedError;
                        let mut error = RenderError::from(e);
                        if let Some(missing) = undefined.then(|| missing_name(&template, &scope)).flatten() {
                            error.message = format!("`{missing}` is not defined for this task");
                        }
                        error
                    })
                };
                let rendered = fast.unwrap_or_else(|| render(&plan.command_templates[slot]));
                let mut env = Vec::with_capacity(plan.env_templates.len());
                for (key, name) in &plan.env_templates {
                    match render(name) {
                        Ok(value) => env.push((key.clone(), value)),
                        Err(e) => {
                            let error = format!("env {key}: {}", e.message);
                            return Err(BrokenTask { env: Some(key.clone()), ..self.broken(job, index, error) });
                        }
                    }
                }
                (rendered, env, Scope::into_own(scope))
            }
        };
        let rendered = rendered.map_err(|e| BrokenTask {
            unplaceable: e.unplaceable,
            ..self.broken(job, index, format!("command: {}", e.message))
        })?;
        let (verify, own) = match &plan.verify {
            None => (None, own),
            Some(name) => {
                let scope = Value::from_object(Scope { vars: self.vars.clone(), own, extra: extra.clone() });
                let rendered = self.env.get_template(name).and_then(|t| t.render(&scope));
                let own = Scope::into_own(scope);
                match rendered {
                    Ok(verify) => (Some(verify), own),
                    Err(e) => return Err(self.broken(job, index, format!("verify: {}", template::describe(&e)))),
                }
            }
        };
        let key = identity::base_key(&spec.name, &rendered, &spec.settings.cwd, &env, &own);
        let (label, own) = self.shown_label(job, index, own, &extra, default)?;
        let single = matches!(plan.expansion, Expansion::Single);
        Ok(Task { job, index, key, seq: 0, label, single, rendered, env, bindings: own, product, verify })
    }

    /// How the task's command runs (decided by the job's `shell`). Done by the worker that runs
    /// it rather than the planner, to keep the dispatcher's per-task work small.
    pub fn command_line(&self, task: &Task) -> Result<CommandLine, String> {
        CommandLine::resolve(&task.rendered, self.file.jobs[task.job].settings.shell)
    }

    /// Renders each job's first task so that mistakes only data reveals (a missing field, a
    /// command that `shell: none` cannot run) stop the run before anything starts; every task
    /// when the data is in the job file (a matrix, inline items), as all of it is known. A value
    /// that cannot be placed is no such mistake: that task alone fails when the run reaches it.
    fn first_task_errors(&self) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        for (job, spec) in self.file.jobs.iter().enumerate() {
            if self.jobs[job].deferred {
                continue;
            }
            let checked = match self.jobs[job].expansion {
                Expansion::Matrix(_) | Expansion::Inline(_) => CHECKED_IN_FULL,
                _ => 1,
            };
            let mut broken = self
                .tasks(job)
                .take(checked)
                .filter_map(|t| t.and_then(|t| self.check_command_line(t)).err())
                .filter(|b| !b.unplaceable);
            let Some(first) = broken.next() else { continue };
            let more = match broken.count() {
                0 => String::new(),
                n => format!(" (and {})", crate::words::count(n as u64, "more task")),
            };
            // `render` names the key whose template failed first in its message.
            let pos = match (&first.env, &spec.work) {
                (Some(key), _) => spec.settings.env.get(key).and_then(|v| v.pos),
                _ if first.error.starts_with("product: ") => spec.product.as_ref().and_then(|p| p.pos),
                _ if first.error.starts_with("verify: ") => spec.verify.as_ref().and_then(|p| p.pos),
                (None, Work::Commands(list)) => list.first().and_then(|c| c.pos),
                (None, Work::Templated { command, .. }) => command.pos,
            };
            errors.push(Diagnostic::new(
                &self.file.path,
                pos,
                format!("job `{}`, task {}: {}{more}", spec.name, first.label, first.error),
            ));
        }
        errors
    }

    /// Two jobs whose manifests would be one file: each job's manifest sits in the folder of
    /// its products, so jobs that write products into one folder need manifests of different
    /// names. Checked on each job's first task, as planned before the run; at run time the
    /// manifest goes in the folder that holds all of a job's products.
    fn manifest_errors(&self) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        let mut seen: Vec<(std::path::PathBuf, usize)> = Vec::new();
        for (job, spec) in self.file.jobs.iter().enumerate() {
            if spec.product.is_none() || self.jobs[job].deferred || self.jobs[job].waits_to_be_planned() {
                continue;
            }
            let Some(Ok(task)) = self.tasks(job).next() else { continue };
            let Some(product) = &task.product else { continue };
            let path = task::normal(&std::path::Path::new(&spec.settings.cwd).join(&product.path));
            let Some(manifest) = path.parent().map(|folder| folder.join(&spec.manifest)) else { continue };
            match seen.iter().find(|(other, _)| *other == manifest) {
                Some((_, other)) => errors.push(Diagnostic::new(
                    &self.file.path,
                    spec.product.as_ref().and_then(|p| p.pos),
                    format!(
                        "jobs `{}` and `{}` both write products in {}, so both would write the manifest {}: give one of them `manifest:` with a name of its own, or its products a folder of their own",
                        self.file.jobs[*other].name,
                        spec.name,
                        manifest.parent().map_or_else(String::new, |f| f.display().to_string()),
                        spec.manifest
                    ),
                )),
                None => seen.push((manifest, job)),
            }
        }
        errors
    }

    /// A warning for each job where a value that begins with `-` lands as a program's argument
    /// before any `--`, where the program reads it as an option (`curl {{ item }}` with the
    /// item `-K/etc/x`). Checked on the tasks rendered before the run (see
    /// [`Self::first_task_errors`]); once per job, not per task.
    /// A warning for each job whose `label` template does not render for one of the tasks
    /// rendered before the run (they are shown by their default label instead).
    fn label_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (job, spec) in self.file.jobs.iter().enumerate() {
            let plan = &self.jobs[job];
            let Some(name) = plan.label.as_ref().filter(|_| !plan.deferred) else { continue };
            let checked = match plan.expansion {
                Expansion::Matrix(_) | Expansion::Inline(_) => CHECKED_IN_FULL,
                _ => 1,
            };
            let found = self.tasks(job).take(checked).filter_map(Result::ok).find_map(|task| {
                match self.env.get_template(name).and_then(|t| t.render(self.scope(&task))) {
                    Ok(label) if label.trim().is_empty() => Some((task.label, "it renders to nothing".to_owned())),
                    Ok(_) => None,
                    Err(e) => Some((task.label, template::describe(&e))),
                }
            });
            if let Some((label, why)) = found {
                warnings.push(format!(
                    "job `{}`, task {label}: `label`: {why}; such tasks are shown by their default label",
                    spec.name
                ));
            }
        }
        warnings
    }

    fn option_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (job, spec) in self.file.jobs.iter().enumerate() {
            let plan = &self.jobs[job];
            if plan.deferred || plan.leading.is_empty() {
                continue;
            }
            let expressions: Vec<(&str, minijinja::Expression<'_, '_>)> =
                plan.leading.iter().filter_map(|e| Some((e.as_str(), self.env.compile_expression(e).ok()?))).collect();
            let checked = match plan.expansion {
                Expansion::Matrix(_) | Expansion::Inline(_) => CHECKED_IN_FULL,
                _ => 1,
            };
            let found = self.tasks(job).take(checked).filter_map(Result::ok).find_map(|task| {
                let scope = self.scope(&task);
                expressions.iter().find_map(|(text, expression)| {
                    let value = expression.eval(&scope).ok()?.to_string();
                    let value = crate::words::escape_controls(&value).into_owned();
                    value.starts_with('-').then(|| (task.label.clone(), *text, value))
                })
            });
            if let Some((label, text, value)) = found {
                warnings.push(format!(
                    "job `{}`, task {label}: `{{{{ {text} }}}}` is `{value}`, which begins with `-` where a program reads its options: write `--` before it (`… -- {{{{ {text} }}}}`) if the program takes it, so that such a value stays an argument",
                    spec.name
                ));
            }
        }
        warnings
    }

    /// The names a task's templates see, for evaluating an expression outside its command.
    fn scope(&self, task: &Task) -> Value {
        let plan = &self.jobs[task.job];
        let extra = [
            (self.names.job.clone(), plan.name.clone()),
            (self.names.index.clone(), Value::from(task.index)),
            (self.names.count.clone(), Value::from(plan.expansion.count())),
            match &task.product {
                Some(p) => (self.names.product.clone(), Value::from(p.temp.to_string_lossy().into_owned())),
                None => (self.names.none.clone(), Value::UNDEFINED),
            },
        ];
        Value::from_object(Scope { vars: self.vars.clone(), own: task.bindings.clone(), extra })
    }

    fn check_command_line(&self, task: Task) -> Result<(), BrokenTask> {
        self.command_line(&task).map(drop).map_err(|e| self.broken(task.job, task.index, e))
    }

    fn source_text(&self) -> String {
        std::fs::read_to_string(&self.file.path).unwrap_or_default()
    }
}

/// Where `name` is first used inside a template tag (`{{ … }}`, `{% … %}`) of `source`.
fn name_offset(source: &str, name: &str) -> Option<usize> {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    source.match_indices(name).map(|(at, _)| at).find(|&at| {
        let before = &source[..at];
        let opened = before.rfind("{{").max(before.rfind("{%"));
        let closed = before.rfind("}}").max(before.rfind("%}"));
        opened > closed && !word(before.chars().next_back()) && !word(source[at + name.len()..].chars().next())
    })
}

/// Tasks of a matrix or of inline items rendered before the run, per job: all of them in any
/// job file a person writes.
const CHECKED_IN_FULL: usize = 10_000;

/// The first name (or field, `item.id`) a template uses that `scope` does not have: what an
/// "undefined value" while rendering was about.
fn missing_name(template: &minijinja::Template, scope: &Value) -> Option<String> {
    let mut used: Vec<String> = template.undeclared_variables(true).into_iter().collect();
    used.sort();
    used.into_iter().find(|path| {
        let mut value = scope.clone();
        path.split('.').any(|part| {
            value = value.get_attr(part).unwrap_or(Value::UNDEFINED);
            value.is_undefined()
        })
    })
}

/// Why a task's command or env could not be rendered.
struct RenderError {
    message: String,
    /// A value that cannot be placed ([`quoting::QuoteError::Unplaceable`]).
    unplaceable: bool,
}

impl From<quoting::QuoteError> for RenderError {
    fn from(e: quoting::QuoteError) -> Self {
        RenderError { unplaceable: matches!(e, quoting::QuoteError::Unplaceable(_)), message: e.to_string() }
    }
}

impl From<minijinja::Error> for RenderError {
    fn from(e: minijinja::Error) -> Self {
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            if let Some(quote) = cause.downcast_ref::<quoting::QuoteError>() {
                return RenderError::from(quote.clone());
            }
            source = cause.source();
        }
        RenderError { message: template::describe(&e), unplaceable: false }
    }
}

fn command_template_name(job: &Job, index: u64) -> String {
    match job.work {
        Work::Commands(_) => format!("{}:commands[{index}]{COMMAND_SUFFIX}", job.name),
        Work::Templated { .. } => format!("{}:command{COMMAND_SUFFIX}", job.name),
    }
}

fn env_template_name(job: &str, key: &str) -> String {
    format!("{job}:env:{key}")
}

fn product_template_name(job: &str) -> String {
    format!("{job}:product")
}

fn verify_template_name(job: &str) -> String {
    format!("{job}:verify{COMMAND_SUFFIX}")
}

fn label_template_name(job: &str) -> String {
    format!("{job}:label")
}

/// Which jobs run: all, or those named by `--only` and everything they need.
fn select(file: &JobFile, only: &[String]) -> Result<Vec<bool>, Diagnostics> {
    if only.is_empty() {
        return Ok(vec![true; file.jobs.len()]);
    }
    let mut selected = vec![false; file.jobs.len()];
    let mut errors = Vec::new();
    for name in only {
        match file.jobs.iter().position(|j| &j.name == name) {
            Some(i) => selected[i] = true,
            None => {
                let hint = hint(name, file.jobs.iter().map(|j| j.name.as_str()));
                errors.push(Diagnostic::new(
                    &file.path,
                    None,
                    format!("--only {name}: the job file has no job `{name}`{hint}"),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    // Jobs come after their needs, so one backward sweep closes the selection.
    for i in (0..file.jobs.len()).rev() {
        if selected[i] {
            for &need in &file.jobs[i].needs {
                selected[need] = true;
            }
        }
    }
    Ok(selected)
}

/// What planning a job gives: its expansion, the fast path of each command template, and
/// whether it depends on computed vars a check did not run ([`JobPlan::deferred`]).
struct JobParts {
    leading: Vec<String>,
    expansion: Expansion,
    fast: Vec<Option<SimpleTemplate>>,
    deferred: bool,
}

/// Compiles a job's templates (each command template read for its shell, see [`quoting`]),
/// checks the names they use, and builds its expansion and the fast path of each command.
fn plan_job(
    file: &JobFile,
    job: &Job,
    vars: &[(Arc<str>, Value)],
    unresolved: &HashSet<Arc<str>>,
    computed: &[vars::Computed],
    inputs: &Inputs,
    env: &mut Environment<'static>,
) -> Result<JobParts, Vec<Diagnostic>> {
    let diag = |pos: Option<Pos>, message: String| Diagnostic::new(&file.path, pos, message);
    let uses_unresolved = |source: &str| {
        !unresolved.is_empty()
            && env
                .template_from_str(source)
                .is_ok_and(|t| t.undeclared_variables(false).iter().any(|name| unresolved.contains(name.as_str())))
    };
    let mut deferred = false;
    // An error in the expansion leaves the job with no tasks, and its templates are still
    // checked below, so that both come in one pass.
    let mut errors = Vec::new();
    let expanded = match &job.work {
        Work::Commands(list) => Ok(Expansion::Commands(list.len() as u64)),
        Work::Templated { source, .. } => match source {
            Source::Single => Ok(Expansion::Single),
            Source::Unread(_) => Ok(Expansion::Commands(0)),
            Source::Range(range) if uses_unresolved(&range.from.value) || uses_unresolved(&range.to.value) => {
                deferred = true;
                Ok(Expansion::Commands(0))
            }
            Source::Range(range) => partitions(range, &job.name, vars, env).map(Expansion::Range).map_err(|(p, m)| {
                // The bounds' values came from computed vars: what their commands did.
                let used = |source: &str| {
                    env.template_from_str(source).map(|t| t.undeclared_variables(false)).unwrap_or_default()
                };
                let (from, to) = (used(&range.from.value), used(&range.to.value));
                let stories: Vec<String> = computed
                    .iter()
                    .filter(|c| from.contains(&c.name) || to.contains(&c.name))
                    .map(vars::Computed::story)
                    .collect();
                match stories.as_slice() {
                    [] => diag(p, m),
                    stories => diag(p, format!("{m}; {}", stories.join("; "))),
                }
            }),
            Source::Matrix(spec) => expand::Matrix::new(spec)
                .map(Expansion::Matrix)
                .map_err(|m| diag(job.pos, format!("job `{}`: {m}", job.name))),
            Source::Items(ItemsSpec::Inline(items)) => Ok(Expansion::Inline(items.iter().map(json_value).collect())),
            Source::Items(ItemsSpec::Command { command, format, pos }) => {
                let shown = std::path::PathBuf::from(format!("the output of `{command}`"));
                match inputs {
                    // A Slurm element reads what its submitter's run kept.
                    Inputs::Snapshotted(state, dir) => {
                        let items = inputs::Snapshot::Kept(state.clone(), crate::state_dir::snapshot(dir, &job.name));
                        expand::count_records(&items, &shown, *format)
                            .map(|count| Expansion::File { items, shown, format: *format, count })
                            .map_err(|m| diag(*pos, format!("job `{}`: {m}", job.name)))
                    }
                    // Run once, when the job becomes ready (after the jobs it needs); its
                    // template (syntax, quoting) is checked now, as a computed var's is.
                    _ => vars::check_command(command)
                        .map_err(|e| diag(*pos, format!("job `{}`: items command {e}", job.name)))
                        .map(|()| Expansion::WhenReady {
                            source: shown,
                            format: *format,
                            read: OnceLock::new(),
                            command: Some(command.clone()),
                        }),
                }
            }
            Source::Items(ItemsSpec::File { path, format, pos }) => (|| {
                let fail = |m: String| diag(*pos, format!("job `{}`: {m}", job.name));
                let later = || Expansion::WhenReady {
                    source: path.clone(),
                    format: *format,
                    read: OnceLock::new(),
                    command: None,
                };
                let read = match inputs {
                    // A job it needs may write the file: it is read when they have run.
                    Inputs::InPlace | Inputs::Snapshot(_) if !job.needs.is_empty() => None,
                    // A FIFO gives its items once, to the run.
                    Inputs::InPlace if !path.is_file() => None,
                    Inputs::InPlace => Some(inputs::Snapshot::File(path.clone())),
                    Inputs::Snapshot(to) => Some(inputs::take(to, &job.name, path).map_err(fail)?),
                    Inputs::Snapshotted(state, dir) => {
                        Some(inputs::Snapshot::Kept(state.clone(), crate::state_dir::snapshot(dir, &job.name)))
                    }
                };
                Ok(match read {
                    Some(read) => {
                        let count = expand::count_records(&read, path, *format).map_err(fail)?;
                        Expansion::File { items: read, shown: path.clone(), format: *format, count }
                    }
                    None => later(),
                })
            })(),
        },
    };
    let expansion = expanded.unwrap_or_else(|e| {
        errors.push(e);
        Expansion::Commands(0)
    });

    let mut in_scope: HashSet<&str> = vars.iter().map(|(k, _)| &**k).collect();
    in_scope.extend(["job", "index", "count"]);
    if let Work::Templated { source, .. } = &job.work {
        for name in source.names() {
            // The task's own value wins: the var would never be seen in this job.
            if !in_scope.insert(name) && vars.iter().any(|(k, _)| &**k == name) {
                let var = file.vars.get(name).and_then(|v| v.pos);
                errors.push(diag(
                    var.or(job.pos),
                    format!(
                        "job `{}`: var `{name}` is hidden by the `{name}` each of its tasks has: rename the var",
                        job.name
                    ),
                ));
            }
        }
    }
    if job.product.is_some() {
        // The temporary each task writes: a var of that name would never be seen here.
        if !in_scope.insert("product") {
            let var = file.vars.get("product").and_then(|v| v.pos);
            errors.push(diag(
                var.or(job.pos),
                format!(
                    "job `{}`: var `product` is hidden by the `product` each of its tasks writes: rename the var",
                    job.name
                ),
            ));
        }
    }
    let globals: Vec<String> = env.globals().map(|(k, _)| k.to_owned()).collect();
    in_scope.extend(globals.iter().map(String::as_str));

    let mut templates: Vec<(String, &Located<String>, String, bool)> = Vec::new();
    match &job.work {
        Work::Commands(list) => {
            for (i, c) in list.iter().enumerate() {
                templates.push((command_template_name(job, i as u64), c, format!("commands[{i}]"), true));
            }
        }
        Work::Templated { command, .. } => {
            templates.push((command_template_name(job, 0), command, "command".into(), true));
        }
    }
    for (key, value) in &job.settings.env {
        templates.push((env_template_name(&job.name, key), value, format!("env `{key}`"), false));
    }
    if let Some(product) = &job.product {
        templates.push((product_template_name(&job.name), product, "product".into(), false));
    }
    if let Some(verify) = &job.verify {
        templates.push((verify_template_name(&job.name), verify, "verify".into(), true));
    }
    if let Some(label) = &job.label {
        templates.push((label_template_name(&job.name), label, "label".into(), false));
    }

    let dialect = quoting::Dialect::of(job.settings.shell);
    let made: &[&str] = match &job.work {
        Work::Templated { source: Source::Range(_), .. }
        | Work::Templated { source: Source::Items(ItemsSpec::Command { format: ItemsFormat::Bounds, .. }), .. } => {
            &["job", "index", "count", "start", "end"]
        }
        _ => &["job", "index", "count"],
    };
    let mut fast = Vec::new();
    let mut leading = Vec::new();
    let mut names_read_again = Vec::new();
    for (name, source, what, command) in templates {
        let added = if command {
            match template::add_command(env, name.clone(), &source.value, dialect, made) {
                Ok(analyzed) => {
                    leading.extend(analyzed.leading.iter().cloned());
                    names_read_again.push(Arc::clone(&analyzed.names));
                    // One fast path per command, by its place; `verify` is rendered the usual way.
                    if what != "verify" {
                        fast.push(
                            SimpleTemplate::parse(&source.value).and_then(|t| t.with_contexts(&analyzed.contexts)),
                        );
                    }
                    Ok(())
                }
                Err(template::CommandError::Template(e)) => {
                    Err(diag(source.pos, format!("job `{}`, {what}: {e}", job.name)))
                }
                Err(template::CommandError::Refused(r)) => {
                    let text = std::fs::read_to_string(&file.path).unwrap_or_default();
                    let pos = crate::diagnostic::locate(&text, source.pos, &source.value, r.offset);
                    Err(diag(pos, format!("job `{}`, {what}: {}", job.name, r.message)))
                }
            }
        } else {
            env.add_template_owned(name.clone(), source.value.clone())
                .map_err(|e| diag(source.pos, format!("job `{}`, {what}: {}", job.name, template::describe(&e))))
        };
        if let Err(e) = added {
            errors.push(e);
            continue;
        }
        let template = env.get_template(&name).expect("template was just added");
        if let Some(key) = what.strip_prefix("env `").and_then(|w| w.strip_suffix('`')) {
            // A value from outside in an env var that the command reads as a number or code
            // runs there as it would in the command itself.
            let outside = template.undeclared_variables(false).iter().any(|n| !made.contains(&n.as_str()));
            let imported = key.starts_with("BASH_FUNC_");
            if outside && (imported || names_read_again.iter().any(|n| n.env_reaches_code(key))) {
                errors.push(diag(
                    source.pos,
                    format!(
                        "job `{}`, {what}: holds a value, and the command reads `${key}` as a number or as code (in arithmetic, `eval`, `declare -i`, as a variable bash itself reads, or through a shell that reads its input or a script that reads its arguments as code): the value would run as code there; compute the number in the template (`{{{{ n + 1 }}}}`) or use the variable only as `\"${key}\"` in a program's arguments",
                        job.name
                    ),
                ));
                continue;
            }
        }
        if what == "product" {
            // One path for every task: each would commit over the one before.
            let used = template.undeclared_variables(false);
            let own = match &job.work {
                Work::Templated { source, .. } => source.names(),
                Work::Commands(_) => Vec::new(),
            };
            let varies = used.iter().any(|n| n == "index" || own.contains(&n.as_str()));
            let many = match (&job.work, &expansion) {
                (Work::Commands(list), _) => list.len() > 1,
                (Work::Templated { source: Source::Single, .. }, _) => false,
                (_, Expansion::Commands(0)) => true,
                (_, expansion) => expansion.count() > 1,
            };
            if many && !varies {
                errors.push(diag(
                    source.pos,
                    format!(
                        "job `{}`, product: every task would write `{}`, each over the one before: put a value of the task's own in it (`{{{{ index }}}}`{})",
                        job.name,
                        source.value,
                        own.first().map(|n| format!(", `{{{{ {n} }}}}`")).unwrap_or_default()
                    ),
                ));
                continue;
            }
        }
        deferred |= template.undeclared_variables(false).iter().any(|n| unresolved.contains(n.as_str()));
        let mut unknown: Vec<String> =
            template.undeclared_variables(false).into_iter().filter(|n| !in_scope.contains(n.as_str())).collect();
        unknown.sort();
        for name in unknown {
            let hint = hint(&name, in_scope.iter().copied());
            // At the name itself, which in a `|` block may be lines below the key.
            let at = name_offset(&source.value, &name)
                .and_then(|offset| {
                    let text = std::fs::read_to_string(&file.path).unwrap_or_default();
                    crate::diagnostic::locate(&text, source.pos, &source.value, offset)
                })
                .map(|p| Pos { len: name.len() as u32, ..p })
                .or(source.pos);
            errors.push(diag(at, format!("job `{}`, {what}: undefined name `{name}`{hint}", job.name)));
        }
    }
    if errors.is_empty() { Ok(JobParts { expansion, fast, deferred, leading }) } else { Err(errors) }
}

/// One error for what several jobs inherit (a `defaults` env value they all fail to render):
/// `job \`a\`, env \`A\`: …` at one place for jobs a, b and c becomes `jobs \`a\`, \`b\`,
/// \`c\`, env \`A\`: …`.
fn one_per_place(errors: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut merged: Vec<(Diagnostic, Vec<String>, String)> = Vec::with_capacity(errors.len());
    for d in errors {
        let per_job = d.message.strip_prefix("job `").and_then(|rest| rest.split_once("`, "));
        let Some((job, rest)) = per_job.map(|(job, rest)| (job.to_owned(), rest.to_owned())) else {
            merged.push((d, Vec::new(), String::new()));
            continue;
        };
        match merged.iter_mut().find(|(m, jobs, r)| !jobs.is_empty() && m.pos == d.pos && *r == rest) {
            Some((_, jobs, _)) => jobs.push(job),
            None => merged.push((d, vec![job], rest)),
        }
    }
    merged
        .into_iter()
        .map(|(mut d, jobs, rest)| {
            if jobs.len() > 1 {
                let names: Vec<String> = jobs.iter().map(|j| format!("`{j}`")).collect();
                d.message = format!("jobs {}, {rest}", names.join(", "));
            }
            d
        })
        .collect()
}

/// Renders a range's bounds (which may be templates over the vars) and splits it.
fn partitions(
    range: &RangeSpec,
    job: &str,
    vars: &[(Arc<str>, Value)],
    env: &Environment<'static>,
) -> Result<Partitions, (Option<Pos>, String)> {
    let bound = |b: &Located<String>, what: &str| -> Result<i64, (Option<Pos>, String)> {
        let fail = |m: String| (b.pos, format!("job `{job}`: range `{what}`: {m}"));
        let text = if b.value.contains("{{") || b.value.contains("{%") {
            let scope = Value::from_object(Scope::of_vars(Arc::new(vars.to_vec())));
            env.render_str(&b.value, scope).map_err(|e| fail(template::describe(&e)))?
        } else {
            b.value.clone()
        };
        let text = text.trim().replace('_', "");
        text.parse::<i64>().map_err(|_| fail(format!("`{text}` is not an integer")))
    };
    let from = bound(&range.from, "from")?;
    let to = bound(&range.to, "to")?;
    Partitions::new(from, to, range.split).map_err(|m| (range.from.pos, format!("job `{job}`: range: {m}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undefined_name_is_found_inside_a_tag_only() {
        let source = "echo typo {{ typos }}\necho {{ typo }} {% if typo %}";
        assert_eq!(name_offset(source, "typo"), Some(source.find("{{ typo }}").unwrap() + 3));
        assert_eq!(name_offset("echo {{ a }}", "b"), None);
    }

    fn plan(yaml: &str, options: &PlanOptions) -> Plan {
        let file = crate::config::parse(std::path::Path::new("/tmp/shard-test.yaml"), yaml).expect("parses");
        Plan::new(file, options).expect("plans")
    }

    fn keys(plan: &Plan, job: usize) -> Vec<(u64, u64)> {
        plan.tasks(job).map(|t| t.map(|t| (t.index, t.key)).expect("renders")).collect()
    }

    #[test]
    fn a_shard_plans_its_indices_with_the_keys_of_the_whole_plan() {
        let yaml = "jobs:\n  first:\n    command: 'true'\n  list:\n    needs: [first]\n    commands: [echo a, echo a, echo b, echo a]\n  range:\n    range: {from: 1, to: 100, step: 10}\n    command: echo {{ start }}\n";
        let whole = plan(yaml, &PlanOptions::default());
        for (job, name) in [(1, "list"), (2, "range")] {
            let shard = Shard { job: name.into(), indices: vec![1..2, 3..5] };
            let part = plan(yaml, &PlanOptions { shard: Some(shard), ..PlanOptions::default() });
            let expected: Vec<(u64, u64)> =
                keys(&whole, job).into_iter().filter(|(i, _)| [1, 3, 4].contains(i)).collect();
            assert_eq!(keys(&part, job), expected, "{name}");
            assert_eq!(part.total(), expected.len() as u64, "only the shard's job and indices count");
            assert!(keys(&part, 0).is_empty(), "needs are left out");
        }
    }

    /// Keys recorded in a journal by the version before values were escaped per context: a
    /// bare-word value renders byte for byte as it did, so `--resume` of such a journal holds.
    #[test]
    fn bare_word_values_keep_their_keys() {
        let yaml = "defaults: {cwd: /}\njobs:\n  k:\n    items: [\"; touch PWNED\", \"it's \\\"q\\\" $(x) `y` \\\\\", \"a b\\nc\", \"plain\", 42]\n    command: printf '%s|' {{ item }} --opt={{ item }}\n";
        let plan = plan(yaml, &PlanOptions::default());
        let keys: Vec<String> = plan.tasks(0).map(|t| crate::task_key::format(t.expect("renders").key)).collect();
        assert_eq!(
            keys,
            ["91482b75d5dae6cd", "1781ae3bd39c8e11", "d72666a13e11e365", "7a54ef2bbed69114", "af592a3930b05d4f"]
        );
    }

    #[test]
    fn a_shard_sees_the_count_of_the_whole_job() {
        let yaml = "jobs:\n  r:\n    range: {from: 1, to: 10}\n    command: echo {{ start }} of {{ count }}\n";
        let shard = Shard { job: "r".into(), indices: vec![3..4, 9..9] };
        let part = plan(yaml, &PlanOptions { shard: Some(shard), ..PlanOptions::default() });
        let rendered: Vec<String> = part.tasks(0).map(|t| t.expect("renders").rendered).collect();
        assert_eq!(rendered, ["echo 4 of 10"]);
    }

    #[test]
    fn fixed_vars_replace_computed_ones_without_running_them() {
        let yaml = "vars:\n  n: {sh: 'exit 1'}\njobs:\n  a:\n    command: echo {{ n }}\n";
        let fixed = vec![("n".to_string(), serde_json::json!("007"))];
        let plan = plan(yaml, &PlanOptions { fixed, ..PlanOptions::default() });
        let task = plan.tasks(0).next().unwrap().unwrap();
        assert_eq!(task.rendered, "echo 007");
        assert_eq!(plan.resolved_vars(), vec![("n".to_string(), serde_json::json!("007"))]);
    }
}
