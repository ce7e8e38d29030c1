//! A job's source → the bindings of each of its tasks, lazily and with an exact count.
//!
//! Nothing here holds more than one task's bindings at a time (inline lists aside, which are in
//! the job file anyway), so a range of ten million partitions or an items file of any size is
//! planned in constant memory. An items file is read twice: once when its job is planned, to
//! count and check every record, once while running; a run reads its snapshot both times (see
//! [`super::inputs`]), so both reads see the same records.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use minijinja::Value;

use crate::plan::template::json_value;
use serde_json::Value as Json;

use super::inputs::Snapshot;
use super::partition::Partitions;
use crate::config::{Axis, ItemsFormat, MatrixSpec};

/// One task's own names (`start`, `end`, `item`, matrix keys).
pub type Bindings = Vec<(Arc<str>, Value)>;

/// How a job's tasks are produced.
#[derive(Debug)]
pub enum Expansion {
    Single,
    /// `commands: [...]`: one task per entry, no bindings.
    Commands(u64),
    Range(Partitions),
    Matrix(Matrix),
    Inline(Vec<Value>),
    File {
        /// What is read: the file, or a run's snapshot of it.
        items: Snapshot,
        /// The file as the job file names it, for messages.
        shown: PathBuf,
        format: ItemsFormat,
        count: u64,
    },
    /// An items file read when its job becomes ready (a job it needs may write it): no tasks
    /// until then. `read`: the file read (a snapshot) and its count.
    WhenReady {
        /// The items file, or how the items command is named in messages.
        source: PathBuf,
        format: ItemsFormat,
        read: OnceLock<(Snapshot, u64)>,
        /// `items: {sh: …}`: the command whose output the items are (a template over the vars).
        command: Option<String>,
    },
}

impl Expansion {
    pub fn count(&self) -> u64 {
        match self {
            Expansion::Single => 1,
            Expansion::Commands(n) => *n,
            Expansion::Range(p) => p.count(),
            Expansion::Matrix(m) => m.count,
            Expansion::Inline(items) => items.len() as u64,
            Expansion::File { count, .. } => *count,
            Expansion::WhenReady { read, .. } => read.get().map_or(0, |(_, count)| *count),
        }
    }

    /// The bindings of every task, in order. An error is about one task (a bad record).
    pub fn bindings(&self) -> Box<dyn Iterator<Item = Result<Bindings, String>> + Send + '_> {
        match self {
            Expansion::Single | Expansion::Commands(_) => Box::new((0..self.count()).map(|_| Ok(Vec::new()))),
            Expansion::Range(p) => {
                let (start_name, end_name): (Arc<str>, Arc<str>) = (Arc::from("start"), Arc::from("end"));
                Box::new((0..p.count()).map(move |i| {
                    let (start, end) = p.get(i);
                    Ok(vec![(start_name.clone(), Value::from(start)), (end_name.clone(), Value::from(end))])
                }))
            }
            Expansion::Matrix(m) => Box::new(m.iter().map(Ok)),
            Expansion::Inline(items) => Box::new(items.iter().map(|v| Ok(vec![(Arc::from("item"), v.clone())]))),
            Expansion::File { items: snapshot, shown, format, .. } => items(snapshot, shown, *format),
            Expansion::WhenReady { source, format, read, .. } => match read.get() {
                Some((snapshot, _)) => items(snapshot, source, *format),
                None => Box::new(std::iter::empty()),
            },
        }
    }
}

fn items(
    snapshot: &Snapshot,
    shown: &Path,
    format: ItemsFormat,
) -> Box<dyn Iterator<Item = Result<Bindings, String>> + Send> {
    if format == ItemsFormat::Bounds {
        return match bounds(snapshot, shown) {
            Ok(bounds) => {
                let (start, end): (Arc<str>, Arc<str>) = (Arc::from("start"), Arc::from("end"));
                Box::new(partitions(&bounds).into_iter().map(move |(first, last)| {
                    Ok(vec![(start.clone(), Value::from(first)), (end.clone(), Value::from(last))])
                }))
            }
            Err(e) => Box::new(std::iter::once(Err(e))),
        };
    }
    match records(snapshot, shown, format) {
        Ok(records) => Box::new(records.map(|r| r.map(|v| vec![(Arc::from("item"), v)]))),
        Err(e) => Box::new(std::iter::once(Err(e))),
    }
}

/// Counts the records of an items file, checking each one, so a bad record is a plan error
/// (with its line) rather than a surprise in the middle of a run. Messages name the file as
/// `shown` (a snapshot is read in its stead).
pub fn count_records(snapshot: &Snapshot, shown: &Path, format: ItemsFormat) -> Result<u64, String> {
    if format == ItemsFormat::Bounds {
        return bounds(snapshot, shown).map(|b| partitions(&b).len() as u64);
    }
    let mut n = 0;
    for record in records(snapshot, shown, format)? {
        record?;
        n += 1;
    }
    Ok(n)
}

/// The bounds a command printed (`range: {bounds: …}`): integers, one a line (blank lines
/// skipped), ascending; a value repeated (a key value so common that it fills more than a
/// partition) is one bound.
fn bounds(snapshot: &Snapshot, shown: &Path) -> Result<Vec<i128>, String> {
    let file = snapshot.open().map_err(|e| format!("cannot open `{}`: {e}", shown.display()))?;
    let mut bounds: Vec<(usize, i128)> = Vec::new();
    for (n, line) in file.lines().enumerate() {
        let line = line.map_err(|e| format!("{}:{}: {e}", shown.display(), n + 1))?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let value: i128 = text.parse().map_err(|_| {
            format!("{}:{}: `{text}` is not an integer: each line is a partition's first value", shown.display(), n + 1)
        })?;
        match bounds.last() {
            Some(&(at, before)) if value < before => {
                return Err(format!(
                    "{}:{}: the bounds are not ascending: {value} comes after {before} (line {})",
                    shown.display(),
                    n + 1,
                    at + 1
                ));
            }
            Some(&(_, before)) if value == before => {}
            _ => bounds.push((n, value)),
        }
    }
    Ok(bounds.into_iter().map(|(_, v)| v).collect())
}

/// Partitions from ascending, distinct bounds: each bound starts one, which ends before the
/// next; the last ends at the last bound, taken in. One bound is a partition of one value.
/// Together they hold every integer from the first bound to the last once.
pub fn partitions(bounds: &[i128]) -> Vec<(i128, i128)> {
    match bounds {
        [] => Vec::new(),
        [only] => vec![(*only, *only)],
        _ => {
            let last = bounds.len() - 2;
            bounds
                .windows(2)
                .enumerate()
                .map(|(i, pair)| (pair[0], if i == last { pair[1] } else { pair[1] - 1 }))
                .collect()
        }
    }
}

type Records = Box<dyn Iterator<Item = Result<Value, String>> + Send>;

fn records(snapshot: &Snapshot, shown: &Path, format: ItemsFormat) -> Result<Records, String> {
    let file = snapshot.open().map_err(|e| format!("cannot open items file `{}`: {e}", shown.display()))?;
    let shown = shown.display().to_string();
    match format {
        // Bounds are read by `bounds`; as lines, they are their text.
        ItemsFormat::Lines | ItemsFormat::Jsonl | ItemsFormat::Bounds => {
            let lines = file.lines().enumerate().filter_map(move |(n, line)| {
                let line = match line {
                    Ok(line) => line,
                    Err(e) => return Some(Err(format!("{shown}:{}: {e}", n + 1))),
                };
                let line = line.strip_suffix('\r').unwrap_or(&line);
                if line.trim().is_empty() {
                    return None;
                }
                Some(match format {
                    ItemsFormat::Jsonl => crate::config::json_as_written(line)
                        .map(|v| json_value(&v))
                        .map_err(|e| format!("{shown}:{}: not a JSON value: {e}", n + 1)),
                    _ => Ok(Value::from(line)),
                })
            });
            Ok(Box::new(lines))
        }
        ItemsFormat::Csv => {
            let mut reader = csv::Reader::from_reader(file);
            let headers = reader.headers().map_err(|e| format!("{shown}: {e}"))?.clone();
            let headers: Vec<String> = headers.iter().map(str::to_owned).collect();
            Ok(Box::new(reader.into_records().map(move |record| {
                let record = record.map_err(|e| format!("{shown}: {e}"))?;
                let row: serde_json::Map<String, Json> =
                    headers.iter().cloned().zip(record.iter().map(Json::from)).collect();
                Ok(json_value(&Json::Object(row)))
            })))
        }
    }
}

/// Largest product that `exclude` is applied to: planning counts the surviving combinations
/// by going through them, which must stay quick.
const MAX_EXCLUDE_SCAN: u64 = 10_000_000;

/// A matrix: the cartesian product of its axes (last key fastest), minus `exclude`, plus
/// `include`. Combinations are decoded from a running index, never stored.
#[derive(Debug)]
pub struct Matrix {
    axes: Vec<(Arc<str>, AxisValues)>,
    exclude: Vec<Vec<(String, Json)>>,
    include: Vec<Bindings>,
    product: u64,
    count: u64,
}

#[derive(Debug)]
enum AxisValues {
    List(Vec<Json>),
    Range { from: i64, step: u64, len: u64 },
}

impl AxisValues {
    fn len(&self) -> u64 {
        match self {
            AxisValues::List(l) => l.len() as u64,
            AxisValues::Range { len, .. } => *len,
        }
    }

    fn get(&self, i: u64) -> Json {
        match self {
            AxisValues::List(l) => l[i as usize].clone(),
            AxisValues::Range { from, step, .. } => Json::from((*from as i128 + (i * step) as i128) as i64),
        }
    }
}

impl Matrix {
    pub fn new(spec: &MatrixSpec) -> Result<Matrix, String> {
        let axes: Vec<(Arc<str>, AxisValues)> = spec
            .axes
            .iter()
            .map(|(name, axis)| {
                let values = match axis {
                    Axis::List(l) => AxisValues::List(l.clone()),
                    Axis::Range { from, to, step } => AxisValues::Range {
                        from: *from,
                        step: *step,
                        len: ((*to as i128 - *from as i128) as u64) / step + 1,
                    },
                };
                (Arc::from(name.as_str()), values)
            })
            .collect();
        let product = if axes.is_empty() {
            0
        } else {
            axes.iter().try_fold(1u64, |acc, (_, a)| acc.checked_mul(a.len())).ok_or("the matrix is too large")?
        };
        let exclude: Vec<Vec<(String, Json)>> =
            spec.exclude.iter().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).collect();
        let include = spec
            .include
            .iter()
            .map(|m| m.iter().map(|(k, v)| (Arc::from(k.as_str()), json_value(v))).collect())
            .collect();
        if !exclude.is_empty() && product > MAX_EXCLUDE_SCAN {
            return Err(format!(
                "a matrix with `exclude` may have at most {MAX_EXCLUDE_SCAN} combinations (this one has {product}): \
                 counting what is left means going through them all"
            ));
        }
        let mut matrix = Matrix { axes, exclude, include, product, count: 0 };
        let kept = if matrix.exclude.is_empty() {
            product
        } else {
            (0..product).filter(|&i| !matrix.excluded(&matrix.combination(i))).count() as u64
        };
        matrix.count = kept + matrix.include.len() as u64;
        Ok(matrix)
    }

    fn combination(&self, mut index: u64) -> Vec<Json> {
        let mut values = vec![Json::Null; self.axes.len()];
        for (slot, (_, axis)) in values.iter_mut().zip(&self.axes).rev() {
            *slot = axis.get(index % axis.len());
            index /= axis.len();
        }
        values
    }

    fn excluded(&self, combination: &[Json]) -> bool {
        self.exclude.iter().any(|rule| {
            rule.iter().all(|(key, pattern)| {
                self.axes.iter().position(|(k, _)| &**k == key).is_some_and(|i| matches(pattern, &combination[i]))
            })
        })
    }

    fn iter(&self) -> impl Iterator<Item = Bindings> + Send + '_ {
        let product = (0..self.product).filter_map(move |i| {
            let combination = self.combination(i);
            (!self.excluded(&combination))
                .then(|| self.axes.iter().zip(combination).map(|((k, _), v)| (k.clone(), json_value(&v))).collect())
        });
        product.chain(self.include.iter().cloned())
    }
}

/// An `exclude` value matches a combination's value when equal; a map matches a map that has
/// at least its keys with matching values (so `{name: type1}` excludes `{name: type1, weight: 2}`).
fn matches(pattern: &Json, value: &Json) -> bool {
    match (pattern, value) {
        (Json::Object(p), Json::Object(v)) => p.iter().all(|(k, pv)| v.get(k).is_some_and(|vv| matches(pv, vv))),
        (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
        _ => pattern == value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;
    use serde_json::json;

    fn spec(axes: Vec<(&str, Axis)>, exclude: Vec<Json>, include: Vec<Json>) -> MatrixSpec {
        let maps = |v: Vec<Json>| -> Vec<IndexMap<String, Json>> {
            v.into_iter()
                .map(|m| m.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .collect()
        };
        MatrixSpec {
            axes: axes.into_iter().map(|(k, a)| (k.to_owned(), a)).collect(),
            exclude: maps(exclude),
            include: maps(include),
        }
    }

    fn rendered(m: &Matrix) -> Vec<String> {
        m.iter().map(|b| b.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")).collect()
    }

    #[test]
    fn product_is_in_file_order_last_key_fastest() {
        let m = Matrix::new(&spec(
            vec![("a", Axis::List(vec![json!("x"), json!("y")])), ("n", Axis::Range { from: 1, to: 3, step: 1 })],
            vec![],
            vec![],
        ))
        .unwrap();
        assert_eq!(m.count, 6);
        assert_eq!(rendered(&m), ["a=x,n=1", "a=x,n=2", "a=x,n=3", "a=y,n=1", "a=y,n=2", "a=y,n=3"]);
    }

    #[test]
    fn exclude_drops_and_include_adds() {
        let m = Matrix::new(&spec(
            vec![
                ("k", Axis::List(vec![json!({"name": "t1", "w": 2}), json!({"name": "t2", "w": 3})])),
                ("n", Axis::List(vec![json!(1), json!(2)])),
            ],
            vec![json!({"k": {"name": "t1"}, "n": 2})],
            vec![json!({"k": {"name": "t9"}, "n": 7})],
        ))
        .unwrap();
        assert_eq!(m.count, 4);
        assert_eq!(m.iter().count(), 4);
        let all = rendered(&m);
        assert!(!all.iter().any(|s| s.contains("t1") && s.ends_with("n=2")), "{all:?}");
        assert!(all.last().unwrap().contains("t9"));
    }

    #[test]
    fn exclude_on_a_huge_matrix_is_refused_rather_than_scanned() {
        let big = Axis::Range { from: 0, to: 1_000_000, step: 1 };
        let err = Matrix::new(&spec(vec![("a", big.clone()), ("b", big)], vec![json!({"a": 1})], vec![])).unwrap_err();
        assert!(err.contains("at most"), "{err}");
    }
}

#[cfg(test)]
mod bounds_tests {
    use super::*;
    use proptest::prelude::*;

    fn read(text: &str) -> Result<Vec<i128>, String> {
        bounds(&Snapshot::Memory(Arc::from(text.as_bytes())), Path::new("bounds"))
    }

    #[test]
    fn bounds_are_ascending_integers_a_repeated_one_counted_once() {
        assert_eq!(read("1\n\n5\n5\n 9 \n"), Ok(vec![1, 5, 9]));
        assert_eq!(partitions(&[1, 5, 9]), [(1, 4), (5, 9)]);
        assert_eq!(partitions(&[7]), [(7, 7)]);
        assert_eq!(partitions(&[]), []);
        assert_eq!(read("3\n2\n"), Err("bounds:2: the bounds are not ascending: 2 comes after 3 (line 1)".into()));
        assert!(read("1\nNULL\n").unwrap_err().contains("bounds:2: `NULL` is not an integer"));
        let huge = "-170141183460469231731687303715884105728\n170141183460469231731687303715884105727\n";
        assert_eq!(read(huge).map(|b| partitions(&b).len()), Ok(1), "i128's whole range");
    }

    proptest! {
        /// Whatever the key values (duplicates, runs, gaps), bounds taken from them give
        /// partitions that hold every value from the first bound to the last exactly once:
        /// each key value falls in one partition.
        #[test]
        fn every_value_falls_in_exactly_one_partition(
            mut keys in proptest::collection::vec(-50i128..50, 1..200),
            every in 1usize..40,
        ) {
            keys.sort_unstable();
            // As `ntile` gives them: every `every`th value starts a bucket, and the maximum ends the last.
            let mut printed: Vec<String> = keys.iter().step_by(every).map(i128::to_string).collect();
            printed.push(keys[keys.len() - 1].to_string());
            let bounds = read(&printed.join("\n")).expect("ascending");
            let parts = partitions(&bounds);
            for key in &keys {
                let holding = parts.iter().filter(|(first, last)| first <= key && key <= last).count();
                prop_assert_eq!(holding, 1, "key {} in {:?}", key, parts);
            }
            for pair in parts.windows(2) {
                prop_assert_eq!(pair[0].1 + 1, pair[1].0, "no gap, no overlap: {:?}", parts);
            }
        }
    }
}
