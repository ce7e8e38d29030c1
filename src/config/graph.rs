//! The `needs` graph: a stable topological order, and cycles reported as errors.

use super::model::Job;
use super::validate::Checker;
use crate::diagnostic::Pos;

/// Orders `jobs` so that every job comes after the jobs it needs, keeping file order wherever
/// the graph allows (so `plan` and `--output ordered` follow the file). `needs[i]` lists job
/// `i`'s needs as indices in file order, with where each was written.
pub(super) fn order_by_needs(ck: &mut Checker, mut jobs: Vec<Job>, needs: Vec<Vec<(usize, Option<Pos>)>>) -> Vec<Job> {
    let n = jobs.len();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut cycles = false;
    // Quadratic in the number of jobs, which is small; it keeps the tie-break (file order) obvious.
    while placed.iter().any(|p| !p) {
        let next = (0..n).find(|&i| !placed[i] && needs[i].iter().all(|(d, _)| placed[*d]));
        match next {
            Some(i) => {
                placed[i] = true;
                order.push(i);
            }
            None => {
                // Set the cycle aside and go on, so that every cycle is reported in one pass.
                let cycle = report_cycle(ck, &jobs, &needs, &placed);
                if cycle.is_empty() {
                    return jobs;
                }
                cycle.into_iter().for_each(|j| placed[j] = true);
                cycles = true;
            }
        }
    }
    if cycles {
        return jobs;
    }
    let mut new_index = vec![0; n];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    for (old, job) in jobs.iter_mut().enumerate() {
        let mut deps: Vec<usize> = needs[old].iter().map(|(d, _)| new_index[*d]).collect();
        deps.sort_unstable();
        deps.dedup();
        job.needs = deps;
    }
    let mut slots: Vec<Option<Job>> = jobs.into_iter().map(Some).collect();
    order.iter().filter_map(|&old| slots[old].take()).collect()
}

/// Every unplaced job waits on another unplaced one, so walking `needs` from any of them must
/// come back to a job already seen: that loop is the cycle to report. Returns its jobs.
fn report_cycle(ck: &mut Checker, jobs: &[Job], needs: &[Vec<(usize, Option<Pos>)>], placed: &[bool]) -> Vec<usize> {
    let Some(start) = (0..jobs.len()).find(|&i| !placed[i]) else {
        return Vec::new();
    };
    let mut path = vec![start];
    // Where each step of `path` was written: `edges[k]` is job `path[k]`'s need of `path[k + 1]`.
    let mut edges = Vec::new();
    loop {
        let current = *path.last().unwrap_or(&start);
        let Some(&(next, p)) = needs[current].iter().find(|(d, _)| !placed[*d]) else {
            return Vec::new();
        };
        edges.push(p);
        if let Some(first) = path.iter().position(|&j| j == next) {
            let cycle: Vec<&str> =
                path[first..].iter().chain(std::iter::once(&next)).map(|&j| jobs[j].name.as_str()).collect();
            // The cycle's first need, not that of a job on the way into it.
            ck.error(edges[first], format!("`needs` forms a cycle: {}", cycle.join(" → ")));
            return path.split_off(first);
        }
        path.push(next);
    }
}
