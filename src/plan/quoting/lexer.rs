//! A reader of shell syntax that knows, at every point of a command template's literal text,
//! which quoting context the shell is in.
//!
//! It reads only the template's own text (never a value), one character at a time, and keeps a
//! stack of frames: the command line, `"…"`, `'…'`, `$'…'`, `$(…)`, `(…)`, `${…}`, `$((…))`,
//! backticks, a `#` comment, `[[ … ]]` and here-document bodies. At each `{{ … }}` it says
//! where the value lands ([`Spot`]), or refuses the place with a message that says what to
//! write instead. Each command frame also follows its simple command ([`Simple`]), which
//! decides whether the place is on the allowlist. It is deliberately strict: where dash and bash could read the text
//! differently, or where this reader could lose track, it refuses rather than guess, because a
//! wrong guess is how a value becomes code.

use std::sync::Arc;

use super::place::{self, Names, Sep, Simple, Target};

/// Which shell will read the command: under `Posix` only what dash and bash read alike is
/// accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Posix,
    Bash,
}

/// Where a value lands, as far as escaping goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spot {
    /// A bare word of a command (also inside `$(…)` and `(…)`).
    Word,
    /// Inside `"…"`.
    Double,
    /// Inside `'…'`.
    Single,
    /// Inside bash's `$'…'`.
    AnsiC,
    /// A here-document body with an unquoted delimiter; `prefix` is the body line's text before
    /// the value when it is known exactly.
    HereDoc { delimiter: String, prefix: Option<String>, nested: bool },
}

/// What a `{{ … }}` writes, as far as the template tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A value, escaped for its place.
    Escaped,
    /// `{{ x | raw }}`: shell code by the author's choice.
    Raw,
    /// A value batchrun makes (see [`super::analyze()`]): digits, a sign and name characters,
    /// plain text wherever a number or code is read.
    Made,
}

/// A here-document announced by `<<WORD` whose body has not started yet, or is being read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HereSpec {
    delimiter: String,
    /// Any part of the delimiter word was quoted: the body is not expanded.
    quoted: bool,
    /// `<<-`: leading tabs are stripped from every body line.
    strip: bool,
    /// The command reads its standard input as shell code (`bash <<EOF`).
    code: bool,
}

/// What the last character started, to be settled by the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pend {
    None,
    /// `\`.
    Escape,
    /// `$`.
    Dollar,
    /// `$(`, which may still become `$((`.
    DollarParen,
    /// `<`, which may become `<<`.
    Less,
    /// `<<`, which may become `<<<` or `<<-`.
    LessLess,
    /// `(` at the start of a word, which may become `((`.
    Paren,
    /// `>`, which may become `>>`, `>|` or `>&`.
    Great,
    /// `&`, which may become `&&` or bash's `&>`.
    Amp,
}

/// How far a command frame is into its current word (for `#` comments and keywords).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    Start,
    /// The word's literal text so far (only while it could still be a keyword).
    Text(String),
    /// Inside a word that is no keyword.
    Opaque,
    /// In a word that began with an unquoted `~` and has no `/` yet: a tilde-prefix, which
    /// the shell reads as a user's home folder (`~name`).
    Tilde,
    /// After branches that disagree: maybe at a word's start, maybe not.
    Unsure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmdKind {
    Top,
    /// `$(…)`.
    Subst,
    /// `<(…)`, `>(…)`: a process substitution, inside a word.
    Paren,
    /// `(…)`: a subshell, or a function's `()`; a new command follows it.
    Subshell,
    /// `[[ … ]]`.
    Test,
    /// `NAME=(…)`: an array's elements.
    Array,
}

/// Reading the word after `<<`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DelimReader {
    strip: bool,
    text: String,
    quoted: bool,
    started: bool,
    quote: DelimQuote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DelimQuote {
    No,
    Single,
    Double,
    DoubleEscape,
    Escape,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Frame {
    Cmd {
        kind: CmdKind,
        word: Word,
        pend: Pend,
        delim: Option<DelimReader>,
        heredocs: Vec<HereSpec>,
        simple: Simple,
    },
    Double {
        pend: Pend,
    },
    Single,
    AnsiC {
        escape: bool,
    },
    Backtick {
        escape: bool,
    },
    /// `${…}`: only a nested `${` nests (a frame of its own), and the first `}` ends it.
    Param {
        in_double: bool,
        pend: Pend,
    },
    Arith {
        depth: u32,
        closing: bool,
        pend: Pend,
    },
    /// Bash's old arithmetic `$[…]`.
    OldArith {
        depth: u32,
    },
    Comment,
    HereDoc {
        spec: HereSpec,
        rest: Vec<HereSpec>,
        pend: Pend,
        line_start: bool,
    },
}

impl Frame {
    fn cmd(kind: CmdKind) -> Frame {
        Frame::Cmd {
            kind,
            word: Word::Start,
            pend: Pend::None,
            delim: None,
            heredocs: Vec::new(),
            simple: Simple::default(),
        }
    }

    /// How a message names the place.
    fn describe(&self) -> &'static str {
        match self {
            Frame::Cmd { kind: CmdKind::Top, .. } => "the command line",
            Frame::Cmd { kind: CmdKind::Subst, .. } => "`$(…)`",
            Frame::Cmd { kind: CmdKind::Paren, .. } => "`<(…)`",
            Frame::Cmd { kind: CmdKind::Subshell, .. } => "`(…)`",
            Frame::Cmd { kind: CmdKind::Test, .. } => "`[[ … ]]`",
            Frame::Cmd { kind: CmdKind::Array, .. } => "an array assignment `NAME=(…)`",
            Frame::Double { .. } => "double quotes",
            Frame::Single => "single quotes",
            Frame::AnsiC { .. } => "`$'…'`",
            Frame::Backtick { .. } => "backticks",
            Frame::Param { .. } => "`${…}`",
            Frame::Arith { .. } => "arithmetic `$((…))`",
            Frame::OldArith { .. } => "arithmetic `$[…]`",
            Frame::Comment => "a `#` comment",
            Frame::HereDoc { .. } => "a here-document",
        }
    }
}

/// A here-document body line as far as it is known: exactly, or only known not to be able to
/// become the delimiter any more (after a value was checked, or branches that differ).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Known(String),
    Unknown,
}

/// The reader's whole state; cloned at `{% if %}`/`{% for %}` and compared where branches meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexer {
    dialect: Dialect,
    frames: Vec<Frame>,
    line: Line,
    /// What the whole template declares and reads in arithmetic.
    names: Arc<Names>,
}

/// What to do with the current character after a frame handled it.
enum Flow {
    Done,
    /// The frame stack changed; the same character is read again by the new top frame.
    Again,
}

impl Lexer {
    #[cfg(test)]
    pub fn new(dialect: Dialect) -> Lexer {
        Lexer::with_names(dialect, Arc::default())
    }

    /// A reader for a template whose names were scanned before (see [`Names::scan`]).
    pub fn with_names(dialect: Dialect, names: Arc<Names>) -> Lexer {
        Lexer { dialect, frames: vec![Frame::cmd(CmdKind::Top)], line: Line::Known(String::new()), names }
    }

    /// The simple command being read by the nearest command frame.
    fn simple(&mut self) -> Option<&mut Simple> {
        self.frames.iter_mut().rev().find_map(|f| match f {
            Frame::Cmd { simple, .. } => Some(simple),
            _ => None,
        })
    }

    /// Reads literal template text.
    /// Reads literal template text; an error carries the byte offset in `text` it is about.
    pub fn text(&mut self, text: &str) -> Result<(), (usize, String)> {
        text.char_indices().try_for_each(|(at, c)| self.step(c).map_err(|m| (at, m)))
    }

    fn heredoc_index(&self) -> Option<usize> {
        self.frames.iter().position(|f| matches!(f, Frame::HereDoc { .. }))
    }

    fn delimiter(&self) -> Option<&str> {
        self.frames.iter().find_map(|f| match f {
            Frame::HereDoc { spec, .. } => Some(spec.delimiter.as_str()),
            _ => None,
        })
    }

    fn step(&mut self, c: char) -> Result<(), String> {
        if let Some(i) = self.heredoc_index() {
            let top = self.frames.len() - 1;
            if c == '\n' && i != top {
                return Err(format!(
                    "a line of a here-document ends inside {}: batchrun reads a here-document line by line, so close it on the same line",
                    self.frames[top].describe()
                ));
            }
            if c != '\n' {
                let skip = match &mut self.frames[i] {
                    Frame::HereDoc { spec, line_start, .. } => {
                        let skip = spec.strip && *line_start && c == '\t' && i == top;
                        *line_start &= skip;
                        skip
                    }
                    _ => false,
                };
                if let (false, Line::Known(text)) = (skip, &mut self.line) {
                    text.push(c);
                }
            }
        }
        loop {
            let flow = match self.frames.last() {
                Some(Frame::Cmd { .. }) => self.step_cmd(c)?,
                Some(Frame::Double { .. }) => self.step_double(c)?,
                Some(Frame::Single) => {
                    if c == '\'' {
                        self.pop();
                    } else if let Some(simple) = self.simple() {
                        simple.quoted(Some(c));
                    }
                    Flow::Done
                }
                Some(Frame::OldArith { .. }) => {
                    self.step_old_arith(c);
                    Flow::Done
                }
                Some(Frame::AnsiC { .. } | Frame::Backtick { .. }) => {
                    if let Some(simple) = self.simple() {
                        simple.opaque();
                    }
                    self.step_escaped_quote(c)
                }
                Some(Frame::Param { .. }) => self.step_param(c)?,
                Some(Frame::Arith { .. }) => self.step_arith(c)?,
                Some(Frame::Comment) => {
                    if c == '\n' {
                        self.pop();
                        Flow::Again
                    } else {
                        Flow::Done
                    }
                }
                Some(Frame::HereDoc { .. }) => self.step_heredoc(c)?,
                None => Flow::Done,
            };
            if let Flow::Done = flow {
                return Ok(());
            }
        }
    }

    fn pop(&mut self) {
        if self.frames.len() > 1 {
            self.frames.pop();
        }
    }

    fn push(&mut self, frame: Frame) {
        self.frames.push(frame);
    }

    fn top_pend(&mut self) -> Option<&mut Pend> {
        match self.frames.last_mut()? {
            Frame::Cmd { pend, .. }
            | Frame::Double { pend }
            | Frame::Param { pend, .. }
            | Frame::Arith { pend, .. }
            | Frame::HereDoc { pend, .. } => Some(pend),
            _ => None,
        }
    }

    fn set_pend(&mut self, value: Pend) {
        if let Some(pend) = self.top_pend() {
            *pend = value;
        }
    }

    /// Settles a `$` or `$(` that the previous character left open. `Some` when `c` was used.
    fn settle_dollar(&mut self, pend: Pend, c: char, in_double: bool) -> Result<Option<Flow>, String> {
        match pend {
            Pend::Dollar => {
                self.set_pend(Pend::None);
                match c {
                    '(' => self.set_pend(Pend::DollarParen),
                    '{' => self.push(Frame::Param { in_double, pend: Pend::None }),
                    '[' if self.dialect == Dialect::Posix => {
                        return Err("`$[…]` is bash's old arithmetic, which dash prints as text: use `$((…))`".into());
                    }
                    '[' => self.push(Frame::OldArith { depth: 0 }),
                    '\'' if !in_double && !self.in_heredoc_top() => match self.dialect {
                        Dialect::Bash => self.push(Frame::AnsiC { escape: false }),
                        Dialect::Posix => {
                            return Err(
                                "`$'…'` is bash syntax that dash reads differently: use `shell: bash`, or `'…'`".into(),
                            );
                        }
                    },
                    _ => return Ok(Some(Flow::Again)),
                }
                Ok(Some(Flow::Done))
            }
            Pend::DollarParen => {
                self.set_pend(Pend::None);
                if c == '(' {
                    self.push(Frame::Arith { depth: 0, closing: false, pend: Pend::None });
                    Ok(Some(Flow::Done))
                } else {
                    self.push(Frame::cmd(CmdKind::Subst));
                    Ok(Some(Flow::Again))
                }
            }
            _ => Ok(None),
        }
    }

    /// Settles what the top frame's last character left open (`\`, `$`, `$(`), if anything:
    /// `Some` when that used `c` up.
    fn settle_pending(&mut self, c: char, in_double: bool) -> Result<Option<Flow>, String> {
        let Some(pend) = self.top_pend() else { return Ok(None) };
        let pending = *pend;
        match pending {
            Pend::Escape => {
                *pend = Pend::None;
                Ok(Some(Flow::Done))
            }
            Pend::Dollar | Pend::DollarParen => {
                Ok(Some(self.settle_dollar(pending, c, in_double)?.unwrap_or(Flow::Done)))
            }
            _ => Ok(None),
        }
    }

    fn in_heredoc_top(&self) -> bool {
        matches!(self.frames.last(), Some(Frame::HereDoc { .. }))
    }

    fn step_cmd(&mut self, c: char) -> Result<Flow, String> {
        let Some(Frame::Cmd { kind, word, pend, delim, simple, heredocs }) = self.frames.last_mut() else {
            return Ok(Flow::Done);
        };
        let kind = *kind;
        let pending = std::mem::replace(pend, Pend::None);
        if delim.is_some() {
            return self.step_delimiter(c);
        }
        match pending {
            Pend::Escape => {
                // A backslash-newline is removed before the shell reads words: it leaves the
                // word as it was.
                if c != '\n' {
                    add_to_word(word, None);
                    simple.quoted(Some(c));
                }
                return Ok(Flow::Done);
            }
            Pend::Dollar | Pend::DollarParen => {
                *pend = pending;
                if let Some(flow) = self.settle_dollar(pending, c, false)? {
                    return Ok(flow);
                }
                return Ok(Flow::Done);
            }
            Pend::Less => {
                match c {
                    '<' => {
                        // A here-document's delimiter or a here-string follows, not a file.
                        simple.retarget(Target::File);
                        *pend = Pend::LessLess;
                    }
                    '&' => simple.retarget(Target::Dup),
                    '>' => {}
                    '(' => {
                        simple.process_substitution();
                        self.push(Frame::cmd(CmdKind::Paren));
                    }
                    _ => return Ok(Flow::Again),
                }
                return Ok(Flow::Done);
            }
            Pend::Great => {
                match c {
                    '&' => simple.retarget(Target::Dup),
                    '>' | '|' => {}
                    '(' => {
                        simple.process_substitution();
                        self.push(Frame::cmd(CmdKind::Paren));
                    }
                    _ => return Ok(Flow::Again),
                }
                return Ok(Flow::Done);
            }
            Pend::Amp => {
                if c == '>' {
                    // bash's `&>`: both outputs to a file.
                    simple.redirect(Target::File);
                    *pend = Pend::Great;
                    return Ok(Flow::Done);
                }
                if simple.separate(Sep::List)? {
                    mark_code(heredocs);
                }
                return Ok(Flow::Again);
            }
            Pend::LessLess => {
                let reader = |strip| DelimReader {
                    strip,
                    text: String::new(),
                    quoted: false,
                    started: false,
                    quote: DelimQuote::No,
                };
                return Ok(match c {
                    '<' => {
                        simple.retarget(Target::HereString);
                        Flow::Done
                    }
                    '-' => {
                        simple.delimiter_follows();
                        *delim = Some(reader(true));
                        Flow::Done
                    }
                    _ => {
                        simple.delimiter_follows();
                        *delim = Some(reader(false));
                        Flow::Again
                    }
                });
            }
            Pend::Paren => {
                if c == '(' {
                    if self.dialect == Dialect::Posix {
                        return Err("`((…))` is bash arithmetic, which dash reads as two subshells: use `shell: bash`, or `[ \"$((…))\" -ne 0 ]`".into());
                    }
                    self.push(Frame::Arith { depth: 0, closing: false, pend: Pend::None });
                    return Ok(Flow::Done);
                }
                self.push(Frame::cmd(CmdKind::Subshell));
                return Ok(Flow::Again);
            }
            Pend::None => {}
        }
        if kind == CmdKind::Test && matches!(c, '(' | ')') {
            // Inside `[[ … ]]` parentheses group tests and belong to a regex's word.
            add_to_word(word, Some(c));
            simple.literal(c);
            return Ok(Flow::Done);
        }
        if c == '#' {
            match word {
                Word::Start => {
                    self.push(Frame::Comment);
                    return Ok(Flow::Done);
                }
                Word::Unsure => {
                    return Err("cannot tell whether this `#` starts a comment: the `{% … %}` before it ends a word in some branches and not in others".into());
                }
                _ => {}
            }
        }
        match c {
            '\\' => *pend = Pend::Escape,
            '\'' => {
                add_to_word(word, None);
                simple.quoted(None);
                self.push(Frame::Single);
            }
            '"' => {
                add_to_word(word, None);
                simple.quoted(None);
                self.push(Frame::Double { pend: Pend::None });
            }
            '`' => {
                add_to_word(word, None);
                simple.opaque();
                self.push(Frame::Backtick { escape: false });
            }
            '$' => {
                add_to_word(word, None);
                simple.opaque();
                *pend = Pend::Dollar;
            }
            ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                let at_start = matches!(word, Word::Start);
                if let Some(flow) = self.end_word(kind)? {
                    return Ok(flow);
                }
                let Some(Frame::Cmd { pend, heredocs, simple, .. }) = self.frames.last_mut() else {
                    return Ok(Flow::Done);
                };
                match c {
                    ' ' | '\t' => simple.end_word(),
                    '<' => {
                        simple.redirect(Target::File);
                        *pend = Pend::Less;
                    }
                    '>' => {
                        simple.redirect(Target::File);
                        *pend = Pend::Great;
                    }
                    '&' => {
                        simple.end_word();
                        *pend = Pend::Amp;
                    }
                    '(' if simple.array_opens() => {
                        simple.end_word();
                        self.push(Frame::cmd(CmdKind::Array));
                        return Ok(Flow::Done);
                    }
                    _ => {
                        let sep = if c == '|' { Sep::Pipe } else { Sep::List };
                        if simple.separate(sep)? {
                            mark_code(heredocs);
                        }
                    }
                }
                match c {
                    '\n' if !heredocs.is_empty() => {
                        let mut specs = std::mem::take(heredocs);
                        let spec = specs.remove(0);
                        self.line = Line::Known(String::new());
                        self.push(Frame::HereDoc { spec, rest: specs, pend: Pend::None, line_start: true });
                    }
                    '(' if at_start => *pend = Pend::Paren,
                    '(' => self.push(Frame::cmd(CmdKind::Subshell)),
                    ')' if matches!(kind, CmdKind::Subst | CmdKind::Paren | CmdKind::Subshell | CmdKind::Array) => {
                        self.pop();
                        if let Some(Frame::Cmd { word, simple, .. }) = self.frames.last_mut() {
                            if kind == CmdKind::Subshell {
                                // After a subshell or a function's `()`, a new command starts.
                                *word = Word::Start;
                                *simple = Simple::default();
                            } else {
                                // The substitution or the array was part of a word, which goes on.
                                *word = Word::Opaque;
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {
                add_to_word(word, Some(c));
                if c == '~' && simple.tilde_after_assignment() {
                    *word = Word::Tilde;
                }
                simple.literal(c);
            }
        }
        Ok(Flow::Done)
    }

    /// Ends the current word of the top command frame and acts on a keyword it was.
    fn end_word(&mut self, kind: CmdKind) -> Result<Option<Flow>, String> {
        let Some(Frame::Cmd { word, .. }) = self.frames.last_mut() else { return Ok(None) };
        let ended = std::mem::replace(word, Word::Start);
        let Word::Text(text) = ended else { return Ok(None) };
        match text.as_str() {
            "[[" => {
                self.push(Frame::cmd(CmdKind::Test));
                Ok(Some(Flow::Again))
            }
            "]]" if kind == CmdKind::Test => {
                self.pop();
                Ok(Some(Flow::Again))
            }
            "case" if matches!(kind, CmdKind::Subst | CmdKind::Paren | CmdKind::Subshell) => Err(
                "`case` inside `$(…)` or `(…)`: its patterns' `)` cannot be told apart from the closing one here; use `if`, or run the `case` outside the substitution".into(),
            ),
            _ => Ok(None),
        }
    }

    fn step_delimiter(&mut self, c: char) -> Result<Flow, String> {
        let Some(Frame::Cmd { delim: Some(d), heredocs, simple, .. }) = self.frames.last_mut() else {
            return Ok(Flow::Done);
        };
        match d.quote {
            DelimQuote::Single => {
                if c == '\'' {
                    d.quote = DelimQuote::No;
                } else {
                    d.text.push(c);
                }
            }
            DelimQuote::Double => match c {
                '"' => d.quote = DelimQuote::No,
                '\\' => d.quote = DelimQuote::DoubleEscape,
                _ => d.text.push(c),
            },
            DelimQuote::DoubleEscape => {
                if !matches!(c, '$' | '`' | '"' | '\\' | '\n') {
                    d.text.push('\\');
                }
                d.text.push(c);
                d.quote = DelimQuote::Double;
            }
            DelimQuote::Escape => {
                d.text.push(c);
                d.quote = DelimQuote::No;
            }
            DelimQuote::No => match c {
                ' ' | '\t' if !d.started => {}
                '$' | '`' => {
                    return Err("a here-document delimiter with `$` or a backtick: the shells read such a word differently; write a plain word (`<<EOF`)".into());
                }
                '\'' | '"' | '\\' => {
                    d.quoted = true;
                    d.started = true;
                    d.quote = match c {
                        '\'' => DelimQuote::Single,
                        '"' => DelimQuote::Double,
                        _ => DelimQuote::Escape,
                    };
                }
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                    if !d.started || d.text.is_empty() {
                        return Err("`<<` needs a delimiter word".into());
                    }
                    let spec = HereSpec {
                        delimiter: std::mem::take(&mut d.text),
                        quoted: d.quoted,
                        strip: d.strip,
                        code: place::reads_stdin_as_code(simple),
                    };
                    heredocs.push(spec);
                    if let Some(Frame::Cmd { delim, .. }) = self.frames.last_mut() {
                        *delim = None;
                    }
                    return Ok(Flow::Again);
                }
                _ => {
                    d.started = true;
                    d.text.push(c);
                }
            },
        }
        Ok(Flow::Done)
    }

    fn step_double(&mut self, c: char) -> Result<Flow, String> {
        if let Some(flow) = self.settle_pending(c, true)? {
            return Ok(flow);
        }
        let Some(Frame::Double { pend }) = self.frames.last_mut() else { return Ok(Flow::Done) };
        match c {
            '"' => self.pop(),
            '\\' => *pend = Pend::Escape,
            '$' => *pend = Pend::Dollar,
            '`' => self.push(Frame::Backtick { escape: false }),
            _ => {}
        }
        if let Some(simple) = self.simple() {
            match c {
                '"' => {}
                '$' | '`' => simple.opaque(),
                // `"\n"` is `\n` to the command: the text stays known (the escaped character
                // itself is left out, which only makes the text compare unequal to a name).
                c => simple.quoted(Some(c)),
            }
        }
        Ok(Flow::Done)
    }

    fn step_escaped_quote(&mut self, c: char) -> Flow {
        let (escape, close) = match self.frames.last_mut() {
            Some(Frame::AnsiC { escape }) => (escape, '\''),
            Some(Frame::Backtick { escape }) => (escape, '`'),
            _ => return Flow::Done,
        };
        if *escape {
            *escape = false;
        } else if c == '\\' {
            *escape = true;
        } else if c == close {
            self.pop();
        }
        Flow::Done
    }

    fn step_param(&mut self, c: char) -> Result<Flow, String> {
        let in_double = matches!(self.frames.last(), Some(Frame::Param { in_double: true, .. }));
        if let Some(flow) = self.settle_pending(c, in_double)? {
            return Ok(flow);
        }
        let Some(Frame::Param { pend, .. }) = self.frames.last_mut() else { return Ok(Flow::Done) };
        match c {
            '}' => self.pop(),
            '\\' => *pend = Pend::Escape,
            '$' => *pend = Pend::Dollar,
            '`' => self.push(Frame::Backtick { escape: false }),
            '"' => self.push(Frame::Double { pend: Pend::None }),
            '\'' if in_double => {
                return Err(
                    "single quotes inside `${…}` within double quotes or a here-document: dash and bash read them differently"
                        .into(),
                );
            }
            '\'' => self.push(Frame::Single),
            _ => {}
        }
        Ok(Flow::Done)
    }

    fn step_arith(&mut self, c: char) -> Result<Flow, String> {
        if let Some(flow) = self.settle_pending(c, true)? {
            return Ok(flow);
        }
        let Some(Frame::Arith { depth, closing, pend }) = self.frames.last_mut() else { return Ok(Flow::Done) };
        if *closing {
            if c != ')' {
                return Err("unbalanced parentheses in arithmetic `$((…))` or `((…))`".into());
            }
            self.pop();
            return Ok(Flow::Done);
        }
        match c {
            '(' => *depth += 1,
            ')' if *depth > 0 => *depth -= 1,
            ')' => *closing = true,
            '\\' => *pend = Pend::Escape,
            '$' => *pend = Pend::Dollar,
            '`' => self.push(Frame::Backtick { escape: false }),
            '"' => self.push(Frame::Double { pend: Pend::None }),
            '\'' => self.push(Frame::Single),
            _ => {}
        }
        Ok(Flow::Done)
    }

    fn step_old_arith(&mut self, c: char) {
        if let Some(Frame::OldArith { depth }) = self.frames.last_mut() {
            match c {
                '[' => *depth += 1,
                ']' if *depth > 0 => *depth -= 1,
                ']' => self.pop(),
                _ => {}
            }
        }
    }

    /// Whether a here-document being read sits inside `$(…)` or `(…)`, where bash ends it at
    /// a line that only begins with its delimiter.
    fn heredoc_nested(&self) -> bool {
        let Some(at) = self.heredoc_index() else { return false };
        self.frames[..at]
            .iter()
            .any(|f| matches!(f, Frame::Cmd { kind: CmdKind::Subst | CmdKind::Paren | CmdKind::Subshell, .. }))
    }

    fn step_heredoc(&mut self, c: char) -> Result<Flow, String> {
        let quoted = matches!(self.frames.last(), Some(Frame::HereDoc { spec, .. }) if spec.quoted);
        if !quoted {
            if c == '\n' && self.top_pend().is_some_and(|p| *p == Pend::Escape) {
                return Err("a `\\` at the end of a here-document line: dash and bash join the lines differently when looking for the delimiter".into());
            }
            if let Some(flow) = self.settle_pending(c, true)? {
                return Ok(flow);
            }
        }
        let Some(Frame::HereDoc { spec, pend, .. }) = self.frames.last_mut() else {
            return Ok(Flow::Done);
        };
        if !spec.quoted {
            match c {
                '\\' => *pend = Pend::Escape,
                '$' => *pend = Pend::Dollar,
                '`' => {
                    self.push(Frame::Backtick { escape: false });
                    return Ok(Flow::Done);
                }
                _ => {}
            }
        }
        if c == '\n' {
            let delimiter = spec.delimiter.clone();
            let ends = matches!(&self.line, Line::Known(text) if *text == delimiter);
            let early = matches!(&self.line, Line::Known(text) if !ends && text.starts_with(delimiter.as_str()));
            if early && self.heredoc_nested() {
                return Err(format!(
                    "a here-document line that begins with its delimiter `{delimiter}` inside `$(…)` or `(…)`: bash ends the here-document there and dash does not; end it with a line that holds only the delimiter, and close the parenthesis on the next line"
                ));
            }
            let Some(Frame::HereDoc { rest, line_start, .. }) = self.frames.last_mut() else {
                return Ok(Flow::Done);
            };
            *line_start = true;
            if ends {
                let mut rest = std::mem::take(rest);
                self.frames.pop();
                if !rest.is_empty() {
                    let spec = rest.remove(0);
                    self.push(Frame::HereDoc { spec, rest, pend: Pend::None, line_start: true });
                }
            }
            self.line = Line::Known(String::new());
        }
        Ok(Flow::Done)
    }

    /// Where a value placed here lands, or why it cannot be placed here. A `raw` value is
    /// shell code by the author's choice and a value batchrun makes is never more than
    /// digits and name characters: neither is held to the allowlist of places, and what follows either in its
    /// command is read as if its text were unknown.
    /// With the spot, whether the value begins a program's argument before any `--`.
    pub fn hole(&mut self, output: Output) -> Result<(Spot, bool), String> {
        // Settle what the last character left open, as the value's first character would.
        loop {
            let pend = self.top_pend().map(|p| *p).unwrap_or(Pend::None);
            match pend {
                Pend::Escape => {
                    return Err("a value right after a `\\`: the backslash would escape the value's quoting; put a space or a quote between them".into());
                }
                Pend::Dollar => {
                    return Err(
                        "a value right after `$` would be read as part of an expansion; put it in its own word or quotes"
                            .into(),
                    );
                }
                Pend::DollarParen => {
                    self.set_pend(Pend::None);
                    self.push(Frame::cmd(CmdKind::Subst));
                }
                Pend::Paren => {
                    self.set_pend(Pend::None);
                    self.push(Frame::cmd(CmdKind::Subshell));
                }
                Pend::Less | Pend::Great => self.set_pend(Pend::None),
                Pend::Amp => {
                    self.set_pend(Pend::None);
                    if let Some(simple) = self.simple() {
                        simple.separate(Sep::List)?;
                    }
                }
                Pend::LessLess => {
                    return Err("a value as a here-document's delimiter; write the delimiter in the template".into());
                }
                Pend::None => break,
            }
        }
        if let Some(Frame::AnsiC { escape: true }) = self.frames.last() {
            return Err("a value right after a `\\` in `$'…'`: the backslash would escape the value's first character; put other text between them".into());
        }
        if output == Output::Escaped && self.names.stdin_code {
            return Err(STDIN_CODE.into());
        }
        if let Some(Frame::Cmd { delim: Some(_), .. }) = self.frames.last() {
            return Err("a value as a here-document's delimiter; write the delimiter in the template".into());
        }
        for frame in &self.frames {
            let number_place = matches!(
                frame,
                Frame::Arith { .. } | Frame::OldArith { .. } | Frame::Cmd { kind: CmdKind::Test | CmdKind::Array, .. }
            ) || matches!(frame, Frame::HereDoc { spec, .. } if spec.code);
            if output == Output::Made && number_place {
                continue;
            }
            let refused = match frame {
                Frame::Backtick { .. } => "a value inside backticks cannot be quoted reliably: use `$(…)` instead",
                Frame::Comment => "a value inside a `#` comment: move it out of the comment or remove it",
                Frame::Arith { .. } | Frame::OldArith { .. } => {
                    "a value inside arithmetic (`$((…))`, `((…))`, `$[…]`) is evaluated as code by the shell: compute it in the template instead (`{{ n + 1 }}`)"
                }
                Frame::Cmd { kind: CmdKind::Array, .. } => {
                    "a value inside an array assignment `NAME=(…)`: bash reads `[…]=` in an element as an arithmetic subscript; append it as a plain word instead (`NAME+=(\"$X\")` with `X` set through `env:`)"
                }
                Frame::HereDoc { spec, .. } if spec.code => {
                    "a value in a here-document that a shell reads as its script: the value would be shell code there; pass it through `env:` and use `\"$NAME\"` in the script"
                }
                Frame::Param { .. } => {
                    "a value inside `${…}`: pass it through `env:` and write `${X:-\"$NAME\"}`, or compute the default in the template (`{{ x or default }}`)"
                }
                Frame::Cmd { kind: CmdKind::Test, .. } => {
                    "a value inside `[[ … ]]` can be evaluated as arithmetic by bash: use `[ … ]` with the value in double quotes, or pass it through `env:` and test `\"$NAME\"`"
                }
                Frame::HereDoc { spec, .. } if spec.quoted => {
                    "a value in a here-document with a quoted delimiter (`<<'EOF'`) cannot be escaped: use an unquoted delimiter (`<<EOF`), or pass the value through `env:` and use `$NAME`"
                }
                Frame::HereDoc { spec, .. } if spec.strip => {
                    "a value in a `<<-` here-document would lose its leading tabs: use `<<`"
                }
                _ => continue,
            };
            return Err(refused.into());
        }
        let spot = match self.frames.last_mut() {
            Some(Frame::Cmd { word: Word::Tilde, .. }) => {
                return Err("a value in a `~` prefix would be read as a user's home folder (`~name`): quote the `~` (`'~'`) or end the prefix with `/` first".into());
            }
            Some(Frame::Cmd { word, .. }) => {
                *word = Word::Opaque;
                Spot::Word
            }
            Some(Frame::Double { .. }) => Spot::Double,
            Some(Frame::Single) => Spot::Single,
            Some(Frame::AnsiC { .. }) => Spot::AnsiC,
            Some(Frame::HereDoc { spec, line_start, .. }) => {
                *line_start = false;
                let prefix = match &self.line {
                    Line::Known(text) => Some(text.clone()),
                    Line::Unknown => None,
                };
                let delimiter = spec.delimiter.clone();
                self.line = Line::Unknown;
                let nested = self.heredoc_nested();
                self.place(output)?;
                return Ok((Spot::HereDoc { delimiter, prefix, nested }, false));
            }
            _ => return Err("a value cannot be placed here".into()),
        };
        let leading = self.place(output)?;
        // A value in a nested context on a here-document line: that line must not be able to
        // become the delimiter.
        if let (Some(delimiter), Line::Known(text)) = (self.delimiter(), &self.line) {
            if delimiter.starts_with(text.as_str()) {
                return Err(format!(
                    "a value on a here-document line that could then read as its delimiter `{delimiter}`: put other text first on that line"
                ));
            }
            self.line = Line::Unknown;
        }
        Ok((spot, leading))
    }

    /// Holds the value to the allowlist in its own simple command, and then, where that
    /// command is a substitution (`$(…)`, `<(…)`), its output to the place it lands in the
    /// command around it: `eval "$(echo {{ v }})"` runs the value as surely as `eval {{ v }}`.
    fn place(&mut self, output: Output) -> Result<bool, String> {
        let (dialect, names) = (self.dialect, Arc::clone(&self.names));
        let mut leading = false;
        // How what holds the value reaches the next command frame down: `None` while the value
        // itself sits in that frame's current word.
        let mut via: Option<CmdKind> = None;
        // The value is in a here-document body, which the next command frame down reads.
        let mut in_body = false;
        for frame in self.frames.iter_mut().rev() {
            match frame {
                Frame::HereDoc { .. } => in_body = true,
                Frame::Cmd { kind, simple, .. } => {
                    if in_body {
                        // The body feeds this command, whose output goes where it goes.
                        in_body = false;
                    } else {
                        match via {
                            None if output != Output::Escaped => {
                                simple.opaque();
                                return Ok(false);
                            }
                            None => leading = simple.place(dialect, &names)?,
                            Some(CmdKind::Subst | CmdKind::Paren) => simple.check(dialect, &names).map_err(|why| {
                                format!("a value inside a substitution whose output lands where it may not: {why}")
                            })?,
                            // A subshell's output is its standard output, not a word.
                            Some(_) => break,
                        }
                    }
                    if output != Output::Escaped {
                        return Ok(false);
                    }
                    via = Some(*kind);
                }
                _ => {}
            }
        }
        Ok(leading)
    }

    /// The template's end: what only a whole command shows is checked for its last command.
    pub fn finish(&mut self) -> Result<(), String> {
        if let Some(Frame::Cmd { simple, .. }) = self.frames.first_mut() {
            simple.separate(Sep::List)?;
        }
        Ok(())
    }

    /// Where a block's branches meet: the one state both ends agree on, or why they do not.
    pub fn merge(a: &Lexer, b: &Lexer) -> Result<Lexer, String> {
        if a == b {
            return Ok(a.clone());
        }
        let mut a = a.clone();
        let mut b = b.clone();
        if a.line != b.line {
            for lexer in [&a, &b] {
                if let (Some(delimiter), Line::Known(text)) = (lexer.delimiter(), &lexer.line)
                    && delimiter.starts_with(text.as_str())
                {
                    return Err(format!(
                        "a here-document line that some branches could make read as its delimiter `{delimiter}`"
                    ));
                }
            }
            a.line = Line::Unknown;
            b.line = Line::Unknown;
        }
        if a.frames.len() == b.frames.len() {
            for (fa, fb) in a.frames.iter_mut().zip(b.frames.iter_mut()) {
                if let (Frame::Cmd { simple: sa, .. }, Frame::Cmd { simple: sb, .. }) = (&mut *fa, &mut *fb)
                    && sa != sb
                {
                    let merged = Simple::merge(sa, sb);
                    *sa = merged.clone();
                    *sb = merged;
                }
                if let (Frame::Cmd { word: wa, .. }, Frame::Cmd { word: wb, .. }) = (fa, fb)
                    && wa != wb
                {
                    let start = |w: &Word| matches!(w, Word::Start | Word::Unsure);
                    let merged = if start(wa) || start(wb) { Word::Unsure } else { Word::Opaque };
                    *wa = merged.clone();
                    *wb = merged;
                }
            }
        }
        if a == b {
            return Ok(a);
        }
        let describe = |l: &Lexer| l.frames.last().map_or("the command line", Frame::describe);
        let (da, db) = (describe(&a), describe(&b));
        Err(if da == db {
            format!("its branches end in different shell states (inside {da}, with different text still open)")
        } else {
            format!("its branches end in different shell states: one inside {da}, one inside {db}")
        })
    }
}

const STDIN_CODE: &str = "this command runs a shell that reads its standard input or a file descriptor as code (`… | sh`, `sh <<EOF`, `sh < FILE`, `. /dev/stdin`, `>(sh)`, `read` into a variable read as code), and a value could reach it through a pipe or a descriptor batchrun cannot follow: give that script its values through `env:` (`\"$NAME\"`), not its input";

/// A command on the line reads its standard input as shell code: the here-documents announced
/// on the line may feed it (`cat <<EOF | sh`).
fn mark_code(heredocs: &mut [HereSpec]) {
    for spec in heredocs {
        spec.code = true;
    }
}

/// Adds a character to a command frame's word: `Some(c)` a literal one, `None` a quote or escape
/// (which makes the word no keyword).
fn add_to_word(word: &mut Word, c: Option<char>) {
    *word = match (std::mem::replace(word, Word::Opaque), c) {
        (Word::Start, Some('~')) => Word::Tilde,
        (Word::Tilde, Some(c)) if c != '/' => Word::Tilde,
        (Word::Start, Some(c)) => Word::Text(c.to_string()),
        (Word::Text(mut text), Some(c)) if text.len() < 4 => {
            text.push(c);
            Word::Text(text)
        }
        _ => Word::Opaque,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spot of the one `@` in `template` (the value's place).
    fn spot(template: &str, dialect: Dialect) -> Result<Spot, String> {
        let (before, after) = template.split_once('@').expect("a hole");
        let mut lexer = Lexer::new(dialect);
        lexer.text(before).map_err(|(_, m)| m)?;
        let (spot, _) = lexer.hole(Output::Escaped)?;
        lexer.text(after).map_err(|(_, m)| m)?;
        Ok(spot)
    }

    fn posix(template: &str) -> Result<Spot, String> {
        spot(template, Dialect::Posix)
    }

    #[test]
    fn contexts_come_from_the_text_around_the_value() {
        assert_eq!(posix("echo @ x"), Ok(Spot::Word));
        assert_eq!(posix("echo --a=@"), Ok(Spot::Word));
        assert_eq!(posix("echo \"v @ e\""), Ok(Spot::Double));
        assert_eq!(posix("echo 'v @ e'"), Ok(Spot::Single));
        assert_eq!(posix("echo \"$(echo @)\""), Ok(Spot::Word));
        assert_eq!(posix("echo \"$(echo \"@\")\""), Ok(Spot::Double));
        assert_eq!(posix("(cd /tmp && echo @)"), Ok(Spot::Word));
        assert_eq!(posix("echo a # c\necho @"), Ok(Spot::Word));
        assert_eq!(posix("echo 'it''s' \"a\\\"b\" @"), Ok(Spot::Word));
        assert_eq!(spot("echo $'a\\'b' $'@'", Dialect::Bash), Ok(Spot::AnsiC));
        assert_eq!(
            posix("cat <<EOF\nline @\nEOF\n"),
            Ok(Spot::HereDoc { delimiter: "EOF".into(), prefix: Some("line ".into()), nested: false })
        );
        assert_eq!(posix("cat <<EOF\nEOF\necho @"), Ok(Spot::Word), "the body ended at its delimiter");
        assert_eq!(posix("x=$(cat <<EOF\na\nEOF\n) && echo @"), Ok(Spot::Word));
        assert_eq!(
            posix("cat <<A <<B\na\nA\n@\nB\n"),
            Ok(Spot::HereDoc { delimiter: "B".into(), prefix: Some("".into()), nested: false })
        );
        assert_eq!(posix("cat <<< x; echo @"), Ok(Spot::Word));
        assert_eq!(posix("echo $((1 + 2)) @"), Ok(Spot::Word));
        assert_eq!(posix("echo ${x:-a} @"), Ok(Spot::Word));
        assert_eq!(posix("echo `date` @"), Ok(Spot::Word));
        assert_eq!(posix("case x in a) echo @;; esac"), Ok(Spot::Word));
        for word_not_a_tilde_prefix in ["echo ~/@", "echo '~'@", "echo a~@"] {
            assert_eq!(posix(word_not_a_tilde_prefix), Ok(Spot::Word), "{word_not_a_tilde_prefix}");
        }
    }

    #[test]
    fn unreliable_places_are_refused() {
        for (template, says) in [
            ("echo `echo @`", "backticks"),
            ("echo a # @", "comment"),
            ("echo $((1 + @))", "arithmetic"),
            ("((x = @))", "arithmetic"),
            ("echo ${x:-@}", "${"),
            ("[[ -n @ ]]", "[["),
            ("[[ $(echo @) ]]", "[["),
            ("cat <<'EOF'\n@\nEOF", "quoted delimiter"),
            ("cat <<-EOF\n@\nEOF", "<<-"),
            ("cat <<@", "delimiter"),
            ("echo $@", "after `$`"),
            ("echo \"$@\"", "after `$`"),
            ("echo \\@", "`\\`"),
            ("echo $'@'", "bash syntax"),
            ("echo $(case x in a) echo;; esac) @", "case"),
            ("echo ~@", "home folder"),
            ("echo ~ab@/x", "home folder"),
            ("echo \"${x:-'a'}\" @", "differently"),
            ("cat <<EOF\n$(echo\n@)\nEOF", "same line"),
        ] {
            let error = posix(template).expect_err(template);
            assert!(error.contains(says), "{template:?}: {error}");
        }
    }

    #[test]
    fn branches_must_meet_in_one_state() {
        let mut a = Lexer::new(Dialect::Posix);
        a.text("echo \"a").unwrap();
        let mut b = a.clone();
        b.text("\"").unwrap();
        assert!(Lexer::merge(&a, &b).unwrap_err().contains("double quotes"));
        let mut c = a.clone();
        c.text(" b").unwrap();
        assert!(Lexer::merge(&a, &c).is_ok(), "both still inside the same double quotes");

        let mut start = Lexer::new(Dialect::Posix);
        start.text("echo x").unwrap();
        let mut spaced = start.clone();
        spaced.text(" ").unwrap();
        let mut merged = Lexer::merge(&start, &spaced).unwrap();
        assert!(merged.text("#").unwrap_err().1.contains("comment"));
    }
}
