//! Errors that point into a job file.
//!
//! Every problem a user can make in a job file is reported as a [`Diagnostic`]: a message, the
//! file, and where in it (line and column, 1-based) when there is a place to point at. They are
//! rendered the way rustc renders errors, with the offending line and a caret, because a user
//! fixing a YAML file wants to see the line, not count to it.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a job file, 1-based, with the length of the thing it points at (for the caret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

impl Pos {
    pub fn from_location(loc: &serde_saphyr::Location) -> Option<Pos> {
        let line = u32::try_from(loc.line()).ok()?;
        let col = u32::try_from(loc.column()).ok()?;
        if line == 0 {
            return None;
        }
        let len = u32::try_from(loc.span().len()).unwrap_or(1);
        Some(Pos { line, col, len })
    }
}

/// Where byte `offset` of a scalar's value lies in the file, when its line can be found there
/// as it is (a plain or `|` scalar); otherwise the scalar's own place.
pub fn locate(text: &str, scalar: Option<Pos>, value: &str, offset: usize) -> Option<Pos> {
    let scalar = scalar?;
    let before = value.get(..offset)?;
    let value_line = before.matches('\n').count();
    let col_in_line = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
    let needle = value.lines().nth(value_line).filter(|l| !l.trim().is_empty());
    let found = needle.and_then(|needle| {
        let first = scalar.line as usize - 1 + value_line;
        text.lines().enumerate().skip(first).take(3).find_map(|(i, line)| {
            let from =
                if i + 1 == scalar.line as usize { line.char_indices().nth(scalar.col as usize - 1)?.0 } else { 0 };
            let at = line.get(from..)?.find(needle)? + from;
            Some((i, line[..at].chars().count()))
        })
    });
    Some(match found {
        Some((line, col)) => Pos { line: line as u32 + 1, col: (col + col_in_line) as u32 + 1, len: 1 },
        None => scalar,
    })
}

/// One problem in one job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub pos: Option<Pos>,
    pub message: String,
    /// The offending source line, kept so the error renders without reading the file again.
    pub source_line: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &Path, pos: Option<Pos>, message: impl Into<String>) -> Self {
        Diagnostic { file: file.to_path_buf(), pos, message: message.into(), source_line: None }
    }

    /// Attaches the line `pos` points at, taken from the file's text: cut when it is long (a
    /// line of megabytes is no help on a terminal), left out when the place is past the cut.
    pub fn with_source(mut self, text: &str) -> Self {
        const SHOWN: usize = 200;
        if let Some(pos) = self.pos {
            let line = text.lines().nth(pos.line as usize - 1);
            self.source_line = line.and_then(|line| match line.char_indices().nth(SHOWN) {
                None => Some(line.to_owned()),
                Some(_) if pos.col as usize > SHOWN - 20 => None,
                Some((cut, _)) => Some(format!("{} …", &line[..cut])),
            });
        }
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}

impl Diagnostic {
    /// The message, its place and the line with a caret under it; with `colour`, as rustc
    /// colours them (the word `error` red, the place and gutter blue, the caret red).
    fn write(&self, f: &mut fmt::Formatter<'_>, colour: bool) -> fmt::Result {
        let paint = |text: &str, style: console::Style| {
            if colour { style.force_styling(true).apply_to(text).to_string() } else { text.to_owned() }
        };
        let blue = || console::Style::new().blue().bold();
        writeln!(
            f,
            "{}{} {}",
            paint("error", console::Style::new().red().bold()),
            paint(":", console::Style::new().bold()),
            paint(&self.message, console::Style::new().bold())
        )?;
        match self.pos {
            Some(pos) => {
                write!(f, "  {} {}:{}:{}", paint("-->", blue()), self.file.display(), pos.line, pos.col)?;
                if let Some(line) = &self.source_line {
                    let gutter = " ".repeat(pos.line.to_string().len());
                    let caret_at = line
                        .chars()
                        .take(pos.col.saturating_sub(1) as usize)
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect::<String>();
                    let carets = paint(&"^".repeat(pos.len.clamp(1, 80) as usize), console::Style::new().red().bold());
                    let bar = paint(&format!("{gutter} |"), blue());
                    let numbered = paint(&format!("{} |", pos.line), blue());
                    write!(f, "\n{bar}\n{numbered} {line}\n{bar} {caret_at}{carets}")?;
                }
                Ok(())
            }
            None => write!(f, "  {} {}", paint("-->", blue()), self.file.display()),
        }
    }
}

/// Diagnostics as stderr shows them: coloured when colour is on for stderr (`--color`,
/// `NO_COLOR`, a terminal, `CI`: the rules the progress bar follows).
pub struct Painted<'a>(pub &'a Diagnostics);

impl fmt::Display for Painted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let colour = console::colors_enabled_stderr();
        for (i, d) in self.0.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            d.write(f, colour)?;
        }
        Ok(())
    }
}

/// Every problem found in a job file; validation reports them all at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// The closest candidate to a misspelt name, if one is close enough to be a plausible typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Close in spelling (a swapped, missing or extra letter), or sharing most of a prefix.
    let max_edits = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| strsim::damerau_levenshtein(name, c) <= max_edits || strsim::jaro_winkler(name, c) > 0.85)
        .min_by_key(|c| strsim::damerau_levenshtein(name, c))
}

/// `"; did you mean `x`?"` for a message, or nothing when no candidate is close.
pub fn hint<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(name, candidates).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_in_a_scalar_is_found_in_the_file() {
        let text =
            "jobs:\n  a:\n    command: echo `{{ x }}`\n  b:\n    command: |\n      echo a\n      echo `{{ x }}`\n";
        let pos = |line, col| Some(Pos { line, col, len: 1 });
        let one = "echo `{{ x }}`";
        assert_eq!(locate(text, pos(3, 14), one, 6), pos(3, 20));
        let block = "echo a\necho `{{ x }}`\n";
        assert_eq!(locate(text, pos(5, 14), block, 13), pos(7, 13));
        assert_eq!(locate(text, pos(3, 14), "not in the file", 4), pos(3, 14));
    }

    #[test]
    fn suggests_close_names_only() {
        let keys = ["command", "commands", "range", "matrix"];
        assert_eq!(did_you_mean("comand", keys), Some("command"));
        assert_eq!(did_you_mean("rnage", keys), Some("range"));
        assert_eq!(did_you_mean("zzz", keys), None);
        assert_eq!(did_you_mean("mdi", ["base", "mid", "other"]), Some("mid"));
    }

    #[test]
    fn renders_file_line_column_and_caret() {
        let d = Diagnostic::new(Path::new("a.yaml"), Some(Pos { line: 2, col: 3, len: 6 }), "bad")
            .with_source("jobs:\n  comand: x\n");
        let text = d.to_string();
        assert!(text.contains("a.yaml:2:3"), "{text}");
        assert!(text.contains("2 |   comand: x"), "{text}");
        assert!(text.contains("  | ^^^^^^") || text.contains("|   ^^^^^^"), "{text}");
    }
}
