//! One JSONL line: a JSON object whose text field is a document.
//!
//! The line is parsed by serde_json with a visitor that appends the field's string straight
//! into the batch buffer (a borrowed slice of the line when it has no escapes, serde_json's
//! scratch buffer when it has), skips every other value without building it, and reports
//! what it found instead when the field is missing or not a string. So a line costs no
//! allocation, whatever its shape.

mod fast;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// What a line held.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The field's string was appended to the buffer.
    Text,
    /// Nothing but whitespace: not a document.
    Blank,
    /// An object without the field.
    Missing,
    /// The field is there but is not a string; says what it is ("a number").
    NotString(&'static str),
    /// The line is JSON but not an object; says what it is.
    NotObject(&'static str),
}

/// Parses `line`, appending the string in `field` to `out` when there is one. On any
/// outcome other than [`Line::Text`] (errors included) `out` may hold part of a value: the
/// caller truncates it.
pub fn parse_line(line: &[u8], field: &str, out: &mut Vec<u8>) -> Result<Line, serde_json::Error> {
    let start = out.len();
    if fast::parse_line(line, field, out) {
        return Ok(Line::Text);
    }
    out.truncate(start);
    parse_line_serde(line, field, out)
}

/// Whether a line holds nothing but whitespace, and so no document.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// [`parse_line`] by serde_json alone: every line, and what is wrong with a bad one.
fn parse_line_serde(
    line: &[u8],
    field: &str,
    out: &mut Vec<u8>,
) -> Result<Line, serde_json::Error> {
    if is_blank(line) {
        return Ok(Line::Blank);
    }
    let mut de = serde_json::Deserializer::from_slice(line);
    let found = LineSeed { field, out }.deserialize(&mut de)?;
    de.end()?;
    Ok(found)
}

/// serde_json's messages end in " at line 1 column N", which would confuse next to the line
/// number of the file; this gives the message alone and the column.
pub fn describe(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) => &full[..i],
        None => &full,
    };
    if e.column() > 0 {
        format!("{message} (column {})", e.column())
    } else {
        message.to_string()
    }
}

/// Visits every kind of JSON value the same way except strings: consumes the value and
/// returns `$make(kind)` with its kind in words.
macro_rules! other_kinds {
    ($make:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($make("a boolean"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($make("a number"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($make("a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($make("a number"))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($make("null"))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($make("an array"))
        }
    };
}

/// The whole line.
struct LineSeed<'a> {
    field: &'a str,
    out: &'a mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for LineSeed<'_> {
    type Value = Line;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Line, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LineSeed<'_> {
    type Value = Line;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON object with a string field {:?}", self.field)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Line, A::Error> {
        let start = self.out.len();
        let mut found = Line::Missing;
        while let Some(is_field) = map.next_key_seed(KeyIs(self.field))? {
            if is_field {
                // The last occurrence of a repeated key wins, as with Python's json.loads.
                self.out.truncate(start);
                found = map.next_value_seed(AppendStr(&mut *self.out))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Line, E> {
        Ok(Line::NotObject("a string"))
    }

    other_kinds!(Line::NotObject);
}

/// A key, compared with the field name without being copied.
struct KeyIs<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// The field's value: appended if it is a string.
struct AppendStr<'a>(&'a mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for AppendStr<'_> {
    type Value = Line;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Line, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AppendStr<'_> {
    type Value = Line;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Line, E> {
        self.0.extend_from_slice(text.as_bytes());
        Ok(Line::Text)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Line, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Line::NotString("an object"))
    }

    other_kinds!(Line::NotString);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> (Result<Line, String>, String) {
        let mut out = b"prefix:".to_vec();
        let r = parse_line(line.as_bytes(), "text", &mut out).map_err(|e| describe(&e));
        (r, String::from_utf8(out).unwrap())
    }

    #[test]
    fn finds_the_text_whatever_surrounds_it() {
        assert_eq!(
            parse(r#"{"id": [1, {"a": null}], "text": "hi\n\u00e9", "x": {"text": 5}}"#),
            (Ok(Line::Text), "prefix:hi\né".into())
        );
        assert_eq!(
            parse(r#"{"text": "one", "text": "two"}"#),
            (Ok(Line::Text), "prefix:two".into())
        );
        assert_eq!(parse("  \r"), (Ok(Line::Blank), "prefix:".into()));
        assert_eq!(parse(r#"{"text": ""}"#), (Ok(Line::Text), "prefix:".into()));
    }

    #[test]
    fn says_what_is_wrong() {
        assert_eq!(parse(r#"{"txt": "a"}"#).0, Ok(Line::Missing));
        assert_eq!(parse(r#"{"text": 12}"#).0, Ok(Line::NotString("a number")));
        assert_eq!(parse(r#"{"text": null}"#).0, Ok(Line::NotString("null")));
        assert_eq!(
            parse(r#"{"text": ["a"]}"#).0,
            Ok(Line::NotString("an array"))
        );
        assert_eq!(parse(r#"{"text": {}}"#).0, Ok(Line::NotString("an object")));
        assert_eq!(parse(r#"["a"]"#).0, Ok(Line::NotObject("an array")));
        assert_eq!(parse(r#""a""#).0, Ok(Line::NotObject("a string")));
        let (r, _) = parse(r#"{"text": "a"#);
        assert!(r
            .unwrap_err()
            .starts_with("EOF while parsing a string (column"));
        let (r, _) = parse(r#"{"text": "a"} x"#);
        assert!(r.unwrap_err().starts_with("trailing characters"));
    }
}
