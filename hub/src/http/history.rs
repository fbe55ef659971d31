//! `GET /api/history`: a page of one stream's recorded events, for backends, and for pages that render a
//! room's recent past on the server and then have the browser `join` it with `since`.
//!
//! `?namespace=/&room=lobby&since=N&epoch=E&limit=L` -> `200 {"ok":true, ...HistoryPage}`: the events
//! kept after offset N, oldest first, with the stream's last offset and epoch. It is admitted like the
//! publish API (failed authentications, `Bearer` token, rate), has no body, and answers errors the same
//! way; a hub that keeps no history answers `404 not_found`.
//!
//! A page holds at most `limit` events, and stops early once their data reaches `--max-payload` bytes
//! (always at least one event): whatever a stream keeps, one answer costs about what one message may.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hub_protocol::history::HISTORY_PAGE_MAX;
use hub_protocol::{
    Ack, Argument, ErrorCode, HistoryEvent, HistoryPage, HistoryQuery, NamespacePath, Rejection, RoomName,
    events,
};

use super::api::{ApiError, admit};
use crate::history::{Event, Read, Record, Since, StreamKey};
use crate::net::listener::Peer;
use crate::state::HubState;

/// The history route.
pub fn routes(hub: HubState) -> Router {
    Router::new().route("/api/history", get(page)).with_state(hub)
}

async fn page(
    State(hub): State<HubState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Response {
    match read(&hub, peer, &headers, query).await {
        Ok(page) => (StatusCode::OK, Json(Ack::from(Ok::<_, Rejection>(page)))).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn read(
    hub: &HubState,
    peer: SocketAddr,
    headers: &HeaderMap,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<HistoryPage, ApiError> {
    admit(hub, peer, headers)?;
    let Query(query) = query.map_err(|e| {
        let why = std::error::Error::source(&e).map_or_else(|| e.body_text(), ToString::to_string);
        ApiError::new(ErrorCode::BadRequest, format!("invalid query string: {why}; expected {QUERY_SHAPE}"))
    })?;
    let (key, since) = parse(query)?;
    let Some(read) = hub.history.read(&key, &since).await.map_err(Rejection::from)? else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "this hub keeps no history (--history-size 0): start it with --history-size N to record events",
        ));
    };
    Ok(page_of(&key, read, hub.limits.max_payload))
}

/// What the query string may hold, for the refusal of anything else.
const QUERY_SHAPE: &str = "namespace=/NAME, room=ROOM, since=OFFSET, epoch=EPOCH (with since) and \
     limit=N, each optional";

/// The stream a query names, and the page it asks for.
fn parse(query: HistoryQuery) -> Result<(StreamKey, Since), Rejection> {
    let namespace = NamespacePath::parse(query.namespace.unwrap_or_else(|| "/".to_owned()))?;
    let key = match query.room {
        Some(room) => StreamKey::room(namespace.as_str(), RoomName::parse(room)?.as_str()),
        None => StreamKey::namespace(namespace.as_str()),
    };
    let limit = query.limit.unwrap_or(HISTORY_PAGE_MAX);
    if limit > HISTORY_PAGE_MAX {
        return Err(Rejection::bad_request(format!(
            "limit must be at most {HISTORY_PAGE_MAX}, got {limit}: ask for the next page with since"
        )));
    }
    if query.epoch.is_some() && query.since.is_none() {
        return Err(Rejection::bad_request(
            "epoch goes with since: give the last offset you have in that epoch (0 for none)",
        ));
    }
    Ok((key, Since::Page { after: query.since.unwrap_or(0), epoch: query.epoch, limit }))
}

/// The answer to a read of `key`: its events until their data reaches `budget` bytes (at least one).
fn page_of(key: &StreamKey, read: Read, budget: usize) -> HistoryPage {
    let epoch = &read.position.epoch;
    let mut spent = 0;
    let events = read
        .events
        .iter()
        .take_while(|record| {
            let within = spent == 0 || spent + record.event.wire_len() <= budget;
            spent += record.event.wire_len().max(1);
            within
        })
        .map(|record| history_event(key, epoch, record))
        .collect();
    HistoryPage {
        namespace: key.namespace.clone(),
        room: key.room.clone(),
        offset: read.position.offset,
        epoch: epoch.to_string(),
        recovered: read.recovered,
        events,
    }
}

/// A recorded event as receivers without metadata got it.
fn history_event(key: &StreamKey, epoch: &Arc<str>, record: &Record) -> HistoryEvent {
    let (event, args) = match &record.event {
        Event::Chat { user, text } => {
            // Through JSON text, which keeps the fields in the order members received them.
            let message = serde_json::to_string(&record.chat_message(key, epoch, user, text))
                .and_then(|json| serde_json::from_str::<Argument>(&json))
                .expect("a chat message is JSON");
            (events::CHAT.to_owned(), vec![message])
        }
        Event::Published { event, arguments } => (event.clone(), arguments.0.clone()),
    };
    HistoryEvent { offset: record.offset, event, args, ts: record.at_ms }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hub_protocol::Arguments;
    use serde_json::json;

    use super::*;
    use crate::history::Position;

    fn record(offset: u64, event: Event) -> Arc<Record> {
        Arc::new(Record { offset, at_ms: 7, event })
    }

    fn read(events: Vec<Arc<Record>>) -> Read {
        Read { position: Position { offset: 9, epoch: Arc::from("e") }, events, recovered: None }
    }

    #[test]
    fn events_are_listed_as_receivers_without_metadata_got_them() {
        let lobby = StreamKey::room("/", "lobby");
        let binary = Arguments(vec![Argument::Binary(vec![0, 255]), Argument::from(json!({"n": 1}))]);
        let events = vec![
            record(1, Event::Chat { user: "alice".into(), text: "hi".into() }),
            record(2, Event::Published { event: "file".into(), arguments: Arc::new(binary) }),
        ];
        let page = serde_json::to_string(&page_of(&lobby, read(events), 1 << 20)).unwrap();
        assert!(page.contains(r#""args":[{"room":"lobby","text":"hi","user":"alice","ts":7,"#), "{page}");
        let page: serde_json::Value = serde_json::from_str(&page).unwrap();
        assert_eq!(
            page,
            json!({"namespace": "/", "room": "lobby", "offset": 9, "epoch": "e", "events": [
                {"offset": 1, "event": "chat", "ts": 7, "args": [
                    {"room": "lobby", "text": "hi", "user": "alice", "ts": 7, "offset": 1, "epoch": "e"}
                ]},
                {"offset": 2, "event": "file", "ts": 7, "args": [[0, 255], {"n": 1}]},
            ]})
        );
    }

    #[test]
    fn a_page_stops_once_its_data_reaches_the_budget_but_holds_at_least_one_event() {
        let key = StreamKey::namespace("/");
        let sized = |offset, bytes: usize| {
            // `[` + the bytes + `]`, as the memory cap counts them.
            let arguments = Arc::new(Arguments(vec![Argument::Binary(vec![0; bytes - 2])]));
            record(offset, Event::Published { event: String::new(), arguments })
        };
        let listed = |events, budget| {
            page_of(&key, read(events), budget).events.iter().map(|e| e.offset).collect::<Vec<_>>()
        };
        assert_eq!(listed(vec![sized(1, 40), sized(2, 60), sized(3, 2)], 100), [1, 2]);
        assert_eq!(listed(vec![sized(1, 40), sized(2, 61)], 100), [1]);
        assert_eq!(listed(vec![sized(1, 500), sized(2, 10)], 100), [1], "one event, whatever its size");
    }

    #[test]
    fn queries_are_checked() {
        let query = HistoryQuery {
            namespace: Some("/orders".into()),
            room: Some("lobby".into()),
            since: Some(4),
            epoch: Some("e".into()),
            limit: Some(2),
        };
        let (key, since) = parse(query).unwrap();
        assert_eq!(key, StreamKey::room("/orders", "lobby"));
        assert_eq!(since, Since::Page { after: 4, epoch: Some("e".into()), limit: 2 });
        let (key, since) = parse(HistoryQuery::default()).unwrap();
        assert_eq!(key, StreamKey::namespace("/"));
        assert_eq!(since, Since::Page { after: 0, epoch: None, limit: HISTORY_PAGE_MAX });
        let epoch_alone = HistoryQuery { epoch: Some("e".into()), ..HistoryQuery::default() };
        assert!(parse(epoch_alone).unwrap_err().message.contains("epoch goes with since"));
        let too_many = HistoryQuery { limit: Some(HISTORY_PAGE_MAX + 1), ..HistoryQuery::default() };
        assert_eq!(parse(too_many).unwrap_err().code, ErrorCode::BadRequest);
    }
}
