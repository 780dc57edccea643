//! The JSON document as the checks read it: a tree that borrows its strings from the text
//! and keeps each number as written, parsed by serde_json (so malformed JSON is reported
//! exactly as serde_json reports it).
//!
//! It reads like `serde_json::Value` with `preserve_order` and `arbitrary_precision`, and
//! means the same: an object keeps its keys in file order, and a key given twice keeps its
//! first place and its last value. What it saves is allocations and memory: one allocation
//! per non-empty object or array, none per number of up to 22 characters or per string or
//! key without escapes, which is what makes files of hundreds of thousands of actors quick
//! to load, and 24 bytes per value, which bounds the memory any file takes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value, in 24 bytes: the tree of a dense file holds one per two bytes of text
/// (`0,0,0`), so its size is what bounds the memory of reading any file. Hence no
/// allocation for a number that fits [`Short`], none for a string without escapes, and
/// arrays and objects as boxed slices (no spare capacity kept). Read it through
/// [`view`](Json::view).
#[derive(Debug)]
pub(super) enum Json<'a> {
    Null,
    Bool(bool),
    /// A number, as written in the file, short enough to keep inline.
    ShortNumber(Short),
    /// A number, as written in the file.
    Number(Box<str>),
    /// A string without escapes, borrowed from the text.
    Str(&'a str),
    /// A string with escapes, unescaped.
    OwnedStr(Box<str>),
    Array(Box<[Json<'a>]>),
    Object(Object<'a>),
}

/// What a [`Json`] holds, in the kinds JSON has.
#[derive(Clone, Copy, Debug)]
pub(super) enum View<'v, 'a> {
    Null,
    Bool(bool),
    /// A number, as written in the file.
    Number(&'v str),
    Str(&'v str),
    Array(&'v [Json<'a>]),
    Object(&'v Object<'a>),
}

/// Text of at most [`Short::CAPACITY`] bytes, kept inline: the number text of nearly every
/// file, which would otherwise take an allocation of its own.
#[derive(Clone, Copy, Debug)]
pub(super) struct Short {
    len: u8,
    bytes: [u8; Short::CAPACITY],
}

impl Short {
    /// As much as leaves a [`Json`] 24 bytes long, with its tag and this length.
    const CAPACITY: usize = 22;

    fn new(text: &str) -> Option<Short> {
        let len = u8::try_from(text.len())
            .ok()
            .filter(|&len| usize::from(len) <= Short::CAPACITY)?;
        let mut bytes = [0; Short::CAPACITY];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Some(Short { len, bytes })
    }

    fn as_str(&self) -> &str {
        // Always whole: the bytes were copied from a `str`, up to `len`.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// A JSON object: its entries in file order, each key once.
#[derive(Debug, Default)]
pub(super) struct Object<'a> {
    entries: Box<[(Cow<'a, str>, Json<'a>)]>,
}

impl<'a> Json<'a> {
    /// Parses `text`.
    pub(super) fn parse(text: &'a str) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// What this value is.
    pub(super) fn view(&self) -> View<'_, 'a> {
        match self {
            Json::Null => View::Null,
            Json::Bool(b) => View::Bool(*b),
            Json::ShortNumber(n) => View::Number(n.as_str()),
            Json::Number(n) => View::Number(n),
            Json::Str(s) => View::Str(s),
            Json::OwnedStr(s) => View::Str(s),
            Json::Array(elements) => View::Array(elements),
            Json::Object(object) => View::Object(object),
        }
    }

    /// A number, from its text as written.
    fn number(text: String) -> Json<'a> {
        match Short::new(&text) {
            Some(short) => Json::ShortNumber(short),
            None => Json::Number(text.into_boxed_str()),
        }
    }

    /// The string, if this is one.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self.view() {
            View::Str(s) => Some(s),
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
        Ok(Json::number(n.to_string()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::number(n.to_string()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        Ok(Json::number(n.to_string()))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::OwnedStr(s.into()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::OwnedStr(s.into_boxed_str()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut elements = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(element) = seq.next_element()? {
            elements.push(element);
        }
        Ok(Json::Array(exact(elements)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let Some(first) = map.next_key_seed(KeySeed)? else {
            return Ok(Json::Object(Object::default()));
        };
        if first == NUMBER_TOKEN {
            return Ok(Json::number(map.next_value()?));
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
        Ok(Json::Object(Object {
            entries: exact(entries),
        }))
    }
}

/// Up to this many elements, [`exact`] copies rather than shrinks.
const COPIED_ELEMENTS: usize = 32;

/// `elements` in a slice of their number. A small vector is copied, not shrunk in place:
/// shrinking leaves a small hole behind each array, of a size the allocator hardly ever
/// reuses, and arrays nested a hundred deep then took 55 times the size of their text;
/// the copy frees the whole buffer, which the next array's first elements take again.
fn exact<T>(mut elements: Vec<T>) -> Box<[T]> {
    if elements.len() < elements.capacity() && elements.capacity() <= COPIED_ELEMENTS {
        let mut copy = Vec::with_capacity(elements.len());
        copy.append(&mut elements);
        return copy.into_boxed_slice();
    }
    elements.into_boxed_slice()
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
        assert!(matches!(
            root.get("b").map(Json::view),
            Some(View::Number("7"))
        ));
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(value["b"].to_string(), "7");
        let Json::Object(a) = root.get("a").unwrap() else {
            panic!("an object")
        };
        assert!(matches!(a.get("k").map(Json::view), Some(View::Null)));
        assert!(matches!(a.get("t").map(Json::view), Some(View::Bool(true))));
        // Numbers keep the text serde_json's own values keep.
        // The last number is too long to keep inline.
        let text = r#"[1, -2.50, 1e400, 0.1E-7, 123456789012345678901234567890, "x\ty"]"#;
        let Json::Array(list) = Json::parse(text).unwrap() else {
            panic!("an array")
        };
        let serde_json::Value::Array(theirs) = serde_json::from_str(text).unwrap() else {
            panic!("an array")
        };
        for (ours, theirs) in list[..5].iter().zip(&theirs) {
            let View::Number(ours) = ours.view() else {
                panic!("{ours:?}")
            };
            assert_eq!(ours, theirs.to_string());
        }
        assert!(matches!(list[1].view(), View::Number("-2.50")));
        assert_eq!(list[5].as_str(), Some("x\ty"));
    }

    #[test]
    fn a_value_takes_24_bytes() {
        assert_eq!(size_of::<Json<'_>>(), 24);
    }

    #[test]
    fn numbers_inline_and_not_keep_their_text() {
        let inline = "-1234567890.1234567e+9";
        let boxed = "-1234567890.12345678e+9";
        assert_eq!(inline.len(), Short::CAPACITY);
        let text = format!("[{inline}, {boxed}]");
        let Json::Array(list) = Json::parse(&text).unwrap() else {
            panic!("an array")
        };
        assert!(matches!(list[0], Json::ShortNumber(_)));
        assert!(matches!(list[1], Json::Number(_)));
        assert!(matches!(list[0].view(), View::Number(n) if n == inline));
        assert!(matches!(list[1].view(), View::Number(n) if n == boxed));
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
        assert!(matches!(
            root.get("k5").map(Json::view),
            Some(View::Number("35"))
        ));
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
