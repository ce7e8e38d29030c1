//! A planned task: everything the runner needs to start it.

use super::expand::Bindings;

/// One unit of work, rendered and ready to run.
#[derive(Debug, Clone, Default)]
pub struct Task {
    /// Index of its job in the plan.
    pub job: usize,
    /// 0-based within its job.
    pub index: u64,
    /// 0-based position in the run's order of tasks, which `--output ordered` prints in: set
    /// by the dispatcher as it takes the task (jobs planned when they become ready come after
    /// those planned at the start), 0 until then.
    pub seq: u64,
    /// Identity across runs (see `identity.rs`): what `--resume` recognises.
    pub key: u64,
    /// How it is shown: its job's `label` template, by default its values when short
    /// (`test[python=3.12]`), else `export[3]`, or the job's name for a job of one task.
    /// Display only: what identifies it is its key.
    pub label: String,
    /// Its job is one task (`BATCHRUN_TASK` is then the job's name).
    pub single: bool,
    /// The command as rendered, as `plan` shows it.
    pub rendered: String,
    /// The job's `env`, rendered for this task.
    pub env: Vec<(String, String)>,
    /// The task's own bindings (`start`, `end`, `item`, matrix keys).
    pub bindings: Bindings,
    /// What it writes, when its job declares a `product`.
    pub product: Option<Product>,
    /// Its `verify` command, rendered, when its job declares one.
    pub verify: Option<String>,
}

/// The longest file name most filesystems take.
const NAME_MAX: usize = 255;

/// The file a task writes (`product:`), and the temporary its command writes instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Where it goes, as rendered: relative to the task's `cwd` unless absolute.
    pub path: std::path::PathBuf,
    /// `{{ product }}`: a dot-file beside it, keeping its whole suffix (`.csv.gz`) so that
    /// tools that pick a format by the suffix write the same file, while `*.csv` and `ls`
    /// pass it by. Named from the path, so a task's command (and so its key) is the same in
    /// every run.
    pub temp: std::path::PathBuf,
}

impl Product {
    pub fn of(path: &str) -> Product {
        let path = std::path::PathBuf::from(path);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // The suffix starts at the first dot that does not start the name.
        let (base, suffix) = match name.char_indices().skip(1).find(|&(_, c)| c == '.') {
            Some((at, _)) => name.split_at(at),
            None => (name.as_str(), ""),
        };
        let tag = xxhash_rust::xxh3::xxh3_64(path.as_os_str().as_encoded_bytes()) as u32;
        let temp = path.with_file_name(format!(".{base}.batchrun-{tag:08x}{suffix}"));
        Product { path, temp }
    }

    /// Why this product cannot be written, if it cannot: it names a folder, or a name too long
    /// for its temporary (which is the name and 19 bytes more) on a filesystem's usual limit.
    pub fn refused(&self) -> Option<String> {
        let text = self.path.as_os_str().as_encoded_bytes();
        let name = self.path.file_name().filter(|_| !text.ends_with(b"/") && !text.ends_with(b"/."));
        match name {
            None => Some(format!("`{}` names a folder: a product is a file", self.path.display())),
            Some(_) if matches!(self.path.components().next_back(), Some(std::path::Component::ParentDir)) => {
                Some(format!("`{}` names a folder: a product is a file", self.path.display()))
            }
            Some(_) => {
                let temp = self.temp.file_name().map_or(0, |n| n.len());
                (temp > NAME_MAX).then(|| {
                    format!(
                        "`{}`: its name is too long for the temporary beside it ({temp} bytes, over {NAME_MAX})",
                        self.path.display()
                    )
                })
            }
        }
    }

    /// Whether `name` is the name of a product's temporary (what a cleanup may remove):
    /// `.BASE.batchrun-XXXXXXXX` and a suffix, the tag eight hex digits.
    pub fn is_temp_name(name: &str) -> bool {
        let Some(rest) = name.strip_prefix('.') else { return false };
        rest.match_indices(".batchrun-").any(|(at, marker)| {
            let tag = &rest[at + marker.len()..];
            at > 0
                && tag.len() >= 8
                && tag.as_bytes()[..8].iter().all(u8::is_ascii_hexdigit)
                && (tag.len() == 8 || tag.as_bytes()[8] == b'.')
        })
    }
}

/// `path` written one way: `.` and repeated `/` dropped, `..` taken back where it follows a
/// name (no link is followed), so that `out/./a.csv` and `out//a.csv` are `out/a.csv`.
pub fn normal(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            part => out.push(part),
        }
    }
    out
}

/// A task whose command could not be rendered (say, an item without the field the template
/// reads). It fails without running, and says why.
#[derive(Debug, Clone)]
pub struct BrokenTask {
    pub job: usize,
    pub index: u64,
    pub label: String,
    pub error: String,
    /// The value itself cannot be placed in the command (not a mistake of the template), so
    /// only this task fails, even when it is the job's first.
    pub unplaceable: bool,
    /// The `env` value that could not be rendered, when it was not the command.
    pub env: Option<String>,
}

pub type PlannedTask = Result<Task, BrokenTask>;

pub fn label(job: &str, index: u64, single: bool) -> String {
    if single { job.to_owned() } else { format!("{job}[{index}]") }
}

impl Task {
    /// The task by its place, as `BATCHRUN_TASK` gives it: `export[3]`, or the job's name.
    pub fn place(&self, job: &str) -> String {
        label(job, self.index, self.single)
    }
}

/// Values longer than this in all make a default label show the task's index instead.
pub const LABEL_VALUES: usize = 40;

/// A matrix or items task's values, as its default label shows them: `python=3.12,db=postgres`
/// for named values (a matrix, or an item that is a map), the value itself for a plain item;
/// `None` when they are longer than [`LABEL_VALUES`] or are not plain (a list, a nested map).
/// Control characters are escaped, so a value cannot start a line of its own.
pub fn values_label(own: &Bindings) -> Option<String> {
    use minijinja::value::ValueKind;
    let plain = |v: &minijinja::Value| match v.kind() {
        ValueKind::String | ValueKind::Number | ValueKind::Bool | ValueKind::None => Some(v.to_string()),
        _ => None,
    };
    let mut text = String::new();
    let mut add = |name: &str, value: &minijinja::Value| -> Option<()> {
        let value = plain(value)?;
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(name);
        text.push('=');
        text.push_str(&value);
        (text.chars().count() <= LABEL_VALUES).then_some(())
    };
    match own.as_slice() {
        [(name, item)] if &**name == "item" && item.kind() == ValueKind::Map => {
            for key in item.try_iter().ok()? {
                add(&key.to_string(), &item.get_item(&key).ok()?)?;
            }
        }
        // A whole number alone would read as the task's place (`f[2]` for the item 2 at index
        // 1): it is named.
        [(name, item)] if &**name == "item" => {
            let text = plain(item).filter(|t| t.chars().count() <= LABEL_VALUES)?;
            let named = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
            return Some(if named { format!("item={text}") } else { escaped(&text) });
        }
        pairs => {
            for (name, value) in pairs {
                add(name, value)?;
            }
        }
    }
    (!text.is_empty()).then(|| escaped(&text))
}

fn escaped(text: &str) -> String {
    crate::words::escape_controls(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::Value;
    use std::sync::Arc;

    fn own(pairs: &[(&str, Value)]) -> Bindings {
        pairs.iter().map(|(k, v)| (Arc::from(*k), v.clone())).collect()
    }

    #[test]
    fn a_default_label_shows_short_plain_values_and_escapes_control_characters() {
        let matrix = own(&[("python", Value::from("3.12")), ("db", Value::from("postgres"))]);
        assert_eq!(values_label(&matrix).as_deref(), Some("python=3.12,db=postgres"));
        let url = own(&[("item", Value::from("https://example.org/a"))]);
        assert_eq!(values_label(&url).as_deref(), Some("https://example.org/a"));
        assert_eq!(values_label(&own(&[("item", Value::from(2))])).as_deref(), Some("item=2"), "not a place");
        assert_eq!(values_label(&own(&[("item", Value::from("07"))])).as_deref(), Some("item=07"));
        let record =
            own(&[("item", serde_json::from_value::<Value>(serde_json::json!({"id": 7, "name": "x"})).unwrap())]);
        assert_eq!(values_label(&record).as_deref(), Some("id=7,name=x"));
        let hostile = own(&[("item", Value::from("a\n::error::b\u{1b}[2J"))]);
        assert_eq!(values_label(&hostile).as_deref(), Some("a\\n::error::b\\u{1b}[2J"));
        // Long, nested or no values: the index instead.
        assert_eq!(values_label(&own(&[("item", Value::from("x".repeat(LABEL_VALUES + 1)))])), None);
        assert_eq!(values_label(&own(&[("item", Value::from(vec![1, 2]))])), None);
        let wide = own(&[("a", Value::from("x".repeat(30))), ("b", Value::from("y".repeat(10)))]);
        assert_eq!(values_label(&wide), None);
        assert_eq!(values_label(&Vec::new()), None);
    }

    #[test]
    fn a_temporary_keeps_the_whole_suffix_and_only_its_name_reads_as_one() {
        let p = Product::of("out/part-3.csv.gz");
        let name = p.temp.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(name.starts_with(".part-3.batchrun-") && name.ends_with(".csv.gz"), "{name}");
        assert!(Product::is_temp_name(&name));
        assert!(Product::is_temp_name(Product::of("x").temp.file_name().unwrap().to_str().unwrap()));
        for not_ours in [
            ".user.batchrun-notes",
            ".batchrun-x",
            ".a.batchrun-1234567",
            "a.batchrun-12345678",
            ".a.batchrun-1234567g",
        ] {
            assert!(!Product::is_temp_name(not_ours), "{not_ours}");
        }
    }
}
