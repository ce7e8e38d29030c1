//! A scheduler for tests: it runs array elements in this process, with the same code an element
//! runs on a node (`exec::prepare`, the local runner, a shard journal), so the submitter follows
//! real journals. It can lose elements, run them one per poll (so a stop finds some pending),
//! and has any `MaxArraySize`; an array throttled to `%K` runs K elements at submission and the
//! rest one per poll, so a stop finds them pending as on a cluster.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::scheduler::{ArrayState, Cancel, Scheduler};
use crate::events::{OutputSink, Stream};

pub struct Fake {
    pub max_array_size: u64,
    /// Element indices (in every array) that end `NODE_FAIL` without running.
    pub lose: Vec<u64>,
    /// Run one pending element per poll rather than all at submission.
    pub one_per_poll: bool,
    /// Elements write their tasks' output to a full disk (as `/dev/full`).
    pub full_output: bool,
    pub(super) arrays: RefCell<Vec<FakeArray>>,
}

pub(super) struct FakeArray {
    id: String,
    manifest: PathBuf,
    states: Vec<String>,
}

impl Fake {
    pub fn new() -> Fake {
        Fake {
            max_array_size: 1001,
            lose: Vec::new(),
            one_per_poll: false,
            full_output: false,
            arrays: RefCell::new(Vec::new()),
        }
    }

    /// How many arrays were submitted.
    pub fn submitted(&self) -> usize {
        self.arrays.borrow().len()
    }

    fn run(&self, array: &mut FakeArray, element: usize) {
        if self.lose.contains(&(element as u64)) {
            array.states[element] = "NODE_FAIL".into();
            return;
        }
        run_element(&array.manifest, element as u64, self.full_output);
        array.states[element] = "COMPLETED".into();
    }
}

impl Scheduler for Fake {
    fn max_array_size(&self) -> u64 {
        self.max_array_size
    }

    fn submit(&self, args: &[String]) -> Result<String, String> {
        let range = args.iter().find_map(|a| a.strip_prefix("--array=0-")).ok_or("no --array")?;
        if args.iter().rposition(|a| a == "--no-requeue") != Some(args.len() - 2) {
            return Err("an array must be submitted with --no-requeue, last before its script".into());
        }
        let last: usize = range.split('%').next().and_then(|n| n.parse().ok()).ok_or("a bad --array")?;
        let throttle = range.split_once('%').and_then(|(_, k)| k.parse().ok());
        let script = PathBuf::from(args.last().ok_or("no script")?);
        let id = (1000 + self.arrays.borrow().len()).to_string();
        let mut array = FakeArray {
            id: id.clone(),
            manifest: script.with_extension("json"),
            states: vec!["PENDING".into(); last + 1],
        };
        let at_once = match (self.one_per_poll, throttle) {
            (true, _) => 0,
            (false, Some(k)) => k,
            (false, None) => last + 1,
        };
        for element in 0..at_once.min(last + 1) {
            self.run(&mut array, element);
        }
        self.arrays.borrow_mut().push(array);
        Ok(id)
    }

    fn poll(&self, id: &str) -> Result<ArrayState, String> {
        let mut arrays = self.arrays.borrow_mut();
        let array = arrays.iter_mut().find(|a| a.id == id).ok_or("no such array")?;
        if let Some(next) = array.states.iter().position(|s| s == "PENDING") {
            self.run(array, next);
        }
        let one = |i: usize| std::iter::once(i as u64..i as u64 + 1).collect();
        let states = array.states.iter().enumerate().map(|(i, s)| (one(i), s.clone())).collect();
        Ok(ArrayState::Elements(states))
    }

    fn nodes(&self) -> u64 {
        1
    }

    fn cancel(&self, ids: &[String], _how: Cancel) -> Result<(), String> {
        for array in self.arrays.borrow_mut().iter_mut().filter(|a| ids.contains(&a.id)) {
            for state in array.states.iter_mut().filter(|s| *s == "PENDING") {
                *state = "CANCELLED".into();
            }
        }
        Ok(())
    }
}

/// What `batchrun exec MANIFEST ELEMENT` does, its output thrown away.
fn run_element(manifest: &Path, element: u64, full: bool) {
    let element = super::exec::prepare(manifest, Some(element)).expect("the element plans");
    element.run(&crate::run::Guards::none(), Arc::new(Discard { full }), Vec::new()).expect("its journal opens");
}

/// Where an element's output goes in tests: nowhere, or a full disk.
struct Discard {
    full: bool,
}

impl OutputSink for Discard {
    fn write(&self, _: Stream, _: &[u8]) -> io::Result<()> {
        if self.full { Err(io::Error::from(io::ErrorKind::StorageFull)) } else { Ok(()) }
    }

    fn write_block(&self, _: Stream, write: &mut dyn FnMut(&File) -> io::Result<()>) -> io::Result<()> {
        write(&File::options().write(true).open(if self.full { "/dev/full" } else { "/dev/null" })?)
    }
}
