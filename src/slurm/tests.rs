//! The submitter against the fake scheduler: submission, progress from the elements'
//! journals, a lost element, a stop that cancels pending elements, resume, `MaxArraySize`
//! splits, and the same job file through both drivers.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::fake::Fake;
use super::{Options, run_with};
use crate::config::Overrides;
use crate::events::{Counts, Event, Listener, Listeners, OutputSink};
use crate::journal::reader::{History, read_state};
use crate::plan::{Plan, PlanOptions};
use crate::run::output::{Logs, Output, OutputMode};
use crate::state_dir::StateDir;

/// What a run told its listeners, times left out.
#[derive(Debug, Default, PartialEq, Eq)]
struct Told {
    finished: BTreeSet<(String, String, u32)>,
    retried: BTreeSet<String>,
    skipped: BTreeSet<(String, u64, String, bool)>,
    cancelling: Vec<String>,
    counts: Counts,
    /// Each failed attempt's output excerpts: label, attempt, stdout, stderr.
    evidence: BTreeSet<(String, u32, String, String)>,
}

impl Told {
    fn evidence(&mut self, task: &crate::events::Finished) {
        if let Some(e) = &task.evidence {
            self.evidence.insert((task.label.clone(), task.attempt, e.stdout.text(), e.stderr.text()));
        }
    }
}

#[derive(Default)]
struct Recorder(Arc<std::sync::Mutex<Told>>);

impl Listener for Recorder {
    fn event(&mut self, event: &Event) {
        let mut told = self.0.lock().unwrap();
        match event {
            Event::TaskFinished { task, .. } => {
                told.finished.insert((task.label.clone(), task.outcome.describe(), task.attempt));
                told.evidence(task);
            }
            Event::TaskRetrying { task, .. } => {
                told.retried.insert(task.label.clone());
                told.evidence(task);
            }
            Event::JobSkipped { job, tasks, reason, not_run, .. } => {
                told.skipped.insert((job.to_string(), *tasks, reason.to_string(), *not_run));
            }
            Event::RunCancelling { reason, .. } => told.cancelling.push(reason.to_string()),
            Event::RunFinished { counts, .. } => told.counts = *counts,
            _ => {}
        }
    }
}

struct Job {
    dir: tempfile::TempDir,
}

impl Job {
    fn new(yaml: &str) -> Job {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("job.yaml"), yaml).unwrap();
        Job { dir }
    }

    /// The plan as a run with these command-line settings makes it.
    fn plan_with(&self, overrides: Overrides) -> Plan {
        self.plan_selected(overrides, PlanOptions::default())
    }

    /// The plan with `--set` and `--only` (in `options`) as well.
    fn plan_selected(&self, overrides: Overrides, options: PlanOptions) -> Plan {
        let mut file = crate::config::load(&self.dir.path().join("job.yaml")).expect("loads");
        overrides.apply(&mut file);
        Plan::new(file, &options).expect("plans")
    }

    fn state(&self) -> std::path::PathBuf {
        self.dir.path().join("state")
    }

    fn on_slurm(&self, fake: &Fake, history: Option<&History>) -> Told {
        self.on_slurm_with(fake, history, Overrides::default())
    }

    fn on_slurm_with(&self, fake: &Fake, history: Option<&History>, overrides: Overrides) -> Told {
        self.on_slurm_planned(fake, history, overrides, self.plan_with(overrides))
    }

    fn on_slurm_planned(&self, fake: &Fake, history: Option<&History>, overrides: Overrides, plan: Plan) -> Told {
        self.on_slurm_with_options(fake, history, overrides, plan, None)
    }

    /// With `-j` given as `concurrency`.
    fn on_slurm_with_options(
        &self,
        fake: &Fake,
        history: Option<&History>,
        overrides: Overrides,
        plan: Plan,
        concurrency: Option<usize>,
    ) -> Told {
        std::fs::create_dir_all(self.state()).unwrap();
        let options = Options { state: StateDir::claimed(self.state()), concurrency, keep_logs: false, overrides };
        let told = Arc::default();
        // The submitter keeps the run's journal, as `batchrun --backend slurm` does.
        let names = plan.file.jobs.iter().map(|j| j.name.clone()).collect();
        let journal = crate::journal::Journal::open(&options.state, history.is_some(), names).expect("a journal");
        let mut listeners = Listeners(vec![Box::new(Recorder(Arc::clone(&told))), Box::new(journal)]);
        run_with(fake, &plan, history, &options, &mut listeners);
        drop(listeners);
        self.told(told)
    }

    /// What the run told, with this job's folder written `$DIR` (each run has its own).
    fn told(&self, told: Arc<std::sync::Mutex<Told>>) -> Told {
        let mut told = Arc::try_unwrap(told).unwrap().into_inner().unwrap();
        let dir = self.dir.path().to_string_lossy().into_owned();
        told.evidence = std::mem::take(&mut told.evidence)
            .into_iter()
            .map(|(label, attempt, out, err)| (label, attempt, out.replace(&dir, "$DIR"), err.replace(&dir, "$DIR")))
            .collect();
        told
    }

    fn locally(&self) -> Told {
        self.locally_with(Overrides::default())
    }

    fn locally_with(&self, overrides: Overrides) -> Told {
        self.locally_planned(self.plan_with(overrides))
    }

    fn locally_planned(&self, plan: Plan) -> Told {
        self.locally_on(plan, 2)
    }

    /// With `workers` workers (`-j`).
    fn locally_on(&self, plan: Plan, workers: usize) -> Told {
        std::fs::create_dir_all(self.state()).unwrap();
        let told = Arc::default();
        let mut listeners = Listeners(vec![Box::new(Recorder(Arc::clone(&told)))]);
        let logs = Logs { state: StateDir::claimed(self.state()), keep_all: false };
        let sink: Arc<dyn OutputSink> = Arc::new(crate::console::Console::new());
        let output = Output::new(OutputMode::None, sink, logs, false, workers);
        crate::run::run(&plan, None, &crate::run::Guards::none(), workers, &output, &mut listeners);
        drop(listeners);
        self.told(told)
    }
}

const FAILING: &str = r#"
jobs:
  ok:
    range: {from: 1, to: 4}
    command: "true"
  bad:
    needs: [ok]
    items: [1, 2, 3]
    retries: 1
    command: sh -c 'test "$1" -ne 2 || { echo "no $1" >&2; seq 1 100; exit 1; }' sh {{ item }}
  after:
    needs: [bad]
    command: "true"
  later:
    needs: [after]
    command: "true"
"#;

#[test]
fn the_same_failing_file_ends_alike_on_both_drivers() {
    let job = Job::new(FAILING);
    let local = job.locally();
    let slurm = job.on_slurm(&Fake::new(), None);
    assert_eq!(local.counts.total, 9);
    assert_eq!((local.counts.succeeded, local.counts.failed, local.counts.skipped), (6, 1, 2));
    let skipped = ("later".to_owned(), 1, "it needs `after`, which was skipped".to_owned(), false);
    assert!(local.skipped.contains(&skipped), "{:?}", local.skipped);
    assert!(local.finished.contains(&("bad[item=2]".into(), "exit 1".into(), 2)), "{:?}", local.finished);
    assert_eq!(local.evidence.len(), 2, "both attempts of bad[item=2]: {:?}", local.evidence);
    assert_eq!(slurm, local);
}

#[test]
fn arrays_are_split_at_max_array_size() {
    let job =
        Job::new("jobs:\n  t:\n    range: {from: 1, to: 5}\n    slurm: {tasks_per_element: 1}\n    command: 'true'\n");
    let fake = Fake { max_array_size: 2, ..Fake::new() };
    let told = job.on_slurm(&fake, None);
    assert_eq!(fake.submitted(), 3);
    assert_eq!((told.counts.total, told.counts.succeeded), (5, 5));
}

#[test]
fn the_tasks_of_a_lost_element_are_reported_lost_with_its_state() {
    let job =
        Job::new("jobs:\n  t:\n    range: {from: 1, to: 3}\n    slurm: {tasks_per_element: 1}\n    command: 'true'\n");
    let fake = Fake { lose: vec![1], ..Fake::new() };
    let told = job.on_slurm(&fake, None);
    assert_eq!((told.counts.succeeded, told.counts.failed), (2, 1));
    // It never started: no attempt.
    let lost = ("t[1]".to_owned(), "lost: its array element ended NODE_FAIL before it ran".to_owned(), 0);
    assert!(told.finished.contains(&lost), "{:?}", told.finished);
}

#[test]
fn a_stop_cancels_the_pending_elements_and_their_tasks_are_not_run() {
    let yaml = "jobs:\n  t:\n    range: {from: 1, to: 3}\n    on_failure: stop\n    slurm: {tasks_per_element: 1}\n    command: sh -c 'test \"$1\" -ne 1' sh {{ start }}\n";
    let job = Job::new(yaml);
    let fake = Fake { one_per_poll: true, ..Fake::new() };
    let told = job.on_slurm(&fake, None);
    assert_eq!(told.cancelling, ["t[0] failed and on_failure is `stop`"]);
    assert_eq!((told.counts.failed, told.counts.not_run, told.counts.succeeded), (1, 2, 0));
    let reason = crate::policy::STOPPED_BEFORE_THEY_STARTED.to_owned();
    assert!(told.skipped.contains(&("t".into(), 2, reason, true)), "{:?}", told.skipped);
}

#[test]
fn resume_runs_only_what_did_not_succeed() {
    let yaml = "jobs:\n  t:\n    range: {from: 1, to: 3}\n    slurm: {tasks_per_element: 1}\n    command: sh -c 'test \"$1\" -ne 2 || test -e fixed' sh {{ start }}\n";
    let job = Job::new(yaml);
    let first = job.on_slurm(&Fake::new(), None);
    assert_eq!((first.counts.succeeded, first.counts.failed), (2, 1));
    std::fs::write(job.dir.path().join("fixed"), "").unwrap();
    let history = read_state(&StateDir::claimed(job.state())).unwrap();
    let second = job.on_slurm(&Fake::new(), Some(&history));
    assert_eq!((second.counts.already_done, second.counts.succeeded, second.counts.failed), (2, 1, 0));
}

#[test]
fn a_percent_in_the_state_folder_reaches_sbatch_as_the_character() {
    use std::path::Path;
    assert_eq!(super::output_pattern(Path::new("/s/100%/a%A")).unwrap(), "/s/100%%/a%%A");
    let refused = super::output_pattern(Path::new("/s/a\\b")).unwrap_err();
    assert!(refused.contains("backslash"), "{refused}");
}

/// The element decides whether an attempt is retried, and the submitter replays it: a task
/// that failed, was retried and then passed is reported once, even when the run began to
/// stop (another task's failure) between the two attempts.
#[test]
fn a_retry_the_element_decided_is_replayed_after_the_run_began_to_stop() {
    let job = Job::new(
        r#"
jobs:
  t:
    items: [a, b]
    on_failure: stop
    retries: 1
    retry_delay: 0s
    slurm: {tasks_per_element: 1}
    command: sh -c 'test "$1" = b && test -e seen-b && exit 0; touch "seen-$1"; exit 1' sh {{ item }}
"#,
    );
    let told = job.on_slurm(&Fake::new(), None);
    let expected: BTreeSet<(String, String, u32)> =
        [("t[a]".into(), "exit 1".into(), 2), ("t[b]".into(), "ok".into(), 2)].into_iter().collect();
    assert_eq!(told.finished, expected, "each task is reported once, with its last attempt");
    assert_eq!((told.counts.total, told.counts.succeeded, told.counts.failed), (2, 1, 1));
    assert_eq!(told.retried, ["t[a]".to_owned(), "t[b]".to_owned()].into_iter().collect());
}

/// `--timeout` and `--retries` reach the elements: they run with exactly the settings the
/// submitting run planned with, and end as a local run does.
#[test]
fn command_line_settings_reach_the_elements() {
    let yaml = "jobs:\n  t:\n    items: [1, 2]\n    retry_delay: 0s\n    slurm: {tasks_per_element: 1}\n    command: sh -c 'test -e \"ran-$1\" && exit 0; touch \"ran-$1\"; exec sleep 30' sh {{ item }}\n";
    let overrides =
        Overrides { timeout: Some(std::time::Duration::from_millis(300)), retries: Some(1), fail_fast: false };
    let local = Job::new(yaml).locally_with(overrides);
    let slurm = Job::new(yaml).on_slurm_with(&Fake::new(), None, overrides);
    let expected: BTreeSet<(String, String, u32)> =
        [("t[item=1]".into(), "ok".into(), 2), ("t[item=2]".into(), "ok".into(), 2)].into_iter().collect();
    assert_eq!(local.finished, expected, "timed out, then passed on the retry");
    assert_eq!(slurm, local);
}

/// Output an element could not write out makes the task undelivered, and the run ends with 3,
/// as it does locally.
#[test]
fn output_an_element_could_not_write_ends_the_run_with_3() {
    let job = Job::new("jobs:\n  t:\n    command: echo out\n");
    let plan = job.plan_with(Overrides::default());
    std::fs::create_dir_all(job.state()).unwrap();
    let options = Options {
        state: StateDir::claimed(job.state()),
        concurrency: None,
        keep_logs: false,
        overrides: Overrides::default(),
    };
    let fake = Fake { full_output: true, ..Fake::new() };
    let result = run_with(&fake, &plan, None, &options, &mut Listeners(Vec::new()));
    assert_eq!(result.undelivered, 1);
    assert_eq!(crate::assemble::exit_status(&result, false), crate::exit_code::ExitCode::Undelivered);
}

mod property {
    //! Small random job files (needs, retries, an outcome for each attempt, `on_failure`)
    //! through both drivers: the counts add up and each task is reported once on both; where
    //! no failure stops the run (so timing decides nothing), both drivers tell the same.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Gen {
        tasks: u8,
        retries: u8,
        stop: bool,
        needs: Vec<bool>,
        /// (index, attempt) pairs that fail.
        fails: Vec<(u8, u8)>,
    }

    fn job() -> impl Strategy<Value = Gen> {
        (
            1u8..=3,
            0u8..=1,
            any::<bool>(),
            proptest::collection::vec(any::<bool>(), 3),
            proptest::collection::vec((0u8..3, 1u8..=2), 0..4),
        )
            .prop_map(|(tasks, retries, stop, needs, fails)| Gen { tasks, retries, stop, needs, fails })
    }

    fn yaml(jobs: &[Gen]) -> String {
        let mut out = String::from("jobs:\n");
        for (j, g) in jobs.iter().enumerate() {
            let needs: Vec<String> = (0..j).filter(|&n| g.needs[n]).map(|n| format!("j{n}")).collect();
            let cases: Vec<String> = g.fails.iter().map(|(i, a)| format!("{i}.{a}")).collect();
            let command = if cases.is_empty() {
                "'true'".to_owned()
            } else {
                format!("sh -c 'case \"$BATCHRUN_INDEX.$BATCHRUN_ATTEMPT\" in {}) exit 1;; esac'", cases.join("|"))
            };
            out.push_str(&format!(
                "  j{j}:\n    range: {{from: 1, to: {}}}\n    retries: {}\n    retry_delay: 0s\n    on_failure: {}\n    needs: [{}]\n    slurm: {{tasks_per_element: 1}}\n    command: {command}\n",
                g.tasks,
                g.retries,
                if g.stop { "stop" } else { "continue" },
                needs.join(", "),
            ));
        }
        out
    }

    fn check(told: &Told, driver: &str) -> Result<(), TestCaseError> {
        let c = told.counts;
        let ended = c.succeeded + c.failed + c.cancelled + c.skipped + c.not_run + c.already_done;
        prop_assert_eq!(ended, c.total, "{}: counts do not add up: {:?}", driver, c);
        let labels: Vec<&String> = told.finished.iter().map(|(label, _, _)| label).collect();
        let unique: BTreeSet<&String> = labels.iter().copied().collect();
        prop_assert_eq!(labels.len(), unique.len(), "{}: a task reported twice: {:?}", driver, told.finished);
        prop_assert_eq!(labels.len() as u64, c.succeeded + c.failed + c.cancelled, "{}: {:?}", driver, told);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]
        #[test]
        fn both_drivers_account_for_every_task(jobs in proptest::collection::vec(job(), 1..=3)) {
            let yaml = yaml(&jobs);
            let local = Job::new(&yaml).locally();
            let slurm = Job::new(&yaml).on_slurm(&Fake::new(), None);
            check(&local, "local")?;
            check(&slurm, "slurm")?;
            if jobs.iter().all(|g| !g.stop) {
                prop_assert_eq!(&slurm, &local, "{}", yaml);
            }
        }
    }

    /// As many files as CI can afford in well under a minute; more with `BATCHRUN_PROPTEST_CASES`.
    fn cases() -> u32 {
        std::env::var("BATCHRUN_PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(500)
    }
}

/// `--set` and `--only` reach the elements: the vars they plan with are the ones the
/// submitter resolved, and only the selected jobs run.
#[test]
fn set_and_only_end_alike_on_both_drivers() {
    let yaml = "vars:\n  word: file\njobs:\n  a:\n    items: [1, 2]\n    slurm: {tasks_per_element: 1}\n    command: test {{ word }} = cli\n  b:\n    needs: [a]\n    command: 'true'\n  c:\n    command: 'false'\n";
    let options =
        || PlanOptions { set: vec![("word".into(), "cli".into())], only: vec!["b".into()], ..PlanOptions::default() };
    let (here, there) = (Job::new(yaml), Job::new(yaml));
    let local = here.locally_planned(here.plan_selected(Overrides::default(), options()));
    let plan = there.plan_selected(Overrides::default(), options());
    let slurm = there.on_slurm_planned(&Fake::new(), None, Overrides::default(), plan);
    let expected: BTreeSet<(String, String, u32)> =
        [("a[item=1]".into(), "ok".into(), 1), ("a[item=2]".into(), "ok".into(), 1), ("b".into(), "ok".into(), 1)]
            .into_iter()
            .collect();
    assert_eq!(local.finished, expected, "--set reached the tasks and --only left c out");
    assert_eq!(slurm, local);
}

/// `on_failure: kill` while another task waits for its retry: the retry is given up, and the
/// failed attempt it waited after is the task's last, on both drivers.
#[test]
fn a_kill_while_a_task_waits_to_retry_ends_it_failed_on_both_drivers() {
    let yaml = r#"
jobs:
  t:
    items: [a, b]
    retries: 1
    retry_delay: 2s
    on_failure: kill
    slurm: {tasks_per_element: 2, cpus_per_task: 2}
    command: sh -c 'test "$1" = a && sleep 1; exit 1' sh {{ item }}
"#;
    let local = Job::new(yaml).locally();
    let slurm = Job::new(yaml).on_slurm(&Fake::new(), None);
    let expected: BTreeSet<(String, String, u32)> =
        [("t[a]".into(), "exit 1".into(), 1), ("t[b]".into(), "exit 1".into(), 2)].into_iter().collect();
    assert_eq!(local.finished, expected, "t[a] waited for its retry when t[b] failed for good");
    assert_eq!(local.cancelling, ["t[b] failed and on_failure is `kill`"]);
    assert_eq!((local.counts.failed, local.counts.not_run), (2, 0));
    assert_eq!(slurm, local);
}

/// `--fail-fast` stops both drivers alike: the failed task, the one running beside it ending
/// as it would, and the rest not run.
#[test]
fn fail_fast_stops_both_drivers_alike() {
    let yaml = "jobs:\n  t:\n    items: [1, 2, 3, 4]\n    slurm: {tasks_per_element: 4, cpus_per_task: 2}\n    command: sh -c 'test \"$1\" -ne 1 || exit 1; sleep 0.3' sh {{ item }}\n";
    let overrides = Overrides { fail_fast: true, ..Overrides::default() };
    let local = Job::new(yaml).locally_with(overrides);
    let slurm = Job::new(yaml).on_slurm_with(&Fake::new(), None, overrides);
    let expected: BTreeSet<(String, String, u32)> =
        [("t[item=1]".into(), "exit 1".into(), 1), ("t[item=2]".into(), "ok".into(), 1)].into_iter().collect();
    assert_eq!(local.finished, expected);
    assert_eq!((local.counts.failed, local.counts.succeeded, local.counts.not_run), (1, 1, 2));
    assert_eq!(slurm, local);
}

/// A job planned when it becomes ready whose items cannot be read fails as one task on both
/// drivers, and what needs it is skipped.
#[test]
fn a_job_that_cannot_be_planned_fails_alike_on_both_drivers() {
    let yaml = "jobs:\n  write:\n    command: sh -c 'echo \"{bad\" > items.jsonl'\n  use:\n    needs: [write]\n    items: {file: items.jsonl, format: jsonl}\n    command: echo {{ item }}\n  after:\n    needs: [use]\n    command: 'true'\n";
    let local = Job::new(yaml).locally();
    let slurm = Job::new(yaml).on_slurm(&Fake::new(), None);
    assert_eq!((local.counts.total, local.counts.succeeded, local.counts.failed, local.counts.skipped), (3, 1, 1, 1));
    assert!(local.finished.iter().any(|(label, outcome, _)| label == "use" && outcome.contains("cannot plan the job")));
    assert_eq!(slurm, local);
}

/// `-j 1` reaches the arrays as `%1`: one element at a time, so a failure with `on_failure:
/// stop` leaves the rest not run, as one worker does locally.
#[test]
fn one_at_a_time_stops_alike_on_both_drivers() {
    let yaml = "jobs:\n  t:\n    items: [1, 2, 3, 4]\n    on_failure: stop\n    slurm: {tasks_per_element: 1}\n    command: test {{ item }} -ne 1\n";
    let (here, there) = (Job::new(yaml), Job::new(yaml));
    let local = here.locally_on(here.plan_with(Overrides::default()), 1);
    let plan = there.plan_with(Overrides::default());
    let slurm = there.on_slurm_with_options(&Fake::new(), None, Overrides::default(), plan, Some(1));
    assert_eq!((local.counts.failed, local.counts.not_run, local.counts.succeeded), (1, 3, 0));
    assert_eq!(slurm, local);
}

/// A declared product is committed on the element's node as locally: the file exists only
/// for the task that succeeded, and both drivers end alike.
#[test]
fn products_are_committed_alike_on_both_drivers() {
    let yaml = "jobs:\n  p:\n    items: [1, 2, 3]\n    slurm: {tasks_per_element: 1}\n    product: out/{{ item }}.txt\n    command: sh -c 'echo \"$2\" > \"$1\"; test \"$2\" -ne 2' sh {{ product }} {{ item }}\n";
    let (here, there) = (Job::new(yaml), Job::new(yaml));
    let local = here.locally();
    let slurm = there.on_slurm(&Fake::new(), None);
    assert_eq!(slurm, local);
    for job in [&here, &there] {
        let mut files: Vec<String> = std::fs::read_dir(job.dir.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, ["1.txt", "3.txt"], "only committed products, no temporaries");
    }
}

/// The submitter, which sees the whole job, writes its manifest as a local run does (never an
/// element, which sees its share); a product deleted since is rebuilt by `--resume`, the
/// manifest follows, and the job that needs the products runs again.
#[test]
fn the_manifest_is_written_alike_and_a_rebuild_reruns_what_needs_it() {
    let yaml = "jobs:\n  p:\n    items: [1, 2, 3]\n    slurm: {tasks_per_element: 1}\n    product: out/{{ item }}.txt\n    command: sh -c 'seq \"$2\" > \"$1\"' sh {{ product }} {{ item }}\n    verify: wc -l < {{ product }}\n  check:\n    needs: [p]\n    command: sh -c 'echo checked >> checks'\n";
    let (here, there) = (Job::new(yaml), Job::new(yaml));
    assert_eq!(there.on_slurm(&Fake::new(), None), here.locally());
    let products = |job: &Job| {
        let text = std::fs::read_to_string(job.dir.path().join("out/_SUCCESS")).expect("a manifest");
        let manifest: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        (manifest["products"].clone(), manifest["rows"].clone())
    };
    assert_eq!(products(&there), products(&here));
    assert_eq!(products(&there).1, 6, "1 + 2 + 3 rows, as verify counted them");

    std::fs::remove_file(there.dir.path().join("out/2.txt")).unwrap();
    let history = read_state(&StateDir::claimed(there.state())).unwrap();
    let again = there.on_slurm(&Fake::new(), Some(&history));
    assert_eq!((again.counts.already_done, again.counts.succeeded), (2, 2), "2.txt rebuilt, and check run again");
    assert_eq!(std::fs::read_to_string(there.dir.path().join("checks")).unwrap(), "checked\nchecked\n");
    assert_eq!(products(&there), products(&here));
}

/// A job run again for a rebuilt need stays so for a later `--resume` when it failed: the
/// submitter's journal records the rerun and forgets the job's earlier element journals.
#[test]
fn a_rerun_for_a_rebuilt_need_outlasts_its_resume_on_slurm() {
    let yaml = "jobs:\n  p:\n    items: [1, 2]\n    slurm: {tasks_per_element: 1}\n    product: out/{{ item }}.txt\n    command: sh -c 'echo \"$2\" > \"$1\"' sh {{ product }} {{ item }}\n  check:\n    needs: [p]\n    items: [a, b]\n    slurm: {tasks_per_element: 1}\n    command: sh -c 'test ! -e \"broken-$1\" && echo \"$1\" >> checks' sh {{ item }}\n";
    let job = Job::new(yaml);
    let resume = |job: &Job| {
        let history = read_state(&StateDir::claimed(job.state())).unwrap();
        job.on_slurm(&Fake::new(), Some(&history)).counts
    };
    assert_eq!(job.on_slurm(&Fake::new(), None).counts.succeeded, 4);
    std::fs::remove_file(job.dir.path().join("out/1.txt")).unwrap();
    std::fs::write(job.dir.path().join("broken-a"), "").unwrap();
    let second = resume(&job);
    assert_eq!((second.succeeded, second.failed, second.already_done), (2, 1, 1), "{second:?}");
    std::fs::remove_file(job.dir.path().join("broken-a")).unwrap();
    let third = resume(&job);
    assert_eq!((third.succeeded, third.already_done), (1, 3), "check[a] runs again: {third:?}");
    let checks = std::fs::read_to_string(job.dir.path().join("checks")).unwrap();
    let mut checks: Vec<&str> = checks.lines().collect();
    checks.sort();
    assert_eq!(checks, ["a", "a", "b", "b"], "each ran again on the rebuilt export, check[a] once it could");
}

/// A job fans out over what an upstream job wrote, read by an items command once the job is
/// ready: the submitter keeps it in the snapshot its elements read, and both drivers end
/// alike (here one item fails).
#[test]
fn an_items_command_fans_out_alike_on_both_drivers() {
    let yaml = "jobs:\n  list:\n    command: sh -c 'seq 1 3 > ids.txt'\n  fan:\n    needs: [list]\n    items: {sh: 'cat ids.txt'}\n    slurm: {tasks_per_element: 1}\n    command: sh -c 'echo \"$1\" > out.$1; test \"$1\" -ne 2' sh {{ item }}\n";
    let told = |job: &Job, slurm: bool| {
        std::fs::create_dir_all(job.state()).unwrap();
        let snapshots = crate::plan::inputs::Snapshots::new(&StateDir::claimed(job.state()));
        let options =
            PlanOptions { inputs: crate::plan::Inputs::Snapshot(snapshots.to(slurm)), ..PlanOptions::default() };
        let plan = job.plan_selected(Overrides::default(), options);
        if slurm {
            job.on_slurm_planned(&Fake::new(), None, Overrides::default(), plan)
        } else {
            job.locally_planned(plan)
        }
    };
    let (here, there) = (Job::new(yaml), Job::new(yaml));
    let (local, slurm) = (told(&here, false), told(&there, true));
    assert_eq!(slurm, local);
    assert_eq!((slurm.counts.succeeded, slurm.counts.failed, slurm.counts.total), (3, 1, 4));
    for i in 1..=3 {
        assert_eq!(std::fs::read_to_string(there.dir.path().join(format!("out.{i}"))).unwrap(), format!("{i}\n"));
    }
}

/// `retry_on` is decided where the attempt ran, by the same policy: a failure it names is
/// retried, one it leaves out ends at once, alike on both drivers.
#[test]
fn retry_on_is_decided_alike_on_both_drivers() {
    let yaml = "jobs:\n  t:\n    items: [2, 3, 76]\n    retries: 2\n    retry_delay: 0s\n    retry_on: [2, \"75-78\"]\n    slurm: {tasks_per_element: 1}\n    command: sh -c 'exit \"$1\"' sh {{ item }}\n";
    let (here, there) = (Job::new(yaml), Job::new(yaml));
    let local = here.locally();
    assert_eq!(there.on_slurm(&Fake::new(), None), local);
    let attempts: Vec<u32> = local.finished.iter().map(|(_, _, attempt)| *attempt).collect();
    assert_eq!(attempts, [3, 1, 3], "exit 2 and 76 retried to the end, exit 3 not: {:?}", local.finished);
}

/// `on_failure: {stop: N}` counts a job's failed tasks in the one run state, alike on both
/// drivers: the stop comes at the Nth failure (one element at a time, so the order is fixed).
#[test]
fn a_stop_after_n_failures_ends_alike_on_both_drivers() {
    let yaml = "jobs:\n  t:\n    items: [1, 2, 3, 4, 5, 6]\n    concurrency: 1\n    on_failure: {stop: 2}\n    slurm: {tasks_per_element: 1}\n    command: test {{ item }} -gt 3\n";
    let (here, there) = (Job::new(yaml), Job::new(yaml));
    let local = here.locally_on(here.plan_with(Overrides::default()), 1);
    let slurm = there.on_slurm_with_options(
        &Fake::new(),
        None,
        Overrides::default(),
        there.plan_with(Overrides::default()),
        Some(1),
    );
    assert_eq!(slurm, local);
    assert_eq!((local.counts.failed, local.counts.not_run), (2, 4), "{local:?}");
    assert_eq!(local.cancelling, ["2 tasks of `t` failed (t[item=2] the last) and on_failure is `{stop: 2}`"]);
}

/// `allow_failure` is the run state's: the job's failures are counted as allowed and the job
/// that needs it runs, alike on both drivers.
#[test]
fn an_allowed_failure_ends_alike_on_both_drivers() {
    let yaml = "jobs:\n  lint:\n    allow_failure: true\n    items: [1, 2]\n    slurm: {tasks_per_element: 1}\n    command: test {{ item }} -eq 1\n  build:\n    needs: [lint]\n    command: 'true'\n";
    let (here, there) = (Job::new(yaml), Job::new(yaml));
    let local = here.locally();
    assert_eq!(there.on_slurm(&Fake::new(), None), local);
    assert_eq!((local.counts.succeeded, local.counts.failed, local.counts.allowed, local.counts.skipped), (2, 1, 1, 0));
}

/// A task that fails and then passes on a retry is flaky in the one run state: counted among
/// the succeeded and as flaky, alike on both drivers.
#[test]
fn a_flaky_task_is_counted_alike_on_both_drivers() {
    let yaml = "jobs:\n  t:\n    items: [a, b]\n    retries: 1\n    retry_delay: 0s\n    slurm: {tasks_per_element: 1}\n    command: sh -c 'echo x >> \"n-$1\"; test \"$1\" = b -o \"$(wc -l < \"n-$1\")\" -ge 2' sh {{ item }}\n";
    let (here, there) = (Job::new(yaml), Job::new(yaml));
    let local = here.locally();
    assert_eq!(there.on_slurm(&Fake::new(), None), local);
    assert_eq!((local.counts.succeeded, local.counts.flaky), (2, 1), "{local:?}");
}
