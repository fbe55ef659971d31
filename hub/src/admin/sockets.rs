//! One socket as the Admin UI lists it ([`SerializedSocket`]): its ids, transport, user, handshake and
//! rooms.
//!
//! The handshake's headers are shown as Node's admin server shows them, but for those that carry a
//! credential (cookies, `Authorization`), whose values are hidden: the UI is for operators, and a
//! screenshot of it must not leak a user's session. A socket.io v2 client's query `token` is hidden too.
//!
//! For the same reason the UI never sees a socket's real id. In socketioxide a socket's id *is* its
//! Engine.IO session id, which is all it takes to read and write a polling session (Node's socket ids
//! are separate from session ids, and its admin server shows 12 characters of the session id at most).
//! The UI is shown [`shown_id`] instead: a keyed hash of it, stable for the socket's life, from which
//! the session id cannot be found; the operations find the socket by computing it again.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::header;
use hub_protocol::admin::{Handshake, SerializedSocket};
use sha2::{Digest, Sha256};
use socketioxide::TransportType;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;

use crate::delivery::joined_rooms::JoinedRooms;
use crate::policy::identity::Identity;
use crate::session::peer_ip;

/// What replaces a hidden header or query value.
const HIDDEN: &str = "(hidden)";

/// Words that mark a header or query parameter as a credential (`Cookie`, `Authorization`,
/// `X-Api-Key`, `X-Auth-Token`, a v2 client's `token`, `access_token`, `session_id`...): its value is
/// hidden. A list of names to hide would miss an application's own; these words catch them.
const SECRET_WORDS: [&str; 7] = ["auth", "cookie", "key", "password", "secret", "session", "token"];

/// Whether a header or query parameter named `name` may carry a credential.
fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    // `sid`: an Engine.IO session id, should a request carry one.
    name == "sid" || SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// The key of [`shown_id`], random for each hub process: a socket's shown id is computed by the hub
/// that holds the socket, for the UI's lists and to find it again for an operation.
static SHOWN_ID_KEY: LazyLock<[u8; 32]> = LazyLock::new(rand::random);

/// Characters of a [`shown_id`].
pub const SHOWN_ID_CHARS: usize = 20;

/// The id the UI knows the socket `sid` by: 20 hex characters of a keyed SHA-256 of it.
pub fn shown_id(sid: Sid) -> String {
    let mut hash = Sha256::new();
    hash.update(*SHOWN_ID_KEY);
    hash.update(sid.as_str().as_bytes());
    hash.finalize().iter().take(10).map(|b| format!("{b:02x}")).collect()
}

/// Longest header or query value shown, in bytes: a client may send heads of hundreds of KiB, and each
/// socket is copied into every `socket_connected` and `all_sockets` (thousands of sockets, every UI).
const MAX_SHOWN_BYTES: usize = 512;

/// What follows a value cut at [`MAX_SHOWN_BYTES`].
const CUT: &str = "…";

/// When a socket connected, kept in its extensions while the Admin UI is on.
#[derive(Debug, Clone, Copy)]
pub struct ConnectedAt(pub SystemTime);

/// `socket` as the UI lists it.
pub fn serialize<A: Adapter>(socket: &SocketRef<A>) -> SerializedSocket {
    let id = shown_id(socket.id);
    let mut rooms = vec![id.clone()];
    if let Some(joined) = socket.extensions.get::<Arc<JoinedRooms>>() {
        let mut joined = joined.rooms();
        joined.sort_unstable();
        rooms.extend(joined);
    }
    let data = match socket.extensions.get::<Identity>() {
        Some(identity) => serde_json::json!({
            "user": identity.user.as_str(),
            "publisher": identity.publisher,
            "info": identity.info.as_deref(),
        }),
        None => serde_json::json!({}),
    };
    SerializedSocket {
        client_id: id.chars().take(12).collect(),
        id,
        transport: transport_name(socket.transport_type()).to_owned(),
        nsp: socket.ns().to_owned(),
        data,
        handshake: handshake(socket),
        rooms,
    }
}

/// The transport's name as Socket.IO gives it.
pub fn transport_name(transport: TransportType) -> &'static str {
    match transport {
        TransportType::Polling => "polling",
        TransportType::Websocket => "websocket",
    }
}

fn handshake<A: Adapter>(socket: &SocketRef<A>) -> Handshake {
    let request = socket.req_parts();
    let mut headers = BTreeMap::new();
    for (name, value) in &request.headers {
        let value = if is_secret(name.as_str()) {
            HIDDEN.to_owned()
        } else {
            shown(String::from_utf8_lossy(value.as_bytes()).into_owned())
        };
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined: &mut String| {
                // A header sent many times is shown as long as one sent once, at most.
                if !joined.ends_with(CUT) {
                    joined.push_str(", ");
                    joined.push_str(&value);
                    *joined = shown(std::mem::take(joined));
                }
            })
            .or_insert(value);
    }
    let mut query = BTreeMap::new();
    let mut shown_query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(request.uri.query().unwrap_or("").as_bytes()) {
        let value = if is_secret(&key) { HIDDEN.into() } else { value };
        let (key, value) = (shown(key.into_owned()), shown(value.into_owned()));
        shown_query.append_pair(&key, &value);
        query.insert(key, value);
    }
    let shown_query = shown_query.finish();
    let shown_query = shown(shown_query);
    let url = match shown_query.is_empty() {
        true => request.uri.path().to_owned(),
        false => format!("{}?{shown_query}", request.uri.path()),
    };
    let address = peer_ip(socket).map(|ip| ip.to_string()).unwrap_or_default();
    let connected = socket.extensions.get::<ConnectedAt>().map_or_else(SystemTime::now, |at| at.0);
    let forwarded_https =
        request.headers.get("x-forwarded-proto").is_some_and(|proto| proto.as_bytes() == b"https");
    Handshake {
        address,
        headers,
        query,
        issued: connected.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64,
        secure: forwarded_https,
        time: humantime::format_rfc3339_millis(connected).to_string(),
        url,
        xdomain: request.headers.contains_key(header::ORIGIN),
    }
}

/// `value`, cut after [`MAX_SHOWN_BYTES`] (at a character's boundary) and marked so.
fn shown(mut value: String) -> String {
    if value.len() > MAX_SHOWN_BYTES {
        let mut end = MAX_SHOWN_BYTES;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
        value.push_str(CUT);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_id_is_stable_and_reveals_nothing_of_the_id() {
        let sid = Sid::new();
        let shown = shown_id(sid);
        assert_eq!(shown, shown_id(sid));
        assert_eq!(shown.len(), SHOWN_ID_CHARS);
        assert!(shown.bytes().all(|b| b.is_ascii_hexdigit()), "{shown}");
        assert_ne!(shown, sid.as_str());
        assert_ne!(shown, shown_id(Sid::new()));
    }

    #[test]
    fn long_values_are_cut() {
        assert_eq!(shown("short".to_owned()), "short");
        let cut = shown("é".repeat(MAX_SHOWN_BYTES));
        assert!(cut.len() <= MAX_SHOWN_BYTES + CUT.len() && cut.ends_with(CUT), "{cut}");
    }

    #[test]
    fn credentials_in_headers_and_queries_are_recognised() {
        for name in ["cookie", "Authorization", "x-api-key", "X-Auth-Token", "token", "access_token", "sid"] {
            assert!(is_secret(name), "{name}");
        }
        for name in ["user-agent", "origin", "EIO", "transport", "x-forwarded-for"] {
            assert!(!is_secret(name), "{name}");
        }
    }
}
