//! Reporters turn run events into what people (and CI logs) see.
//!
//! One file per format. The progress bar is for terminals; anything else (a pipe, a file, `CI`
//! set) gets plain lines with no escape codes, a separate reporter rather than a hidden bar
//! (indicatif's hidden bar drops everything printed through it).

pub mod color;
pub mod eta;
pub mod events_json;
mod format;
pub mod github;
pub mod html;
pub mod plain;
pub mod progress;
pub mod report;
pub mod summary;
pub mod warnings;

use std::io::IsTerminal;

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on a terminal; plain lines otherwise or when `CI` is set.
    Auto,
    Bar,
    Plain,
    None,
}

impl ProgressMode {
    /// `auto` resolved: the bar only on a real terminal outside CI.
    pub fn resolve(self) -> ProgressMode {
        match self {
            ProgressMode::Auto => {
                let term = std::env::var("TERM").unwrap_or_default();
                if std::io::stderr().is_terminal() && !is_ci::uncached() && term != "dumb" {
                    ProgressMode::Bar
                } else {
                    ProgressMode::Plain
                }
            }
            other => other,
        }
    }
}
