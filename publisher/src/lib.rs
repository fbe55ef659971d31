//! Publish events into a hub from Rust, over one Socket.IO connection.
//!
//! ```no_run
//! # async fn demo() -> Result<(), publisher::PublishError> {
//! use publisher::{Publisher, PublisherOptions};
//! let options = PublisherOptions { token: Some("secret".into()), ..PublisherOptions::default() };
//! let mut publisher = Publisher::connect("http://127.0.0.1:3000", options).await?;
//! let ack = publisher.publish("foo", serde_json::json!("bar"), &["lobby".to_owned()]).await?;
//! println!("delivered to {}", ack.delivered);
//! for at in &ack.recorded {
//!     println!("recorded in {:?} at offset {} (epoch {})", at.room, at.offset, at.epoch);
//! }
//! // Delivered to who is connected now, recorded nowhere.
//! publisher.publish_volatile("typing", serde_json::json!("alice"), &["lobby".to_owned()]).await?;
//! publisher.close().await;
//! # Ok(()) }
//! ```
//!
//! An event the hub refuses with `rate_limited` is sent again after the wait the hub names in its ack,
//! within [`PublisherOptions::timeout`]; [`Publisher::waited`] tells how much waiting there was.
//!
//! The `publish` command is a thin layer over this library; see [`cli`].

pub mod cli;
mod connection;
mod error;

pub use connection::{Endpoint, MAX_TIMEOUT, Publisher, PublisherOptions, Waited};
pub use error::{ExitCode, PublishError, Stage};
