//! `--color auto|always|never`, honouring `NO_COLOR` and `CLICOLOR_FORCE`.
//!
//! The choice is applied once, to the `console` crate's global switches, which indicatif's bars
//! and the reporters' `console::style` calls both follow.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` or `CI` is set; `CLICOLOR_FORCE` forces it.
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour stderr (where progress, lines and the summary go).
    pub fn enabled(self, stderr_is_terminal: bool) -> bool {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto if set("NO_COLOR") => false,
            ColorChoice::Auto if set("CLICOLOR_FORCE") => true,
            // A CI log gets no escape codes, even when a terminal stands in for it.
            ColorChoice::Auto if is_ci::uncached() => false,
            ColorChoice::Auto => stderr_is_terminal,
        }
    }

    pub fn apply(self) {
        let on = self.enabled(std::io::IsTerminal::is_terminal(&std::io::stderr()));
        console::set_colors_enabled(on);
        console::set_colors_enabled_stderr(on);
    }
}
