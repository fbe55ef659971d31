//! The connection before Socket.IO: the TCP listener and its streams, the accept loop and its limits on
//! waiting connections, Engine.IO's requests and its sessions before their CONNECT, the copy of each
//! request head, the open-file limit, and the shutdown signal.

pub mod body_deadline;
pub mod connect_wait;
pub mod engine_io;
pub mod file_limit;
mod first_frames;
mod idle;
pub mod listener;
pub mod pending;
pub mod request_head;
pub mod serve;
pub mod shutdown;
