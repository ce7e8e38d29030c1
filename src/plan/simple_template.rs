//! A fast path for the most common command template: text and `{{ name }}` substitutions.
//!
//! Rendering through minijinja's VM costs about half a microsecond per task, most of a range
//! job's planning time. A template that is only literal text and plain names renders the same
//! by direct substitution through the same formatter, so those skip the VM. Anything else
//! (filters, expressions, attributes, blocks, whitespace control, a trailing newline, which
//! minijinja trims) returns `None` and takes the VM. Each name carries the shell context the
//! template gives it, so both paths escape alike; a property test checks they agree.

use std::sync::Arc;

use minijinja::Value;

use crate::plan::quoting::{self, Context, QuoteError};

/// Jinja literals that look like names.
const LITERALS: &[&str] = &["true", "false", "none", "True", "False", "None"];

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Name(Arc<str>, Context),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimpleTemplate {
    parts: Vec<Part>,
}

impl SimpleTemplate {
    /// The template's parts, when it is simple enough for the fast path.
    pub fn parse(source: &str) -> Option<SimpleTemplate> {
        if source.ends_with(['\n', '\r']) || source.contains("{%") || source.contains("{#") {
            return None;
        }
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            let (text, after) = rest.split_at(open);
            if text.contains("}}") {
                return None;
            }
            if !text.is_empty() {
                parts.push(Part::Text(text.to_owned()));
            }
            let close = after.find("}}")?;
            let inner = &after[2..close];
            let name = inner.trim();
            let identifier = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !identifier || LITERALS.contains(&name) || inner.starts_with('-') || inner.ends_with('-') {
                return None;
            }
            parts.push(Part::Name(Arc::from(name), Context::Word));
            rest = &after[close + 2..];
        }
        if rest.contains("}}") {
            return None;
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Some(SimpleTemplate { parts })
    }

    /// Gives each name, in order, the context the template's analysis found for it; `None` when
    /// the counts differ (the VM then renders).
    pub fn with_contexts(mut self, contexts: &[Context]) -> Option<SimpleTemplate> {
        let mut contexts = contexts.iter();
        for part in &mut self.parts {
            if let Part::Name(_, context) = part {
                *context = contexts.next()?.clone();
            }
        }
        contexts.next().is_none().then_some(self)
    }

    /// Renders with `lookup` for names, each value escaped for its context. `None` when a name
    /// has no value (the caller then reports it through the VM).
    pub fn render(&self, lookup: impl Fn(&str) -> Option<Value>) -> Option<Result<String, QuoteError>> {
        let mut out = String::with_capacity(64);
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Name(name, context) => {
                    let value = lookup(name)?;
                    if let Err(e) = quoting::push(&mut out, context, &value) {
                        return Some(Err(e));
                    }
                }
            }
        }
        Some(Ok(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::quoting::Dialect;
    use crate::plan::template::{self, COMMAND_SUFFIX};
    use proptest::prelude::*;

    #[test]
    fn only_plain_substitutions_are_simple() {
        assert!(SimpleTemplate::parse("./x.sh {{ start }} {{end}} > out/{{ index }}.csv").is_some());
        assert!(SimpleTemplate::parse("no vars at all").is_some());
        for not_simple in [
            "{{ a | upper }}",
            "{{ a.b }}",
            "{{ a + 1 }}",
            "{% if a %}x{% endif %}",
            "{# c #}",
            "{{- a }}",
            "{{ a -}}",
            "{{ true }}",
            "x\n",
            "{{ a }",
            "a }} b",
            "{{ 1a }}",
        ] {
            assert_eq!(SimpleTemplate::parse(not_simple), None, "{not_simple}");
        }
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            "[ -~]{0,12}".prop_map(Value::from),
            "[a-z;&|$ '\"\\\\`\n]{0,8}".prop_map(Value::from),
        ]
    }

    proptest! {
        /// The fast path renders exactly what minijinja renders, through the same formatter.
        #[test]
        fn agrees_with_minijinja(
            pieces in prop::collection::vec(("[a-z ./>'\"-]{0,6}", prop::option::of(0usize..3)), 0..6),
            values in prop::collection::vec(value(), 3),
        ) {
            let names = ["start", "end", "item"];
            let source: String = pieces.iter().map(|(text, var)| match var {
                Some(i) => format!("{text}{{{{ {} }}}}", names[*i]),
                None => text.clone(),
            }).collect();
            let Some(simple) = SimpleTemplate::parse(&source) else { return Ok(()) };

            let mut env = template::environment();
            let name = format!("t{COMMAND_SUFFIX}");
            let Ok(analyzed) = template::add_command(&mut env, name.clone(), &source, Dialect::Posix, &[]) else { return Ok(()) };
            let simple = simple.with_contexts(&analyzed.contexts).expect("one context per name");
            let ctx: Vec<(Arc<str>, Value)> = names.iter().zip(&values).map(|(n, v)| (Arc::from(*n), v.clone())).collect();
            let scope = template::Scope { own: ctx.clone(), ..template::Scope::of_vars(Arc::new(vec![])) };
            let expected = env.get_template(&name).unwrap().render(Value::from_object(scope)).unwrap();

            let lookup = |n: &str| ctx.iter().find(|(k, _)| &**k == n).map(|(_, v)| v.clone());
            let got = simple.render(lookup).unwrap().unwrap();
            prop_assert_eq!(got, expected);
        }
    }
}
