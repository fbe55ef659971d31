//! Event arguments as they travel: any JSON value, with binary attachments anywhere inside.
//!
//! `serde_json::Value` cannot hold bytes, so an event with a `Uint8Array` or a `Buffer` in it could not
//! be read at all. [`Argument`] holds everything a Socket.IO event can carry and writes it back the
//! same: binary as binary (the Socket.IO parser turns it into an attachment), object keys in the order
//! they came, numbers as they were.

use std::fmt;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Number;

/// One argument of an event, or a value inside one.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Argument {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    /// A binary attachment (`Uint8Array`, `ArrayBuffer`, `Buffer`, `bytes`).
    Binary(Vec<u8>),
    Array(Vec<Argument>),
    /// Keys in the order they arrived.
    Object(Vec<(String, Argument)>),
}

impl Argument {
    /// The size of this value on the wire: its JSON text, with each binary attachment counted as its
    /// length in bytes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Argument::Null => 4,
            Argument::Bool(b) => {
                if *b {
                    4
                } else {
                    5
                }
            }
            Argument::Number(n) => n.to_string().len(),
            Argument::String(s) => json_len(s),
            Argument::Binary(bytes) => bytes.len(),
            Argument::Array(items) => list_len(items.len(), items.iter().map(Argument::encoded_len).sum()),
            Argument::Object(entries) => list_len(
                entries.len(),
                entries.iter().map(|(key, value)| json_len(key) + 1 + value.encoded_len()).sum(),
            ),
        }
    }

    /// Whether a binary attachment is anywhere inside.
    pub fn has_binary(&self) -> bool {
        match self {
            Argument::Binary(_) => true,
            Argument::Array(items) => items.iter().any(Argument::has_binary),
            Argument::Object(entries) => entries.iter().any(|(_, value)| value.has_binary()),
            _ => false,
        }
    }
}

/// The length of a JSON array or object of `items` whose own lengths add up to `content`.
fn list_len(items: usize, content: usize) -> usize {
    2 + content + items.saturating_sub(1)
}

/// The length of `s` as a JSON string, quotes and escapes included.
fn json_len(s: &str) -> usize {
    serde_json::to_string(s).map_or(s.len() + 2, |json| json.len())
}

impl From<serde_json::Value> for Argument {
    fn from(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Argument::Null,
            serde_json::Value::Bool(b) => Argument::Bool(b),
            serde_json::Value::Number(n) => Argument::Number(n),
            serde_json::Value::String(s) => Argument::String(s),
            serde_json::Value::Array(items) => {
                Argument::Array(items.into_iter().map(Argument::from).collect())
            }
            serde_json::Value::Object(entries) => Argument::Object(
                entries.into_iter().map(|(key, value)| (key, Argument::from(value))).collect(),
            ),
        }
    }
}

impl Serialize for Argument {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Argument::Null => serializer.serialize_unit(),
            Argument::Bool(b) => serializer.serialize_bool(*b),
            Argument::Number(n) => n.serialize(serializer),
            Argument::String(s) => serializer.serialize_str(s),
            Argument::Binary(bytes) => serializer.serialize_bytes(bytes),
            Argument::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Argument::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Argument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ArgumentVisitor)
    }
}

struct ArgumentVisitor;

impl<'de> Visitor<'de> for ArgumentVisitor {
    type Value = Argument;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value or binary data")
    }

    fn visit_unit<E>(self) -> Result<Argument, E> {
        Ok(Argument::Null)
    }

    fn visit_none<E>(self) -> Result<Argument, E> {
        Ok(Argument::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Argument, D::Error> {
        Argument::deserialize(deserializer)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Argument, E> {
        Ok(Argument::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Argument, E> {
        Ok(Argument::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Argument, E> {
        Ok(Argument::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Argument, E> {
        // JSON has no NaN or infinity; serde_json never produces them.
        Ok(Number::from_f64(n).map_or(Argument::Null, Argument::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Argument, E> {
        Ok(Argument::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Argument, E> {
        Ok(Argument::String(s))
    }

    fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Argument, E> {
        Ok(Argument::Binary(bytes.to_vec()))
    }

    fn visit_byte_buf<E>(self, bytes: Vec<u8>) -> Result<Argument, E> {
        Ok(Argument::Binary(bytes))
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Argument, S::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Argument::Array(items))
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Argument, M::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Argument::Object(entries))
    }
}

/// All the arguments of an event, however many.
///
/// socketioxide hands a handler the first argument unless the type is tuple-like, and emits a tuple-like
/// value as separate arguments; this type is a tuple of any length, so arguments pass through unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arguments(pub Vec<Argument>);

impl Arguments {
    /// The size of the arguments on the wire (see [`Argument::encoded_len`]).
    pub fn encoded_len(&self) -> usize {
        list_len(self.0.len(), self.0.iter().map(Argument::encoded_len).sum())
    }
}

impl Serialize for Arguments {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for argument in &self.0 {
            tuple.serialize_element(argument)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Arguments {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArgumentsVisitor;
        impl<'de> Visitor<'de> for ArgumentsVisitor {
            type Value = Arguments;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of event arguments")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Arguments, S::Error> {
                let mut arguments = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(1024));
                while let Some(argument) = seq.next_element()? {
                    arguments.push(argument);
                }
                Ok(Arguments(arguments))
            }
        }
        deserializer.deserialize_tuple(usize::MAX, ArgumentsVisitor)
    }
}

/// Arguments followed by one more, last argument: a published event as a client that asked for the
/// event's metadata receives it.
#[derive(Debug, Clone, Copy)]
pub struct WithTrailing<'a, T: ?Sized, M>(pub &'a T, pub &'a M);

impl<M: Serialize> Serialize for WithTrailing<'_, Arguments, M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.0.len() + 1)?;
        for argument in &self.0.0 {
            tuple.serialize_element(argument)?;
        }
        tuple.serialize_element(self.1)?;
        tuple.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_with_key_order_kept() {
        let text = r#"[{"b":1,"a":[true,null,"x",1.5,-3]},"two"]"#;
        let arguments: Arguments = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&arguments).unwrap(), text);
        assert_eq!(arguments.encoded_len(), text.len());
    }

    #[test]
    fn from_json_value() {
        let argument = Argument::from(json!({"n": 1, "s": "x"}));
        assert_eq!(serde_json::to_value(&argument).unwrap(), json!({"n": 1, "s": "x"}));
        assert!(!argument.has_binary());
    }

    #[test]
    fn binary_is_kept_and_counted_by_its_length() {
        let argument = Argument::Array(vec![Argument::Binary(vec![1, 2, 3]), Argument::Null]);
        assert!(argument.has_binary());
        assert_eq!(argument.encoded_len(), 2 + 3 + 1 + 4);
    }

    #[test]
    fn trailing_argument_comes_last() {
        let arguments = Arguments(vec![Argument::String("bar".into())]);
        let meta = json!({"namespace": "/"});
        let with_meta = serde_json::to_value(WithTrailing(&arguments, &meta)).unwrap();
        assert_eq!(with_meta, json!(["bar", {"namespace": "/"}]));
    }
}
