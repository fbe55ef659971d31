//! Helpers for the history contract: stream positions as the hub reports them in acks and metadata.

use serde_json::Value;

/// The `epoch` of a position (a join ack, a `recorded` entry, an event's metadata): a non-empty string,
/// random, so a test reads it rather than predicting it.
pub fn epoch_of(position: &Value) -> String {
    match position["epoch"].as_str() {
        Some(epoch) if !epoch.is_empty() => epoch.to_owned(),
        _ => panic!("an epoch (a non-empty string) in {position}"),
    }
}
