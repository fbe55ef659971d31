//! The hub's wire contract, defined once and shared by the hub, the `publish` CLI and the tests.
//!
//! Everything a client can send or receive is here as a type: event names ([`events`]), request and
//! broadcast payloads ([`payloads`]), history and recovery ([`history`]), event arguments with binary attachments anywhere inside
//! ([`arguments`]), the single-object acks with their error codes ([`ack`]), the rules for room, event,
//! user and namespace names ([`names`]), what a client puts in its CONNECT auth payload ([`auth`]), what
//! the hub asks an application that signs its users in ([`sign_in`]), where a hub leaves its generated
//! publish token ([`token_file`]), the application's control of the hub (`who`, `kicked`, the control
//! API and the messages between hubs that answer it: [`control`]), and what webhooks POST to the
//! application ([`webhooks`]), and the server side of the official Socket.IO Admin UI ([`admin`]).
//! `PROTOCOL.md` at the repository root documents the same contract for users.

pub mod ack;
pub mod admin;
pub mod arguments;
pub mod auth;
pub mod control;
pub mod events;
pub mod history;
pub mod names;
pub mod payloads;
pub mod sign_in;
pub mod token_file;
pub mod webhooks;

pub use ack::{Ack, ErrorCode, Failure, Rejection};
pub use arguments::{Argument, Arguments, WithTrailing};
pub use auth::ConnectAuth;
pub use history::{
    HistoryEvent, HistoryPage, HistoryQuery, JoinAck, JoinOptions, RecordedAt, Replayed, StreamPosition,
};
pub use names::{EventName, NamespacePath, RoomName, UserName};
pub use payloads::{
    ApiBatch, ApiBatchAck, ApiPublish, ChatAck, ChatMessage, ChatRequest, EventMeta, PresenceChange,
    PresenceState, PublishAck, PublishRequest, RoomMembers, SlowConsumer,
};
pub use webhooks::{WebhookBatch, WebhookEvent, WebhookEventName};
