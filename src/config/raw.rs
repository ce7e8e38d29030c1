//! The job file exactly as written: plain serde structs that mirror the YAML.
//!
//! No logic lives here. Every field is optional and [`Spanned`] so that the validation pass
//! (`validate.rs`) can say *where* a value is wrong; unknown keys are rejected by serde
//! (`deny_unknown_fields`). There is deliberately no `untagged`, `flatten` or internally tagged
//! enum: serde buffers those and loses line numbers.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value as Json;
pub use serde_saphyr::Spanned;

/// The top level of a job file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJobFile {
    pub name: Option<Spanned<String>>,
    pub concurrency: Option<Spanned<i64>>,
    #[serde(default)]
    pub vars: IndexMap<Spanned<String>, Spanned<Json>>,
    #[serde(default)]
    pub limits: IndexMap<Spanned<String>, Spanned<i64>>,
    pub defaults: Option<RawSettings>,
    pub jobs: Option<IndexMap<Spanned<String>, Spanned<RawJob>>>,
}

/// The keys `defaults` may set; each job repeats them (see [`RawJob`]) to override them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub shell: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub retries: Option<Spanned<i64>>,
    pub retry_delay: Option<Spanned<String>>,
    pub kill_grace: Option<Spanned<String>>,
    pub env: Option<IndexMap<Spanned<String>, Spanned<String>>>,
    pub cwd: Option<Spanned<String>>,
    pub on_failure: Option<Spanned<String>>,
    pub start_gap: Option<Spanned<String>>,
}

/// One entry of `jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    pub command: Option<Spanned<String>>,
    pub commands: Option<Spanned<Vec<Spanned<String>>>>,
    pub range: Option<Spanned<RawRange>>,
    pub matrix: Option<Spanned<IndexMap<Spanned<String>, Spanned<Json>>>>,
    pub items: Option<Spanned<Json>>,
    #[serde(default)]
    pub needs: Vec<Spanned<String>>,
    pub concurrency: Option<Spanned<i64>>,
    #[serde(default)]
    pub uses: Vec<Spanned<String>>,

    // The same keys as `RawSettings`, so a job can override any default.
    pub shell: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub retries: Option<Spanned<i64>>,
    pub retry_delay: Option<Spanned<String>>,
    pub kill_grace: Option<Spanned<String>>,
    pub env: Option<IndexMap<Spanned<String>, Spanned<String>>>,
    pub cwd: Option<Spanned<String>>,
    pub on_failure: Option<Spanned<String>>,
    pub start_gap: Option<Spanned<String>>,
}

impl RawJob {
    /// The job's own settings, to be layered over `defaults`.
    pub fn take_settings(&mut self) -> RawSettings {
        RawSettings {
            shell: self.shell.take(),
            timeout: self.timeout.take(),
            retries: self.retries.take(),
            retry_delay: self.retry_delay.take(),
            kill_grace: self.kill_grace.take(),
            env: self.env.take(),
            cwd: self.cwd.take(),
            on_failure: self.on_failure.take(),
            start_gap: self.start_gap.take(),
        }
    }
}

/// `range: {from, to, step | chunks}`. Bounds are strings so they may be templates
/// (`to: "{{ max_id }}"`); a plain YAML integer arrives as its text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRange {
    pub from: Option<Spanned<String>>,
    pub to: Option<Spanned<String>>,
    pub step: Option<Spanned<i64>>,
    pub chunks: Option<Spanned<i64>>,
}
