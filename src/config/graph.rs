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
    // Quadratic in the number of jobs, which is small; it keeps the tie-break (file order) obvious.
    while order.len() < n {
        let next = (0..n).find(|&i| !placed[i] && needs[i].iter().all(|(d, _)| placed[*d]));
        match next {
            Some(i) => {
                placed[i] = true;
                order.push(i);
            }
            None => {
                report_cycle(ck, &jobs, &needs, &placed);
                return jobs;
            }
        }
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
/// come back to a job already seen: that loop is the cycle to report.
fn report_cycle(ck: &mut Checker, jobs: &[Job], needs: &[Vec<(usize, Option<Pos>)>], placed: &[bool]) {
    let Some(start) = (0..jobs.len()).find(|&i| !placed[i]) else {
        return;
    };
    let mut path = vec![start];
    let mut at_pos = None;
    loop {
        let current = *path.last().unwrap_or(&start);
        let Some(&(next, p)) = needs[current].iter().find(|(d, _)| !placed[*d]) else {
            return;
        };
        if let Some(first) = path.iter().position(|&j| j == next) {
            let cycle: Vec<&str> =
                path[first..].iter().chain(std::iter::once(&next)).map(|&j| jobs[j].name.as_str()).collect();
            let at = at_pos.or(p);
            ck.error(at, format!("`needs` forms a cycle: {}", cycle.join(" → ")));
            return;
        }
        at_pos = at_pos.or(p);
        path.push(next);
    }
}
