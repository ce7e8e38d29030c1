//! Numbers as their files wrote them.
//!
//! A YAML or JSON parser hands on a number's value, not its text: `007` becomes `7`,
//! `18446744073709551617` a rounded float, `-0` a zero. A value reaches a command as text, so
//! a number keeps its value only where it prints back as written (`42`, `-3`, `1.5`, which
//! template arithmetic can use); any other spelling arrives as a string of exactly its text.

use std::fmt;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Number, Value as Json};

use super::raw::{RawJob, RawJobFile};

/// `number`, written as `text`: the number when it prints back as `text`, else the text.
pub fn settle(number: Number, text: &str) -> Json {
    if printed(&number) == text { Json::Number(number) } else { Json::String(text.to_owned()) }
}

/// How a template prints a number: integers in full, floats with at least one decimal.
fn printed(number: &Number) -> String {
    if number.is_i64() || number.is_u64() {
        return number.to_string();
    }
    let mut text = number.as_f64().map(|f| f.to_string()).unwrap_or_default();
    if !text.contains('.') {
        text.push_str(".0");
    }
    text
}

/// A scalar read as text: a number where it prints back as written, `text` otherwise.
pub fn scalar_text(parsed: Json, text: &str) -> Json {
    match parsed {
        Json::Number(n) => settle(n, text),
        other => other,
    }
}

/// One JSON value with its numbers as written (`{"id": 007}` is not JSON, but
/// `18446744073709551617`, `1e400` and `-0` are).
pub fn json(text: &str) -> Result<Json, serde_json::Error> {
    let raw: &RawValue = serde_json::from_str(text)?;
    from_raw(raw)
}

fn from_raw(raw: &RawValue) -> Result<Json, serde_json::Error> {
    let text = raw.get();
    Ok(match text.as_bytes().first() {
        Some(b'{') => {
            let map: IndexMap<String, &RawValue> = serde_json::from_str(text)?;
            Json::Object(map.into_iter().map(|(k, v)| Ok((k, from_raw(v)?))).collect::<Result<_, serde_json::Error>>()?)
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)?;
            Json::Array(items.into_iter().map(from_raw).collect::<Result<_, _>>()?)
        }
        Some(b'-' | b'0'..=b'9') => match serde_json::from_str::<Number>(text) {
            Ok(n) => settle(n, text),
            // Beyond what a float holds (`1e400`): text.
            Err(_) => Json::String(text.to_owned()),
        },
        _ => serde_json::from_str(text)?,
    })
}

/// Reads the job file's text again and puts back, in its vars, inline items and matrix values,
/// each number written in another form than it prints as (see [`settle`]). The file was read
/// once already, so this pass cannot fail where that one did not; if it does, the numbers stay
/// as parsed.
pub fn restore(text: &str, raw: &mut RawJobFile) {
    let _ = serde_saphyr::with_deserializer_from_str_with_options(text, super::parse_options(), |de| {
        Root(raw).deserialize(de)
    });
}

struct Root<'a>(&'a mut RawJobFile);

impl<'de> DeserializeSeed<'de> for Root<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Root<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a job file")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "vars" => map.next_value_seed(Values(
                    self.0.vars.iter_mut().map(|(k, v)| (&k.value[..], &mut v.value)).collect(),
                ))?,
                "jobs" => match &mut self.0.jobs {
                    Some(jobs) => {
                        map.next_value_seed(Jobs(jobs.iter_mut().map(|(k, v)| (&k.value[..], &mut v.value)).collect()))?
                    }
                    None => map.next_value::<IgnoredAny>().map(drop)?,
                },
                _ => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }
}

/// A map of names to values, each read with its [`Guided`] counterpart.
struct Values<'a>(Vec<(&'a str, &'a mut Json)>);

impl<'de> DeserializeSeed<'de> for Values<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Values<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match self.0.iter_mut().find(|(k, _)| *k == key) {
                Some((_, value)) => map.next_value_seed(Guided(value))?,
                None => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }
}

struct Jobs<'a>(Vec<(&'a str, &'a mut RawJob)>);

impl<'de> DeserializeSeed<'de> for Jobs<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Jobs<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of jobs")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match self.0.iter_mut().find(|(k, _)| *k == key) {
                Some((_, job)) => map.next_value_seed(Job(job))?,
                None => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }
}

struct Job<'a>(&'a mut RawJob);

impl<'de> DeserializeSeed<'de> for Job<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Job<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a job")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let job = self.0;
        while let Some(key) = map.next_key::<String>()? {
            match (key.as_str(), &mut job.items, &mut job.matrix) {
                ("items", Some(items), _) => map.next_value_seed(Guided(&mut items.value))?,
                ("matrix", _, Some(matrix)) => map.next_value_seed(Values(
                    matrix.value.iter_mut().map(|(k, v)| (&k.value[..], &mut v.value)).collect(),
                ))?,
                _ => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }
}

/// Reads a value whose shape the first pass found, asking for each number's text.
struct Guided<'a>(&'a mut Json);

/// What YAML reads a non-finite float as, when the first pass kept it as this canonical text.
const NON_FINITE: [&str; 3] = [".inf", "-.inf", ".nan"];

impl<'de> DeserializeSeed<'de> for Guided<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.0 {
            Json::Array(_) => d.deserialize_seq(self),
            Json::Object(_) => d.deserialize_map(self),
            Json::Number(n) => {
                let text = String::deserialize(d)?;
                *self.0 = settle(n.clone(), text.trim());
                Ok(())
            }
            Json::String(s) if NON_FINITE.contains(&s.as_str()) => {
                *self.0 = Json::String(String::deserialize(d)?);
                Ok(())
            }
            _ => d.deserialize_ignored_any(IgnoredAny).map(drop),
        }
    }
}

impl<'de> Visitor<'de> for Guided<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let Json::Array(items) = self.0 {
            for item in items.iter_mut() {
                if seq.next_element_seed(Guided(item))?.is_none() {
                    break;
                }
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Json::Object(fields) = self.0 else { return Ok(()) };
        while let Some(key) = map.next_key::<String>()? {
            match fields.get_mut(&key) {
                Some(value) => map.next_value_seed(Guided(value))?,
                None => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_value_only_where_they_print_as_written() {
        for (text, kept) in [("42", true), ("-3", true), ("1.5", true), ("1.0", true), ("007", false), ("-0", false)] {
            let parsed: Json = serde_saphyr::from_str(text).expect(text);
            let settled = scalar_text(parsed, text);
            assert_eq!(settled.is_number(), kept, "{text}: {settled:?}");
            if !kept {
                assert_eq!(settled, Json::String(text.into()));
            }
        }
    }

    #[test]
    fn json_values_keep_their_numbers_text() {
        let value = json(r#"{"big": 18446744073709551617, "neg": -0, "huge": 1e400, "n": 42, "f": 1.0, "e": 1e3, "s": "x", "a": [1]}"#)
            .expect("JSON");
        assert_eq!(value["big"], Json::from("18446744073709551617"));
        assert_eq!(value["neg"], Json::from("-0"));
        assert_eq!(value["huge"], Json::from("1e400"));
        assert_eq!(value["n"], Json::from(42));
        assert_eq!(value["f"], Json::from(1.0));
        assert_eq!(value["e"], Json::from("1e3"));
        assert_eq!(value["s"], Json::from("x"));
        assert_eq!(value["a"], serde_json::json!([1]));
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "big", "order is kept");
    }
}
