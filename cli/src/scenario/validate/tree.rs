//! The JSON document as the checks read it: a tree that borrows its strings from the text
//! and keeps each number as written, parsed by serde_json (so malformed JSON is reported
//! exactly as serde_json reports it).
//!
//! It reads like `serde_json::Value` with `preserve_order` and `arbitrary_precision`, and
//! means the same: an object keeps its keys in file order, and a key given twice keeps its
//! first place and its last value. What it saves is allocations: one per object or array
//! and one per number, none per string or key without escapes, which is what makes files
//! of hundreds of thousands of actors quick to load.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value.
#[derive(Debug)]
pub(super) enum Json<'a> {
    Null,
    Bool(bool),
    /// A number, as written in the file.
    Number(String),
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// A JSON object: its entries in file order, each key once.
#[derive(Debug, Default)]
pub(super) struct Object<'a> {
    entries: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Json<'a> {
    /// Parses `text`.
    pub(super) fn parse(text: &'a str) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The string, if this is one.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value at `key`, if this is an object that has it.
    pub(super) fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(object) => object.get(key),
            _ => None,
        }
    }

    /// The element at `index`, if this is an array that long.
    pub(super) fn at(&self, index: usize) -> Option<&Json<'a>> {
        match self {
            Json::Array(elements) => elements.get(index),
            _ => None,
        }
    }
}

impl<'a> Object<'a> {
    /// The value at `key`.
    pub(super) fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.entries
            .iter()
            .find_map(|(k, v)| (k.as_ref() == key).then_some(v))
    }

    /// The keys, in file order.
    pub(super) fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }

    /// The entries, in file order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v))
    }
}

/// The key serde_json gives the one entry of the map a number arrives as, with its text as
/// the value, under `arbitrary_precision` (`serde_json::Value` tells numbers apart the same
/// way).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Objects with more keys than this find duplicates through an index, not a scan.
const SCANNED_KEYS: usize = 16;

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    // Numbers come as maps (see `NUMBER_TOKEN`); these only serve other deserializers.
    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.to_string()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.to_string()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.to_string()))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut elements = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(element) = seq.next_element()? {
            elements.push(element);
        }
        Ok(Json::Array(elements))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let Some(first) = map.next_key_seed(KeySeed)? else {
            return Ok(Json::Object(Object::default()));
        };
        if first == NUMBER_TOKEN {
            return Ok(Json::Number(map.next_value()?));
        }
        let mut entries = vec![(first, map.next_value()?)];
        // Built only for large objects: where each key sits in `entries`.
        // Borrowed keys (most keys: those without escapes) go in without a copy.
        let mut index: HashMap<Cow<'de, str>, usize> = HashMap::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value: Json<'de> = map.next_value()?;
            if entries.len() == SCANNED_KEYS {
                index = entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect();
            }
            let seen = if entries.len() < SCANNED_KEYS {
                entries.iter().position(|(k, _)| *k == key)
            } else {
                index.get(key.as_ref()).copied()
            };
            match seen {
                Some(i) => entries[i].1 = value,
                None => {
                    if entries.len() >= SCANNED_KEYS {
                        index.insert(key.clone(), entries.len());
                    }
                    entries.push((key, value));
                }
            }
        }
        Ok(Json::Object(Object { entries }))
    }
}

/// Reads a key, borrowing it from the text when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_serde_json_values() {
        let text = r#"{"b": [1, -2.50, 1e400, "x\ty"], "a": {"k": null, "t": true}, "b": 7}"#;
        let Json::Object(root) = Json::parse(text).unwrap() else {
            panic!("an object")
        };
        // A key given twice keeps its first place and its last value.
        assert_eq!(root.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert!(matches!(root.get("b"), Some(Json::Number(n)) if n == "7"));
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(value["b"].to_string(), "7");
        let Json::Object(a) = root.get("a").unwrap() else {
            panic!("an object")
        };
        assert!(matches!(a.get("k"), Some(Json::Null)));
        assert!(matches!(a.get("t"), Some(Json::Bool(true))));
        // Numbers keep the text serde_json's own values keep.
        let text = r#"[1, -2.50, 1e400, 0.1E-7, 123456789012345678901234567890, "x\ty"]"#;
        let Json::Array(list) = Json::parse(text).unwrap() else {
            panic!("an array")
        };
        let serde_json::Value::Array(theirs) = serde_json::from_str(text).unwrap() else {
            panic!("an array")
        };
        for (ours, theirs) in list[..5].iter().zip(&theirs) {
            let Json::Number(ours) = ours else {
                panic!("{ours:?}")
            };
            assert_eq!(*ours, theirs.to_string());
        }
        assert!(matches!(&list[1], Json::Number(n) if n == "-2.50"));
        assert_eq!(list[5].as_str(), Some("x\ty"));
    }

    #[test]
    fn duplicates_in_large_objects() {
        let mut text = String::from("{");
        for i in 0..40 {
            text.push_str(&format!("\"k{}\": {i},", i % 30));
        }
        text.push_str("\"k0\": \"last\"}");
        let Json::Object(root) = Json::parse(&text).unwrap() else {
            panic!("an object")
        };
        assert_eq!(root.keys().count(), 30);
        assert_eq!(root.keys().next(), Some("k0"));
        assert_eq!(root.get("k0").and_then(Json::as_str), Some("last"));
        assert!(matches!(root.get("k5"), Some(Json::Number(n)) if n == "35"));
    }

    #[test]
    fn malformed_json_fails_as_serde_json_does() {
        for text in ["{\"a\": [1, 2,]}", "", "[1", "{\"a\" 1}", "NaN"] {
            let ours = Json::parse(text).unwrap_err().to_string();
            let theirs = serde_json::from_str::<serde_json::Value>(text)
                .unwrap_err()
                .to_string();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }
}
