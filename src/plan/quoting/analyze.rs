//! Reads a command template once, gives each `{{ … }}` its shell context, and rewrites the
//! template so that every output goes through the filter for its context.
//!
//! The template is parsed with minijinja's own parser (its `unstable_machinery`), so literal
//! text is exactly what minijinja will write, whitespace control included. `{% if %}` branches
//! must meet in one shell state and a `{% for %}` body must end in the state it began in, so
//! the context of every output holds whichever way the template renders.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use minijinja::machinery::{Token, ast, parse, tokenize};
use minijinja::syntax::SyntaxConfig;

use super::lexer::{Dialect, Lexer, Output, Spot};
use super::place::Names;
use super::{Context, HereDocSpot};

const RAW_LAST: &str = "`raw` can only be the last filter of an output (`{{ x | raw }}`): set aside, put in an `if` or filtered further, a raw value would go out unescaped behind a plain-looking `{{ name }}`; apply `raw` where the value is written";

/// A template read for the shell: the rewritten source to register, and each output's context
/// in source order (for the fast path, which renders from the original).
#[derive(Debug, Clone, PartialEq)]
pub struct Analyzed {
    pub source: String,
    pub contexts: Vec<Context>,
    /// The expressions of outputs whose value begins a program's argument before any `--`:
    /// a value starting with `-` is read there as an option.
    pub leading: Vec<String>,
    /// What the template declares and reads in arithmetic.
    pub names: Arc<Names>,
}

/// A place in the template where no value can be placed safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Byte offset into the template source.
    pub offset: usize,
    pub message: String,
}

/// Why a template was not accepted.
#[derive(Debug)]
pub enum AnalyzeError {
    /// Not a valid template (reported as minijinja words it).
    Syntax(minijinja::Error),
    Refused(Refusal),
}

/// Reads `source` for `dialect`. A template without outputs is returned as it is, unparsed
/// (the environment reports its syntax errors when it is added).
///
/// `made` are the names that hold values batchrun makes for every task of this template: the
/// integers `index`, `count` and a range's `start` and `end`, and `job`, a name of
/// `[A-Za-z0-9_-]`. One of them, or integer arithmetic on them, may sit where a value from
/// outside may not, since it renders as digits, a sign and letters and reads as plain text
/// wherever the shell reads it.
pub fn analyze(source: &str, dialect: Dialect, made: &[&str]) -> Result<Analyzed, AnalyzeError> {
    let syntax = SyntaxConfig::default();
    let mut outputs: Vec<(usize, usize)> = Vec::new();
    // Outputs whose last filter is `raw`, by their start.
    let mut raw_outputs = BTreeSet::new();
    let mut open = None;
    let mut previous_pipe = false;
    let mut raw_at: Option<usize> = None;
    let mut in_block = false;
    let mut made = made;
    for token in tokenize(source, false, syntax.clone()) {
        let (token, span) = token.map_err(AnalyzeError::Syntax)?;
        let at = span.start_offset as usize;
        let refuse = |message: &str| Err(AnalyzeError::Refused(Refusal { offset: at, message: message.into() }));
        if let Some(raw) = raw_at.take() {
            // `raw` must end its output: anywhere else (`{% set %}`, an inline `if`, another
            // filter after it) its value would go out unescaped behind a plain-looking name.
            match (&token, open) {
                (Token::VariableEnd, Some(start)) => {
                    raw_outputs.insert(start);
                }
                _ => {
                    return Err(AnalyzeError::Refused(Refusal { offset: raw, message: RAW_LAST.into() }));
                }
            }
        }
        match token {
            Token::BlockStart => in_block = true,
            Token::BlockEnd => in_block = false,
            // A block that names one (`{% set index = … %}`, `{% for start in … %}`) may
            // rebind it: then none is taken for a number.
            Token::Ident(name) if in_block && made.contains(&name) => made = &[],
            Token::VariableStart => open = Some(span.end_offset as usize),
            Token::VariableEnd => {
                if let Some(start) = open.take() {
                    outputs.push((start, at));
                }
            }
            Token::Ident("safe") if previous_pipe => {
                return refuse(
                    "`| safe` is no way out of quoting here: `| raw` is the one opt-out (and the value is then shell code)",
                );
            }
            Token::Ident(name @ ("escape" | "e")) if previous_pipe => {
                return refuse(&format!(
                    "`| {name}` escapes for HTML, not for the shell: batchrun already escapes every value for the place it lands in, so drop `| {name}` (or write `| raw` last to pass shell code on purpose)"
                ));
            }
            Token::Ident("raw") if previous_pipe => raw_at = Some(at),
            _ => {}
        }
        previous_pipe = matches!(token, Token::Pipe);
    }
    if let Some(raw) = raw_at {
        return Err(AnalyzeError::Refused(Refusal { offset: raw, message: RAW_LAST.into() }));
    }
    if outputs.is_empty() {
        return Ok(Analyzed {
            source: source.to_owned(),
            contexts: Vec::new(),
            leading: Vec::new(),
            names: Names::scan(source),
        });
    }
    let tree = parse(source, "<command>", syntax).map_err(AnalyzeError::Syntax)?;

    let names = Names::scan(source);
    let raw: Vec<(usize, usize)> = outputs.iter().copied().filter(|(start, _)| raw_outputs.contains(start)).collect();
    let mut walker = Walker {
        lexer: Lexer::with_names(dialect, Arc::clone(&names)),
        holes: BTreeMap::new(),
        suffix: None,
        raw,
        made,
        leading: Vec::new(),
    };
    walker.walk_one(&tree).map_err(AnalyzeError::Refused)?;
    let end = source.len().saturating_sub(1);
    walker.lexer.finish().map_err(|message| AnalyzeError::Refused(Refusal { offset: end, message }))?;
    walker.close_suffix(true);
    let leading: Vec<String> = outputs
        .iter()
        .filter(|(start, end)| walker.leading.iter().any(|at| start <= at && at <= end))
        .map(|(start, end)| source[*start..*end].trim_matches(|c: char| c == '-' || c.is_whitespace()).to_owned())
        .collect();
    let contexts: Vec<Context> = walker.holes.into_values().collect();
    if contexts.len() != outputs.len() {
        return Err(AnalyzeError::Refused(Refusal {
            offset: 0,
            message: "this template's outputs could not all be read".into(),
        }));
    }

    let mut rewritten = String::with_capacity(source.len() + outputs.len() * 32);
    let mut at = 0;
    for ((start, end), context) in outputs.iter().zip(&contexts) {
        rewritten.push_str(&source[at..*start]);
        rewritten.push_str(" (");
        rewritten.push_str(&source[*start..*end]);
        rewritten.push_str(") | ");
        rewritten.push_str(&context.filter_call());
        rewritten.push(' ');
        at = *end;
    }
    rewritten.push_str(&source[at..]);
    Ok(Analyzed { source: rewritten, contexts, leading, names })
}

struct Walker<'a> {
    lexer: Lexer,
    /// Each output's context by its offset in the source (a loop body is read twice).
    holes: BTreeMap<u32, Context>,
    /// A here-document output whose line's rest is still being read: its offset and the text.
    suffix: Option<(u32, String)>,
    /// The source spans of outputs that end in `| raw`.
    raw: Vec<(usize, usize)>,
    /// The names that hold values batchrun makes.
    made: &'a [&'a str],
    /// Offsets of outputs whose value begins a program's argument before any `--`.
    leading: Vec<usize>,
}

impl Walker<'_> {
    fn walk(&mut self, body: &[ast::Stmt<'_>]) -> Result<(), Refusal> {
        body.iter().try_for_each(|stmt| self.walk_one(stmt))
    }

    fn walk_one(&mut self, stmt: &ast::Stmt<'_>) -> Result<(), Refusal> {
        use ast::Stmt;
        match stmt {
            Stmt::Template(t) => self.walk(&t.children),
            Stmt::EmitRaw(raw) => {
                let offset = raw.span().start_offset as usize;
                self.read_suffix(raw.raw);
                self.lexer.text(raw.raw).map_err(|(at, message)| Refusal { offset: offset + at, message })
            }
            Stmt::EmitExpr(emit) => {
                self.close_suffix(false);
                let offset = emit.span().start_offset;
                let at = offset as usize;
                let output = if self.raw.iter().any(|(start, end)| *start <= at && at <= *end) {
                    Output::Raw
                } else if is_made(&emit.expr, self.made) {
                    Output::Made
                } else {
                    Output::Escaped
                };
                let (spot, leading) = self.lexer.hole(output).map_err(|message| Refusal { offset: at, message })?;
                if leading {
                    self.leading.push(at);
                }
                let context = match spot {
                    Spot::Word => Context::Word,
                    Spot::Double => Context::Double,
                    Spot::Single => Context::Single,
                    Spot::AnsiC => Context::AnsiC,
                    Spot::HereDoc { delimiter, prefix, nested } => {
                        self.suffix = Some((offset, String::new()));
                        Context::HereDoc(Arc::new(HereDocSpot { delimiter, prefix, suffix: None, nested }))
                    }
                };
                self.holes.insert(offset, context);
                Ok(())
            }
            Stmt::IfCond(cond) => {
                let at = cond.span().start_offset as usize;
                self.close_suffix(false);
                let start = self.lexer.clone();
                self.walk(&cond.true_body)?;
                self.close_suffix(false);
                let after_true = std::mem::replace(&mut self.lexer, start);
                self.walk(&cond.false_body)?;
                self.close_suffix(false);
                self.lexer = Lexer::merge(&after_true, &self.lexer).map_err(|m| refuse_block(at, "if", m))?;
                Ok(())
            }
            Stmt::ForLoop(each) => {
                let at = each.span().start_offset as usize;
                self.close_suffix(false);
                let entry = self.lexer.clone();
                self.walk(&each.body)?;
                self.close_suffix(false);
                let mut looped = Lexer::merge(&entry, &self.lexer).map_err(|m| refuse_block(at, "for", m))?;
                if looped != entry {
                    // Read the body again from the state every later pass starts in.
                    self.lexer = looped.clone();
                    self.walk(&each.body)?;
                    self.close_suffix(false);
                    let again = Lexer::merge(&looped, &self.lexer).map_err(|m| refuse_block(at, "for", m))?;
                    if again != looped {
                        return Err(refuse_block(at, "for", "its body leaves the shell in a different state on each pass".into()));
                    }
                    looped = again;
                }
                self.lexer = entry;
                self.walk(&each.else_body)?;
                self.close_suffix(false);
                self.lexer = Lexer::merge(&looped, &self.lexer).map_err(|m| refuse_block(at, "for", m))?;
                Ok(())
            }
            Stmt::WithBlock(with) => {
                self.close_suffix(false);
                self.walk(&with.body)
            }
            Stmt::Set(_) | Stmt::Do(_) => {
                self.close_suffix(false);
                Ok(())
            }
            other => Err(Refusal {
                offset: stmt_offset(other),
                message: "this block cannot be used in a command template (only `if`, `for`, `with` and `set` can): batchrun could not tell where its output lands".into(),
            }),
        }
    }

    /// Reads the text that follows a here-document output up to the end of its line.
    fn read_suffix(&mut self, text: &str) {
        let Some((offset, suffix)) = &mut self.suffix else { return };
        match text.split_once('\n') {
            Some((rest_of_line, _)) => {
                suffix.push_str(rest_of_line);
                let (offset, suffix) = (*offset, std::mem::take(suffix));
                self.set_suffix(offset, Some(suffix));
                self.suffix = None;
            }
            None => suffix.push_str(text),
        }
    }

    /// Ends the suffix being read: at the template's end the line ends there; anywhere else
    /// (another output, a block) the rest of the line is not fixed.
    fn close_suffix(&mut self, at_end: bool) {
        if let Some((offset, suffix)) = self.suffix.take() {
            self.set_suffix(offset, at_end.then_some(suffix));
        }
    }

    fn set_suffix(&mut self, offset: u32, suffix: Option<String>) {
        if let Some(Context::HereDoc(spot)) = self.holes.get_mut(&offset) {
            Arc::make_mut(spot).suffix = suffix;
        }
    }
}

/// Whether an expression is one of the `made` names, or integer arithmetic on them and on
/// integer constants.
fn is_made(expr: &ast::Expr<'_>, made: &[&str]) -> bool {
    use ast::{BinOpKind, Expr, UnaryOpKind};
    match expr {
        Expr::Var(var) => made.contains(&var.id),
        Expr::Const(c) => c.value.as_i64().is_some(),
        Expr::UnaryOp(op) => matches!(op.op, UnaryOpKind::Neg) && is_made(&op.expr, made),
        Expr::BinOp(op) => {
            matches!(op.op, BinOpKind::Add | BinOpKind::Sub | BinOpKind::Mul | BinOpKind::Rem | BinOpKind::FloorDiv)
                && is_made(&op.left, made)
                && is_made(&op.right, made)
        }
        _ => false,
    }
}

fn refuse_block(offset: usize, block: &str, message: String) -> Refusal {
    Refusal {
        offset,
        message: format!("this `{{% {block} %}}`: {message}; close quotes and brackets inside each branch"),
    }
}

fn stmt_offset(stmt: &ast::Stmt<'_>) -> usize {
    use ast::Stmt;
    let span = match stmt {
        Stmt::SetBlock(s) => s.span(),
        Stmt::AutoEscape(s) => s.span(),
        Stmt::FilterBlock(s) => s.span(),
        _ => return 0,
    };
    span.start_offset as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contexts(source: &str) -> Vec<Context> {
        analyze(source, Dialect::Posix, &[]).expect(source).contexts
    }

    fn refused(source: &str) -> String {
        match analyze(source, Dialect::Posix, &[]) {
            Err(AnalyzeError::Refused(r)) => r.message,
            other => panic!("{source:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn outputs_get_the_context_of_their_place() {
        assert_eq!(
            contexts("echo {{ a }} \"{{ b }}\" '{{ c }}' $(echo {{ d }})"),
            [Context::Word, Context::Double, Context::Single, Context::Word]
        );
        assert_eq!(contexts("echo \"{% if x %}{{ a }}{% else %}b{% endif %}\""), [Context::Double]);
        assert_eq!(contexts("{% for x in xs %}echo \"{{ x }}\"; {% endfor %}"), [Context::Double]);
        assert!(contexts("echo no outputs").is_empty());
    }

    #[test]
    fn here_document_outputs_know_their_line() {
        let source = "cat <<EOF\n{% for l in lines %}{{ l }}\n{% endfor %}x {{ y }}{{ z }}\nEOF";
        let spots: Vec<(Option<String>, Option<String>)> = contexts(source)
            .into_iter()
            .map(|c| match c {
                Context::HereDoc(s) => (s.prefix.clone(), s.suffix.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(spots, [(Some("".into()), Some("".into())), (Some("x ".into()), None), (None, Some("".into()))]);
    }

    #[test]
    fn branches_that_end_apart_are_refused() {
        assert!(refused("echo {% if a %}\"{% endif %}{{ x }}").contains("`{% if %}`"));
        assert!(refused("echo {% for a in b %}\"{% endfor %}{{ x }}").contains("`{% for %}`"));
        assert!(refused("echo {{ x | safe }}").contains("raw"));
        assert!(refused("{% filter upper %}echo {{ x }}{% endfilter %}").contains("block"));
        assert!(refused("echo `{{ x }}`").contains("backticks"));
    }

    #[test]
    fn the_rewrite_keeps_whitespace_control() {
        let analyzed = analyze("echo a  {{- x -}}  \"{{ y }}\"", Dialect::Posix, &[]).unwrap();
        assert_eq!(
            analyzed.source,
            format!(
                "echo a  {{{{- ( x ) | {}(\"word\") -}}}}  \"{{{{ ( y ) | {}(\"double\") }}}}\"",
                super::super::FILTER,
                super::super::FILTER
            )
        );
    }
}
