//! A kept event as the in-memory history holds it: a published event's name and arguments packed into
//! one MessagePack buffer, instead of the tree of small allocations an [`Arguments`] value is (an
//! 84-byte JSON object took 833 bytes kept as a tree, 205 packed: BENCHMARKS.md "History").
//!
//! MessagePack keeps everything an argument can carry as it was: binary as binary, object keys in their
//! order, numbers as integers or as the exact `f64`. A replay unpacks the events it sends.

use std::cell::RefCell;
use std::sync::Arc;

use hub_protocol::Arguments;

use super::Event;

thread_local! {
    /// Where events are packed before they are copied into a block of their size.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The largest scratch buffer a thread keeps between events.
const SCRATCH_KEPT: usize = 64 << 10;

/// A recorded event, packed.
#[derive(Debug)]
pub enum Packed {
    Chat {
        user: Box<str>,
        text: Box<str>,
    },
    /// `[name, [arguments...]]` in MessagePack.
    Published(Box<[u8]>),
}

impl Packed {
    pub fn pack(event: Event) -> Self {
        match event {
            Event::Chat { user, text } => Packed::Chat { user: user.into(), text: text.into() },
            Event::Published { event, arguments } => {
                SCRATCH.with_borrow_mut(|scratch| {
                    scratch.clear();
                    // Writing into a Vec fails only for a type MessagePack cannot express; an argument
                    // has none (the tests below pack every kind).
                    rmp_serde::encode::write(scratch, &(event, &*arguments))
                        .expect("arguments pack into MessagePack");
                    // Kept in a block of exactly its size: shrinking a buffer in place would leave a hole.
                    let packed = Packed::Published(Box::from(scratch.as_slice()));
                    if scratch.capacity() > SCRATCH_KEPT {
                        *scratch = Vec::new();
                    }
                    packed
                })
            }
        }
    }

    /// The event as it was recorded.
    pub fn unpack(&self) -> Event {
        match self {
            Packed::Chat { user, text } => Event::Chat { user: user.to_string(), text: text.to_string() },
            Packed::Published(bytes) => {
                // Only `pack` wrote these bytes, from the same types.
                let (event, arguments): (String, Arguments) =
                    rmp_serde::from_slice(bytes).expect("a packed event unpacks");
                Event::Published { event, arguments: Arc::new(arguments) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hub_protocol::Argument;

    use super::*;

    fn published(arguments: Vec<Argument>) -> Event {
        Event::Published { event: "order".to_owned(), arguments: Arc::new(Arguments(arguments)) }
    }

    #[test]
    fn every_kind_of_argument_unpacks_as_it_was_recorded() {
        let json: Argument = serde_json::from_str::<serde_json::Value>(
            r#"{"z":1,"a":-7,"big":18446744073709551615,"min":-9223372036854775808,"f":0.1,
                "g":1e300,"one":1.0,"s":"é\"\n\u0000","n":null,"t":true,"no":false,"list":[[],{}]}"#,
        )
        .unwrap()
        .into();
        let arguments = vec![
            json,
            Argument::Binary(vec![0, 1, 255]),
            Argument::Object(vec![("bin".into(), Argument::Binary(Vec::new()))]),
            Argument::String(String::new()),
            Argument::Null,
        ];
        for event in [published(arguments), published(Vec::new())] {
            assert_eq!(Packed::pack(event.clone()).unpack(), event);
        }
        let chat = Event::Chat { user: "alice".into(), text: "hello\u{1F600}".into() };
        assert_eq!(Packed::pack(chat.clone()).unpack(), chat);
    }

    #[test]
    fn a_packed_event_is_about_as_large_as_its_json() {
        let data = r#"{"id":1,"type":"order.updated","status":"shipped","customer":"c-4821","total":129.5}"#;
        let json: serde_json::Value = serde_json::from_str(data).unwrap();
        let Packed::Published(bytes) = Packed::pack(published(vec![json.into()])) else { panic!() };
        assert!(bytes.len() <= data.len() + "order".len() + 4, "{} bytes", bytes.len());
    }
}
