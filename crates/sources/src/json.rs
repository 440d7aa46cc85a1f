//! A borrowed, allocation-light walk over one JSON object: the known keys of a format are
//! picked out into [`Value`]s (strings borrowed from the line unless they hold escapes),
//! every other key is skipped without building anything.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{LineError, Reason};

/// Longest list accepted inside a field (COF `rdata` arrays); a line is at most
/// [`crate::MAX_LINE_LEN`] bytes anyway, this only keeps the vector growth predictable.
const MAX_LIST_LEN: usize = 65_536;

/// One JSON value of a known key, kept loose so each format decides what it accepts
/// (passivedns may write numbers as strings, COF `rdata` may be a string or a list).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'de> {
    Str(Cow<'de, str>),
    UInt(u64),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    List(Vec<Value<'de>>),
    Object,
}

impl Value<'_> {
    /// The JSON type name, for wrong-type messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Str(_) => "a string",
            Self::UInt(_) | Self::Int(_) | Self::Float(_) => "a number",
            Self::Bool(_) => "a boolean",
            Self::Null => "null",
            Self::List(_) => "an array",
            Self::Object => "an object",
        }
    }
}

/// Parses `line` as one JSON object, storing the value of `keys[i]` into `slots[i]`.
/// `null` leaves a slot empty, as if the key were absent; a repeated key keeps its last value.
pub(crate) fn read_object<'de>(
    line: &'de [u8],
    keys: &[&'static str],
    slots: &mut [Option<Value<'de>>],
) -> Result<(), LineError> {
    let mut failed_field = None;
    let mut de = serde_json::Deserializer::from_slice(line);
    let walked = de
        .deserialize_map(ObjectVisitor {
            keys,
            slots,
            failed_field: &mut failed_field,
        })
        .and_then(|()| de.end());
    walked.map_err(|e| json_error(line, &e, failed_field))
}

fn json_error(line: &[u8], e: &serde_json::Error, failed_field: Option<&str>) -> LineError {
    use serde_json::error::Category;
    // Only on the failure path: say "invalid_utf8" rather than a confusing syntax error.
    if std::str::from_utf8(line).is_err() {
        return LineError::new(Reason::InvalidUtf8, "line is not valid UTF-8");
    }
    match (e.classify(), failed_field) {
        (Category::Data, Some(field)) => LineError::new(Reason::WrongType, format!("{field}: {e}")),
        (Category::Data, None) => {
            LineError::new(Reason::WrongType, format!("line is not a JSON object: {e}"))
        }
        _ => LineError::new(Reason::InvalidJson, e.to_string()),
    }
}

struct ObjectVisitor<'k, 's, 'de> {
    keys: &'k [&'static str],
    slots: &'s mut [Option<Value<'de>>],
    failed_field: &'s mut Option<&'static str>,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(index) = map.next_key_seed(KeySeed(self.keys))? {
            match index.and_then(|i| Some((self.keys.get(i)?, self.slots.get_mut(i)?))) {
                Some((&key, slot)) => match map.next_value::<Option<Value<'de>>>() {
                    Ok(v) => *slot = v,
                    Err(e) => {
                        *self.failed_field = Some(key);
                        return Err(e);
                    }
                },
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Maps a key to its index in the format's key list without allocating.
struct KeySeed<'k>(&'k [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|k| *k == key))
    }
}

impl<'de> de::Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value<'de>, E> {
        Ok(Value::UInt(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value<'de>, E> {
        Ok(Value::Int(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value<'de>, E> {
        Ok(Value::Float(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Borrowed(v)))
    }

    // Strings with escapes cannot be borrowed from the line.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value<'de>>()? {
            if items.len() == MAX_LIST_LEN {
                return Err(de::Error::custom(format_args!(
                    "array longer than {MAX_LIST_LEN} elements"
                )));
            }
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["a", "b", "c"];

    fn read(line: &str) -> Result<Vec<Option<Value<'_>>>, LineError> {
        let mut slots = vec![None, None, None];
        read_object(line.as_bytes(), KEYS, &mut slots)?;
        Ok(slots)
    }

    #[test]
    fn picks_known_keys_and_borrows() {
        let got =
            read(r#"{"x":{"y":[1,2]},"a":"plain","b":"esc\"aped","c":[1,"s",null]}"#).unwrap();
        assert!(matches!(&got[0], Some(Value::Str(Cow::Borrowed("plain")))));
        assert!(matches!(&got[1], Some(Value::Str(Cow::Owned(s))) if s == "esc\"aped"));
        assert!(matches!(&got[2], Some(Value::List(l)) if l.len() == 3));
    }

    #[test]
    fn numbers_and_null() {
        let got = read(r#"{"a":-3,"b":1.5,"c":null}"#).unwrap();
        assert_eq!(
            got,
            vec![Some(Value::Int(-3)), Some(Value::Float(1.5)), None]
        );
    }

    #[test]
    fn errors() {
        let cases = [
            (r#"{"a":1"#, Reason::InvalidJson),
            (r#"{"a":1} x"#, Reason::InvalidJson),
            (r#"[1,2]"#, Reason::WrongType),
            ("", Reason::InvalidJson),
        ];
        for (line, want) in cases {
            assert_eq!(read(line).unwrap_err().reason, want, "{line}");
        }
        let bad_utf8 = b"{\"a\":\"\xff\"}";
        let mut slots = vec![None, None, None];
        let e = read_object(bad_utf8, KEYS, &mut slots).unwrap_err();
        assert_eq!(e.reason, Reason::InvalidUtf8);
    }
}
