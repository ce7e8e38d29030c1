//! `--backend slurm`: the same job file, run as Slurm job arrays.
//!
//! ```text
//! submitter ──sbatch──▶ array of elements ──each: batchrun exec MANIFEST i──▶ local pool on a node
//!     ▲                                                     │
//!     └──── follows the elements' journals ◀────────────────┘   (+ squeue for liveness)
//! ```
//! Each job, once the jobs it needs have succeeded, becomes one array per `MaxArraySize`
//! elements; each element runs `tasks_per_element` of its tasks with `cpus_per_task` workers
//! and appends every attempt to a journal of its own in the state folder, which must be on a
//! filesystem the nodes share. The submitter turns those records into the same events a local
//! run produces, so progress, summary, reports and the run's own journal work unchanged. It
//! asks `squeue` only whether elements are still alive (one call per array, backing off): an
//! element that ended without recording its tasks had them lost, and they are reported with
//! the scheduler's state. `sacct` and jobcomp are never needed.

pub mod exec;
#[cfg(test)]
mod fake;
mod manifest;
mod scheduler;
mod tail;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use crate::config::Job;
use crate::events::{Finished, Listener, Outcome, TaskRef};
use crate::journal::reader::History;
use crate::journal::record::Record;
use crate::plan::Plan;
use crate::policy::{self, Stop};
use crate::run_state::{Interrupt, RunResult, RunState};
use crate::state_dir::{Open, StateDir, log_file, log_stem};
use manifest::Manifest;
pub use scheduler::{ArrayState, Cancel, Scheduler};
use tail::Tail;

/// How often reporters get a tick, and journals are read.
const TICK: Duration = Duration::from_millis(100);
/// `squeue` polls start this often and back off while nothing changes, up to `POLL_MAX`.
/// Slurm schedules on a one-second tick, so polling faster gains nothing.
const POLL_MIN: Duration = Duration::from_secs(1);
const POLL_MAX: Duration = Duration::from_secs(10);
/// After an interrupt, how long elements get to record their cancelled tasks.
const CANCEL_WAIT: Duration = Duration::from_secs(30);

pub struct Options {
    /// The run's state folder, its root absolute, on a filesystem the nodes share.
    pub state: StateDir,
    /// `-j N`, over the file's `concurrency`.
    pub concurrency: Option<usize>,
    /// What the command line set over every job's settings, for the elements to apply too.
    pub overrides: crate::config::Overrides,
    pub keep_logs: bool,
}

/// Checks what can be checked before anything is planned or submitted: the Slurm commands are
/// there, and the controller answers (asked once, briefly, rather than by every job's `sbatch`).
pub fn preflight() -> Result<(), String> {
    for program in ["sbatch", "squeue", "scancel", "scontrol"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
        if !found {
            return Err(format!("--backend slurm needs `{program}` on PATH (Slurm's client commands)"));
        }
    }
    scheduler::ping(scheduler::PING_TIMEOUT)
        .map_err(|why| format!("--backend slurm: the Slurm controller does not answer: {why}; nothing was submitted"))
}

/// A warning when the state folder is on a filesystem only this machine sees (tmpfs) while the
/// cluster has more than one node: elements elsewhere could not read their manifests.
fn state_dir_warning(scheduler: &dyn Scheduler, state_dir: &Path) -> Option<String> {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    // `f_type` is i64 here but narrower on other targets.
    #[allow(clippy::unnecessary_cast)]
    let on_tmpfs = rustix::fs::statfs(state_dir).is_ok_and(|s| s.f_type as i64 == TMPFS_MAGIC);
    if !on_tmpfs {
        return None;
    }
    (scheduler.nodes() > 1).then(|| {
        format!(
            "the state folder {} is on tmpfs, which the cluster's other nodes cannot see; \
             use --state-dir on a shared filesystem",
            state_dir.display()
        )
    })
}

/// Runs the plan on Slurm; returns how it ended, as a local run does.
pub fn run(plan: &Plan, history: Option<&History>, options: &Options, reporter: &mut dyn Listener) -> RunResult {
    run_with(&scheduler::Slurm, plan, history, options, reporter)
}

/// [`run`] with any [`Scheduler`].
pub fn run_with(
    scheduler: &dyn Scheduler,
    plan: &Plan,
    history: Option<&History>,
    options: &Options,
    reporter: &mut dyn Listener,
) -> RunResult {
    let (signal_tx, signals) = crossbeam_channel::unbounded::<i32>();
    let mut submitter = Submitter::new(scheduler, plan, history, options, reporter, signals.clone());
    if let Err(e) = crate::run::signals::forward_to(signal_tx, |s| s) {
        submitter.state.warn(&format!("cannot handle signals ({e}); Ctrl-C will not cancel the arrays"));
    }
    if let Some(message) = state_dir_warning(scheduler, options.state.root()) {
        submitter.state.warn(&message);
    }
    let slots = options.concurrency.or(plan.file.concurrency).unwrap_or(0);
    submitter.state.begin(slots, "slurm");
    let mut cancel_deadline: Option<Instant> = None;
    loop {
        submitter.follow();
        submitter.start_ready_jobs();
        if submitter.is_over() {
            break;
        }
        if cancel_deadline.is_some_and(|d| Instant::now() >= d) {
            submitter.abandon("batchrun stopped waiting for the cancelled array");
            continue;
        }
        submitter.state.tick();
        submitter.state.flush();
        match signals.recv_timeout(TICK) {
            Ok(signal) => match submitter.state.interrupt(signal) {
                Interrupt::Stop(stop) => {
                    submitter.carry_out(Some(stop));
                    cancel_deadline = Some(Instant::now() + CANCEL_WAIT);
                }
                // A second signal: kill every task now, as a local run does, and stop waiting
                // for the elements to report.
                Interrupt::KillNow => submitter.abandon("interrupted again; the elements' records were not awaited"),
            },
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
    }
    // After a stop: tasks of cancelled elements that never started, and jobs never submitted.
    let (submitted, unstarted) = (&submitter.submitted, &mut submitter.unstarted);
    submitter.state.give_up(|i, count| match submitted[i] {
        true => (count, std::mem::take(&mut unstarted[i])),
        false => (0, Vec::new()),
    });
    submitter.state.end()
}

/// An attempt an element reported started.
struct Running {
    key: u64,
    label: String,
    command: String,
    attempt: u32,
}

struct Element {
    tail: Tail,
    /// Its journal says its run ended.
    ended: bool,
    /// The scheduler says it ended (or no longer knows it): the state.
    scheduler_end: Option<String>,
    settled: bool,
    /// `squeue` polls in a row that did not list it.
    unlisted_polls: u32,
    done: HashSet<u64>,
    running: HashMap<u64, Running>,
    /// Tasks whose attempt ended and that the element said it will retry: the attempt, which
    /// is the task's last if no other comes (the element gave the retry up, or ended first).
    waiting: HashMap<u64, Finished>,
}

struct Array {
    job: usize,
    id: String,
    manifest: Manifest,
    /// Each task's key and label by index, for tasks lost before they started.
    tasks: HashMap<u64, (u64, String)>,
    elements: Vec<Element>,
    next_poll: Instant,
    poll_every: Duration,
    settled: bool,
}

struct Submitter<'a, 'r> {
    scheduler: &'a dyn Scheduler,
    plan: &'a Plan,
    history: Option<&'a History>,
    options: &'a Options,
    /// Job phases, counts, stopping: what the run policy decides, and the events it sends.
    /// Once it is stopping, batchrun has cancelled arrays itself: their unstarted tasks are
    /// not run, not lost.
    state: RunState<'a, 'r>,
    /// By job: whether it was submitted (or planned and found unplannable).
    submitted: Vec<bool>,
    /// By job: tasks of cancelled elements that never started, not run once the run ends.
    unstarted: Vec<Vec<u64>>,
    arrays: Vec<Array>,
    max_array_size: u64,
    /// Makes manifest names unique across runs sharing a state folder (`--resume`).
    run_tag: String,
    warned_poll: bool,
    /// The signals that came and are not yet taken: an items command stops for one.
    signals: crossbeam_channel::Receiver<i32>,
}

impl<'a, 'r> Submitter<'a, 'r> {
    fn new(
        scheduler: &'a dyn Scheduler,
        plan: &'a Plan,
        history: Option<&'a History>,
        options: &'a Options,
        reporter: &'r mut dyn Listener,
        signals: crossbeam_channel::Receiver<i32>,
    ) -> Self {
        let run_tag =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis()).to_string();
        Submitter {
            plan,
            history,
            options,
            state: RunState::new(plan, history.is_some(), reporter),
            submitted: vec![false; plan.jobs.len()],
            unstarted: vec![Vec::new(); plan.jobs.len()],
            arrays: Vec::new(),
            max_array_size: scheduler.max_array_size(),
            scheduler,
            run_tag,
            warned_poll: false,
            signals,
        }
    }

    /// Whether the run is over: every array has settled, and every job ended or the run is
    /// stopping.
    fn is_over(&self) -> bool {
        self.arrays.iter().all(|a| a.settled) && (self.state.stopping() || self.state.all_ended())
    }

    /// Submits every job the run state says is ready.
    fn start_ready_jobs(&mut self) {
        for i in self.state.ready_jobs(|_, _| (0, Vec::new())) {
            self.submit_job(i);
        }
    }

    fn submit_job(&mut self, job: usize) {
        let spec = &self.plan.file.jobs[job];
        let mut pending: Vec<(u64, u64, String)> = Vec::new();
        self.submitted[job] = true;
        if self.plan.jobs[job].waits_to_be_planned() {
            // Its items are read now, into the snapshot its elements read on their nodes.
            let signals = &self.signals;
            let planned = self.plan.plan_when_ready(job, &|| !signals.is_empty());
            self.state.planned(job, &planned);
            if let Err(e) = planned {
                self.finish(&policy::unplanned(job, &spec.name, &e));
                return;
            }
        }
        for planned in self.plan.tasks(job) {
            match planned {
                Ok(task) if self.state.trusts_earlier(job) && self.history.is_some_and(|h| h.is_done(task.key)) => {
                    let product = self.history.and_then(|h| h.products.get(&task.key));
                    self.state.already_done(job, task.index, product);
                }
                Ok(task) => pending.push((task.index, task.key, task.label)),
                Err(broken) => {
                    self.finish(&Finished::without_a_run(
                        job,
                        broken.index,
                        0,
                        broken.label,
                        Outcome::NotStarted(broken.error),
                    ));
                }
            }
        }
        let workers = spec.slurm.cpus_per_task.unwrap_or(1) as usize;
        let throttle = self.throttle(spec, workers);
        let per_element = spec.slurm.tasks_per_element.unwrap_or_else(|| {
            // About four elements per slot that runs at once: few scheduler ticks, yet work
            // still spreads when tasks differ in length.
            let slots = throttle.unwrap_or(64) as u64;
            (pending.len() as u64).div_ceil(4 * slots).max(1)
        });
        let chunk = (self.max_array_size * per_element) as usize;
        for (n, part) in pending.chunks(chunk.max(1)).enumerate() {
            match self.submit_array(job, n, part, per_element, workers, throttle) {
                Ok(array) => self.arrays.push(array),
                Err(e) => {
                    self.state.warn(&format!("job `{}`: {e}", spec.name));
                    for (index, key, label) in part {
                        let outcome = Outcome::NotStarted(e.clone());
                        self.finish(&Finished::without_a_run(job, *index, *key, label.clone(), outcome));
                    }
                }
            }
        }
    }

    /// Elements of a job's array that may run at once (`%K`): the job's, the run's and each
    /// used limit's concurrency, in tasks, divided by the tasks each element runs at once.
    fn throttle(&self, job: &Job, workers: usize) -> Option<usize> {
        let limits = job.uses.iter().filter_map(|&l| self.plan.file.limits.get_index(l).map(|(_, n)| *n));
        let tasks = [job.concurrency, self.options.concurrency.or(self.plan.file.concurrency)]
            .into_iter()
            .flatten()
            .chain(limits)
            .min()?;
        Some((tasks / workers.max(1)).max(1))
    }

    fn submit_array(
        &self,
        job: usize,
        n: usize,
        tasks: &[(u64, u64, String)],
        per_element: u64,
        workers: usize,
        throttle: Option<usize>,
    ) -> Result<Array, String> {
        let spec = &self.plan.file.jobs[job];
        let state = &self.options.state;
        let (manifests, outputs) = (state.slurm_manifests(), state.slurm_output());
        for d in [&manifests, &outputs] {
            state.folder(d, true).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        let file = std::path::absolute(&self.plan.file.path).unwrap_or_else(|_| self.plan.file.path.clone());
        let bytes = crate::config::read_job_file(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let name = crate::state_dir::array_name(&spec.name, &self.run_tag, n);
        let manifest = Manifest {
            version: manifest::VERSION,
            file,
            file_hash: manifest::hash_of(&bytes),
            job: spec.name.clone(),
            vars: self.plan.resolved_vars(),
            state_dir: state.root().to_path_buf(),
            indices: manifest::ranges_of(tasks.iter().map(|(i, _, _)| *i)),
            tasks_per_element: per_element,
            workers,
            keep_logs: self.options.keep_logs,
            name: name.clone(),
            inputs: self.plan.snapshots().map(Path::to_path_buf),
            overrides: self.options.overrides,
        };
        let manifest_path = state.manifest(&name);
        manifest.write(state, &manifest_path).map_err(|e| format!("cannot write {}: {e}", manifest_path.display()))?;
        let script_path = state.manifest_script(&name);
        let exe = std::env::current_exe().map_err(|e| format!("cannot find batchrun's own path: {e}"))?;
        let script = format!(
            "#!/bin/sh\n# batchrun: job `{}` of {}, array {name}\nexec {} exec {} \"$SLURM_ARRAY_TASK_ID\"\n",
            spec.name,
            self.plan.file.name,
            quote(&exe),
            quote(&manifest_path)
        );
        state
            .write_whole(&script_path, script.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", script_path.display()))?;

        let elements = manifest.element_count();
        let mut args = vec![
            format!("--array=0-{}{}", elements - 1, throttle.map(|k| format!("%{k}")).unwrap_or_default()),
            format!("--job-name={}.{}", self.plan.file.name, spec.name),
            format!("--output={}/{}", output_pattern(&outputs)?, crate::state_dir::SLURM_OUTPUT_NAME),
            format!("--chdir={}", self.plan.file.dir.display()),
        ];
        let s = &spec.slurm;
        args.extend(s.partition.iter().map(|p| format!("--partition={p}")));
        args.extend(s.time.iter().map(|t| format!("--time={t}")));
        args.extend(s.cpus_per_task.iter().map(|c| format!("--cpus-per-task={c}")));
        args.extend(s.mem.iter().map(|m| format!("--mem={m}")));
        args.extend(s.extra.iter().cloned());
        // Slurm's own requeue (after a node failure, or `scontrol requeue`) would run an
        // element's tasks again behind the submitter's back: after the job's own options, so
        // it holds.
        args.push("--no-requeue".to_owned());
        args.push(script_path.display().to_string());
        let id = self.scheduler.submit(&args)?;
        let elements = (0..elements)
            .map(|e| Element {
                tail: Tail::new(state.clone(), manifest.journal_path(e)),
                ended: false,
                scheduler_end: None,
                settled: false,
                unlisted_polls: 0,
                done: HashSet::new(),
                running: HashMap::new(),
                waiting: HashMap::new(),
            })
            .collect();
        Ok(Array {
            job,
            id,
            manifest,
            tasks: tasks.iter().map(|(index, key, label)| (*index, (*key, label.clone()))).collect(),
            elements,
            next_poll: Instant::now() + POLL_MIN,
            poll_every: POLL_MIN,
            settled: false,
        })
    }

    /// Reads what the elements recorded, and asks the scheduler about those that are due.
    fn follow(&mut self) {
        for a in 0..self.arrays.len() {
            if self.arrays[a].settled {
                continue;
            }
            let mut changed = false;
            for e in 0..self.arrays[a].elements.len() {
                if !self.arrays[a].elements[e].settled {
                    changed |= self.read_element(a, e);
                }
            }
            let now = Instant::now();
            let array = &mut self.arrays[a];
            let unended = array.elements.iter().any(|e| !e.ended && e.scheduler_end.is_none());
            if unended && now >= array.next_poll {
                changed |= self.poll_array(a);
                let array = &mut self.arrays[a];
                array.poll_every = if changed { POLL_MIN } else { (array.poll_every * 2).min(POLL_MAX) };
                array.next_poll = now + array.poll_every;
            }
            for e in 0..self.arrays[a].elements.len() {
                let element = &self.arrays[a].elements[e];
                if !element.settled && (element.ended || element.scheduler_end.is_some()) {
                    self.settle_element(a, e);
                }
            }
            let array = &mut self.arrays[a];
            array.settled = array.elements.iter().all(|e| e.settled);
        }
    }

    /// Turns an element's new journal records into events; whether there were any.
    fn read_element(&mut self, a: usize, e: usize) -> bool {
        let records = self.arrays[a].elements[e].tail.read_new();
        let any = !records.is_empty();
        for record in records {
            self.apply(a, e, record);
        }
        any
    }

    fn apply(&mut self, a: usize, e: usize, record: Record) {
        let job = self.arrays[a].job;
        match record {
            Record::Start { task: crate::events::TaskStart { key, index, label, attempt, .. }, command, .. } => {
                let key = crate::task_key::parse(&key).unwrap_or(0);
                let command = command.unwrap_or_default();
                self.state.slot_taken();
                self.state.started(TaskRef { job, index, key, label: &label, command: &command }, attempt);
                let element = &mut self.arrays[a].elements[e];
                element.waiting.remove(&index);
                element.running.insert(index, Running { key, label, command, attempt });
            }
            Record::End { task: end, retrying, .. } => {
                let (index, attempt) = (end.index, end.attempt);
                let element = &mut self.arrays[a].elements[e];
                let running = match element.running.remove(&index) {
                    Some(running) => {
                        self.state.slot_freed();
                        running
                    }
                    // The element gave up the retry it had announced: that attempt was the last.
                    None => match element.waiting.remove(&index) {
                        Some(waited) if !retrying && waited.attempt == attempt => {
                            element.done.insert(index);
                            self.finish(&waited);
                            return;
                        }
                        _ => return,
                    },
                };
                let spec = &self.plan.file.jobs[job];
                let duration = Duration::from_millis(end.duration_ms);
                let outcome = match end.outcome(spec.settings.timeout) {
                    // Killed outright after batchrun cancelled its element.
                    Outcome::Signalled(_) if self.state.stopping() => Outcome::Cancelled,
                    outcome => outcome,
                };
                let state = &self.options.state;
                let stem = log_stem(&state.logs(), &spec.name, index, attempt);
                let mut err = state.open(&log_file(&stem, "err"), Open::Read).ok();
                let stderr_tail = match &mut err {
                    Some(file) if !outcome.is_success() => crate::run::output::tail_of(file),
                    _ => Vec::new(),
                };
                // What the element's logs hold, excerpted as a local run excerpts what it
                // collected; a log that cannot be read is an empty stream.
                let evidence = match (&mut err, state.open(&log_file(&stem, "out"), Open::Read)) {
                    (Some(err), Ok(mut out)) if !outcome.is_success() => {
                        Some(Box::new(crate::evidence::Evidence::of(&mut out, err)))
                    }
                    _ => None,
                };
                let log = err.is_some().then_some(stem);
                let finished = Finished {
                    job,
                    key: running.key,
                    index,
                    label: running.label,
                    command: running.command,
                    outcome,
                    duration,
                    attempt,
                    stderr_tail,
                    evidence,
                    log,
                    slot: None,
                    product: end.product.clone(),
                    allowed: false,
                };
                // The element decided, and its journal says what: it is replayed, never decided
                // again here (this run may be stopping while the element retries all the same).
                if retrying {
                    let delay = policy::retries(&finished.outcome, attempt, &spec.settings, false).unwrap_or_default();
                    self.state.retrying(&finished, delay);
                    self.arrays[a].elements[e].waiting.insert(index, finished);
                } else {
                    self.arrays[a].elements[e].done.insert(index);
                    self.finish(&finished);
                }
            }
            Record::RunEnd { .. } => self.arrays[a].elements[e].ended = true,
            Record::Run { .. } | Record::Planned { .. } | Record::Rerun { .. } => {}
        }
    }

    /// A task's last attempt ended: the run state counts it and says what stops.
    fn finish(&mut self, finished: &Finished) {
        if matches!(finished.outcome, Outcome::Undelivered(_)) {
            let stop = self.state.output_lost(&finished.label);
            self.carry_out(stop);
        }
        let stop = self.state.finish(finished, true);
        self.carry_out(stop);
    }

    /// No new element starts; with [`Stop::Terminate`], running elements stop their tasks too.
    fn carry_out(&mut self, stop: Option<Stop>) {
        match stop {
            Some(Stop::Drain) => self.cancel_arrays(scheduler::Cancel::Pending),
            Some(Stop::Terminate) => self.cancel_arrays(scheduler::Cancel::Graceful),
            None => {}
        }
    }

    fn cancel_arrays(&mut self, how: scheduler::Cancel) {
        let ids: Vec<String> = self.arrays.iter().filter(|a| !a.settled).map(|a| a.id.clone()).collect();
        if let Err(e) = self.scheduler.cancel(&ids, how) {
            self.state.warn(&e);
        }
        // Ask soon what became of them.
        let soon = Instant::now() + Duration::from_millis(300);
        for array in self.arrays.iter_mut().filter(|a| !a.settled) {
            array.next_poll = soon;
            array.poll_every = POLL_MIN;
        }
    }

    /// One `squeue` for the array; whether an element's state changed.
    fn poll_array(&mut self, a: usize) -> bool {
        let array = &mut self.arrays[a];
        let state = match self.scheduler.poll(&array.id) {
            Ok(state) => state,
            Err(e) => {
                if !self.warned_poll {
                    let message = format!("cannot ask Slurm about array {}: {e}; trying again", array.id);
                    self.state.warn(&message);
                    self.warned_poll = true;
                }
                return false;
            }
        };
        let mut changed = false;
        let cancelled = self.state.stopping();
        match state {
            scheduler::ArrayState::Gone => {
                for element in array.elements.iter_mut().filter(|e| e.scheduler_end.is_none()) {
                    element.scheduler_end = Some("gone (Slurm no longer knows it)".into());
                    changed = true;
                }
            }
            scheduler::ArrayState::Elements(list) => {
                let mut listed = vec![false; array.elements.len()];
                for (ranges, state) in list {
                    for i in ranges.into_iter().flatten() {
                        let Some(element) = array.elements.get_mut(i as usize) else { continue };
                        listed[i as usize] = true;
                        if scheduler::is_finished(&state) && element.scheduler_end.is_none() {
                            element.scheduler_end = Some(state.clone());
                            changed = true;
                        }
                    }
                }
                // Pending elements that are cancelled vanish from `squeue` rather than being
                // listed as cancelled; one missing twice in a row is gone.
                for (element, listed) in array.elements.iter_mut().zip(listed) {
                    element.unlisted_polls = if listed { 0 } else { element.unlisted_polls + 1 };
                    if element.scheduler_end.is_none() && (element.unlisted_polls >= 2 || (cancelled && !listed)) {
                        let state = if cancelled { "CANCELLED" } else { "gone (no longer listed by squeue)" };
                        element.scheduler_end = Some(state.into());
                        changed = true;
                    }
                }
            }
        }
        changed
    }

    /// The element ended: whatever of its tasks has no final record was lost (or skipped,
    /// when batchrun cancelled it).
    fn settle_element(&mut self, a: usize, e: usize) {
        self.read_element(a, e);
        let job = self.arrays[a].job;
        let element = &self.arrays[a].elements[e];
        let state = element.scheduler_end.clone().unwrap_or_else(|| "COMPLETED".into());
        let mut missing = Vec::new();
        for index in self.arrays[a].manifest.element_indices(e as u64).into_iter().flatten() {
            if !element.done.contains(&index) && !element.waiting.contains_key(&index) {
                missing.push((index, element.running.contains_key(&index)));
            }
        }
        // Tasks whose retry never came: the failed attempt they waited after is their last, as
        // it is when a local run gives a retry up.
        let waited: Vec<Finished> = self.arrays[a].elements[e].waiting.drain().map(|(_, f)| f).collect();
        for finished in waited {
            self.arrays[a].elements[e].done.insert(finished.index);
            self.finish(&finished);
        }
        let mut skipped = Vec::new();
        for (index, was_running) in missing {
            let element = &mut self.arrays[a].elements[e];
            let running = element.running.remove(&index);
            if was_running {
                self.state.slot_freed();
            }
            if self.state.stopping() && !was_running {
                skipped.push(index);
                continue;
            }
            let why = if was_running {
                format!("its array element ended {state} while it ran")
            } else {
                format!("its array element ended {state} before it ran")
            };
            let planned = self.arrays[a].tasks.get(&index);
            let key = running.as_ref().map(|r| r.key).or_else(|| planned.map(|(key, _)| *key));
            let label = match (&running, planned) {
                (Some(r), _) => r.label.clone(),
                (None, Some((_, label))) => label.clone(),
                (None, None) => self.plan.label(job, index),
            };
            let mut finished = Finished::without_a_run(job, index, key.unwrap_or(0), label, Outcome::Lost(why.clone()));
            // A task lost before it ran made no attempt.
            finished.attempt = running.as_ref().map_or(0, |r| r.attempt);
            if let Some(r) = running {
                finished.command = r.command;
            }
            if self.state.stopping() && was_running {
                finished.outcome = Outcome::Cancelled;
            }
            self.finish(&finished);
        }
        self.unstarted[job].extend(skipped);
        let element = &mut self.arrays[a].elements[e];
        element.settled = true;
        element.done = HashSet::new();
    }

    /// Gives up on arrays still running (after an interrupt): cancels them outright, and
    /// their tasks count as cancelled.
    fn abandon(&mut self, why: &str) {
        self.cancel_arrays(scheduler::Cancel::Hard);
        for a in 0..self.arrays.len() {
            for e in 0..self.arrays[a].elements.len() {
                let element = &mut self.arrays[a].elements[e];
                if !element.settled && element.scheduler_end.is_none() {
                    element.scheduler_end = Some(why.to_owned());
                }
            }
        }
        self.follow();
    }
}

/// `dir` as the folder of an sbatch `--output` pattern: `%` written `%%`, so that Slurm reads
/// it as the character and not as a replacement. A backslash turns every replacement off
/// (the elements would share one file), so a folder with one is refused.
fn output_pattern(dir: &Path) -> Result<String, String> {
    let text = dir.display().to_string();
    if text.contains('\\') {
        return Err(format!(
            "the state folder's path {text} holds a backslash, which sbatch reads as \"no patterns\" in --output: choose another with --state-dir"
        ));
    }
    Ok(text.replace('%', "%%"))
}

fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    shlex::try_quote(&text).map_or(text.clone(), |q| q.into_owned())
}
