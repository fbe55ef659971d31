//! [`Arguments`]: every argument of an event, passed through unchanged.

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// All the arguments of an event.
///
/// socketioxide hands a handler the first argument unless the type is tuple-like, and emits a tuple-like
/// value as separate arguments; this type is a tuple of any length, so arguments pass through unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arguments(pub Vec<Value>);

impl Serialize for Arguments {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for value in &self.0 {
            tuple.serialize_element(value)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Arguments {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArgumentsVisitor;
        impl<'de> Visitor<'de> for ArgumentsVisitor {
            type Value = Arguments;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of event arguments")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Arguments, S::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(value) = seq.next_element()? {
                    values.push(value);
                }
                Ok(Arguments(values))
            }
        }
        deserializer.deserialize_tuple(usize::MAX, ArgumentsVisitor)
    }
}
