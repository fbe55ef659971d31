//! The connection before Socket.IO: the TCP listener and its streams, Engine.IO's requests, the copy of
//! each request head, the open-file limit, and the shutdown signal.

pub mod connect_wait;
pub mod engine_io;
pub mod file_limit;
mod first_frames;
pub mod listener;
pub mod request_head;
pub mod shutdown;
