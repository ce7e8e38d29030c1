//! Micro-benchmarks of the per-task hot paths: expansion, template rendering, JSON plan
//! output, and journal writes. `cargo bench` runs them (divan).

use std::path::Path;
use std::time::Duration;

use batchrun::config::{self, Split};
use batchrun::events::Listener;
use batchrun::events::{Counts, Event, Finished, Outcome};
use batchrun::plan::partition::Partitions;
use batchrun::plan::{Plan, PlanOptions};

fn main() {
    divan::main();
}

fn plan(yaml: &str) -> Plan {
    let file = config::parse(Path::new("/tmp/bench.yaml"), yaml).expect("valid");
    Plan::new(file, &PlanOptions::default()).expect("plans")
}

const RANGE: &str = "jobs:\n  export:\n    range: {from: 1, to: 10000000000, step: 1000}\n    command: ./export.sh {{ start }} {{ end }} > out/part-{{ index }}.csv\n";
const MATRIX: &str = "jobs:\n  m:\n    matrix:\n      kind: [{name: a, w: 2}, {name: b, w: 3}]\n      n: {from: 1, to: 100000}\n    command: echo {{ kind.name }} {{ n * kind.w }}\n";

#[divan::bench]
fn partition_by_index(bencher: divan::Bencher) {
    let p = Partitions::new(1, 10_000_000_000, Split::Step(1000)).unwrap();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % p.count();
        divan::black_box(p.get(i))
    });
}

#[divan::bench(args = [RANGE, MATRIX])]
fn render_1000_tasks(bencher: divan::Bencher, yaml: &str) {
    let plan = plan(yaml);
    bencher.bench_local(|| plan.all_tasks().take(1000).count());
}

#[divan::bench]
fn plan_json_1000_tasks(bencher: divan::Bencher) {
    let plan = plan(RANGE);
    let mut out = Vec::with_capacity(1 << 20);
    bencher.bench_local(|| {
        out.clear();
        batchrun::plan::print::json_tasks(&plan, plan.all_tasks().take(1000), &mut out).unwrap();
    });
}

#[divan::bench]
fn journal_1000_records(bencher: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(RANGE);
    let tasks: Vec<_> = plan.all_tasks().take(1000).map(Result::unwrap).collect();
    let mut journal = batchrun::journal::Journal::open(
        &batchrun::state_dir::StateDir::claimed(dir.path()),
        false,
        vec!["export".into()],
    )
    .unwrap();
    let counts = Counts::default();
    bencher.bench_local(|| {
        for task in &tasks {
            let started = batchrun::events::TaskRef {
                job: task.job,
                index: task.index,
                key: task.key,
                label: &task.label,
                command: &task.rendered,
            };
            journal.event(&Event::TaskStarted { task: started, attempt: 1, counts });
            let finished = Finished {
                job: 0,
                key: task.key,
                index: task.index,
                label: task.label.clone(),
                command: String::new(),
                outcome: Outcome::Succeeded,
                duration: Duration::from_millis(3),
                attempt: 1,
                stderr_tail: Vec::new(),
                evidence: None,
                log: None,
                slot: None,
                product: None,
                allowed: false,
            };
            journal.event(&Event::TaskFinished { task: &finished, counts });
            journal.flush();
        }
    });
}
