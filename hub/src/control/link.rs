//! Control requests between the hubs of a cluster, over plain Redis pub/sub.
//!
//! The asking hub publishes a [`ControlRequest`] on [`CONTROL_CHANNEL`], which every hub reads; Redis
//! says how many received it, so the asking hub knows how many answers to wait for (all but its own: it
//! answers its own part directly). Each other hub answers from its own sockets on the asking hub's
//! [`reply_channel`]. The asking hub waits at most the time it was given, then goes on with the answers
//! it has and says the result is partial. Everything that crosses is bounded (message sizes, answers
//! per request, answers being worked on at once), and every message not used is counted in
//! `hub_control_messages_dropped_total`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fred::clients::SubscriberClient;
use fred::prelude::{ClientLike, PubsubInterface};
use futures_util::StreamExt;
use hub_protocol::control::{
    CONTROL_CHANNEL, ControlAnswer, ControlQuery, ControlReply, ControlRequest, reply_channel,
};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide_redis::drivers::{ChanItem, MessageStream};
use tokio::sync::{Semaphore, mpsc};

use super::local;
use crate::delivery::Scope;
use crate::state::HubState;
use crate::telemetry::log_throttle::LogThrottle;
use crate::telemetry::metrics;

/// Largest request read from another hub: requests carry a few names.
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Largest answer sent or read: a thousand users with their public info, or ten thousand rooms.
const MAX_REPLY_BYTES: usize = 8 * 1024 * 1024;
/// Most answers one request waits for (hubs in the cluster, this one aside).
const MAX_HUBS: usize = 256;
/// Most requests of other hubs this hub works on at once; further ones wait in the channel's queue.
const ANSWERING: usize = 32;
/// Messages of each control channel that may wait to be read.
pub const QUEUE: usize = 1_024;

/// At most one warning a minute about requests answered without every hub.
static INCOMPLETE_WARNING: LogThrottle = LogThrottle::new(Duration::from_secs(60));
/// At most one warning a second about control messages dropped.
static DROP_WARNING: LogThrottle = LogThrottle::new(Duration::from_secs(1));

/// This hub's end of the control channels.
pub struct ControlLink {
    /// This hub's name on the channels, random at each start.
    hub: String,
    client: SubscriberClient,
    next_id: AtomicU64,
    /// Requests waiting for answers, by id.
    waiting: Mutex<HashMap<u64, mpsc::Sender<ControlAnswer>>>,
}

/// The other hubs' answers to a request, and how far they reached.
#[derive(Debug)]
pub struct Gathered {
    pub answers: Vec<ControlAnswer>,
    pub scope: Scope,
}

impl ControlLink {
    pub fn new(client: SubscriberClient) -> Self {
        Self {
            hub: format!("{:016x}", rand::random::<u64>()),
            client,
            next_id: AtomicU64::new(1),
            waiting: Mutex::default(),
        }
    }

    /// This hub's name on the channels.
    pub fn hub(&self) -> &str {
        &self.hub
    }

    /// Asks every other hub `query` and gathers their answers, waiting at most `wait`.
    pub async fn ask(&self, query: &ControlQuery, wait: Duration) -> Gathered {
        if !self.client.is_connected() {
            return incomplete(Vec::new(), Scope::ThisNode, "Redis is unreachable");
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answers_tx, mut answers_rx) = mpsc::channel(MAX_HUBS);
        self.lock().insert(id, answers_tx);
        // Forgotten however this ends, the caller giving up (a dropped HTTP request) included.
        let _waiting = Waiting { link: self, id };
        let request = ControlRequest { id, from: self.hub.clone(), query: query.clone() };
        let bytes = serde_json::to_vec(&request).expect("control requests serialize");
        let started = Instant::now();
        // Redis says how many subscribers received it: every hub, this one included.
        let receivers = match self.client.publish::<u64, _, _>(CONTROL_CHANNEL, bytes).await {
            Ok(receivers) => receivers,
            Err(e) => {
                dropped("not_sent", &format!("a control request was not sent: {e}"));
                return incomplete(Vec::new(), Scope::ThisNode, "Redis is unreachable");
            }
        };
        let expected = usize::try_from(receivers).unwrap_or(usize::MAX).saturating_sub(1).min(MAX_HUBS);
        let mut answers = Vec::with_capacity(expected);
        while answers.len() < expected {
            let left = wait.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, answers_rx.recv()).await {
                Ok(Some(answer)) => answers.push(answer),
                Ok(None) | Err(_) => break,
            }
        }
        if answers.len() < expected {
            let missing = expected - answers.len();
            return incomplete(
                answers,
                Scope::Incomplete,
                &format!("{missing} hub(s) did not answer in {wait:?}"),
            );
        }
        Gathered { answers, scope: Scope::Cluster }
    }

    /// Subscribes to the requests of the other hubs and to the answers to this hub's own, and serves
    /// both from now on: answers from `io`'s sockets.
    pub fn start<A: Adapter>(
        self: &Arc<Self>,
        requests: MessageStream<ChanItem>,
        replies: MessageStream<ChanItem>,
        io: SocketIo<A>,
        hub: HubState,
    ) {
        tokio::spawn(Arc::clone(self).route_replies(replies));
        tokio::spawn(Arc::clone(self).serve_requests(requests, io, hub));
    }

    async fn route_replies(self: Arc<Self>, mut replies: MessageStream<ChanItem>) {
        while let Some((_, bytes)) = replies.next().await {
            if bytes.len() > MAX_REPLY_BYTES {
                dropped("too_large", &format!("a control answer of {} bytes was not read", bytes.len()));
                continue;
            }
            let reply = match serde_json::from_slice::<ControlReply>(&bytes) {
                Ok(reply) => reply,
                Err(e) => {
                    dropped("malformed", &format!("a control answer was not read: {e}"));
                    continue;
                }
            };
            let waiting = self.lock().get(&reply.id).cloned();
            match waiting.map(|answers| answers.try_send(reply.answer)) {
                Some(Ok(())) => {}
                _ => dropped("late", "a control answer came after its request stopped waiting"),
            }
        }
    }

    async fn serve_requests<A: Adapter>(
        self: Arc<Self>,
        mut requests: MessageStream<ChanItem>,
        io: SocketIo<A>,
        hub: HubState,
    ) {
        let answering = Arc::new(Semaphore::new(ANSWERING));
        while let Some((_, bytes)) = requests.next().await {
            if bytes.len() > MAX_REQUEST_BYTES {
                dropped("too_large", &format!("a control request of {} bytes was not read", bytes.len()));
                continue;
            }
            let request = match serde_json::from_slice::<ControlRequest>(&bytes) {
                Ok(request) => request,
                Err(e) => {
                    dropped("malformed", &format!("a control request was not read: {e}"));
                    continue;
                }
            };
            if request.from == self.hub {
                continue;
            }
            if !is_hub_name(&request.from) {
                dropped("malformed", "a control request names no valid hub to answer");
                continue;
            }
            let Ok(permit) = Arc::clone(&answering).acquire_owned().await else { return };
            let (link, io, hub) = (Arc::clone(&self), io.clone(), hub.clone());
            tokio::spawn(async move {
                let answer = local::answer(&io, &hub, &request.query).await;
                link.reply(&request.from, ControlReply { id: request.id, answer }).await;
                drop(permit);
            });
        }
    }

    async fn reply(&self, to: &str, reply: ControlReply) {
        let bytes = serde_json::to_vec(&reply).expect("control answers serialize");
        if bytes.len() > MAX_REPLY_BYTES {
            dropped("too_large", &format!("a control answer of {} bytes was not sent", bytes.len()));
            return;
        }
        if let Err(e) = self.client.publish::<u64, _, _>(reply_channel(to), bytes).await {
            dropped("not_sent", &format!("a control answer was not sent: {e}"));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::Sender<ControlAnswer>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request waiting for answers, forgotten when dropped.
struct Waiting<'a> {
    link: &'a ControlLink,
    id: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.link.lock().remove(&self.id);
    }
}

/// A hub's name as [`ControlLink::new`] makes them: the asking hub names the channel answers go to.
fn is_hub_name(name: &str) -> bool {
    name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn incomplete(answers: Vec<ControlAnswer>, scope: Scope, why: &str) -> Gathered {
    metrics::control_request_incomplete();
    if let Some(held_back) = INCOMPLETE_WARNING.due(Instant::now()) {
        tracing::warn!(held_back, "a control request was answered without every hub: {why}");
    }
    Gathered { answers, scope }
}

fn dropped(reason: &'static str, what: &str) {
    metrics::control_message_dropped(reason);
    if let Some(held_back) = DROP_WARNING.due(Instant::now()) {
        tracing::warn!(held_back, "{what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_this_module_makes_are_answered() {
        assert!(is_hub_name("0123456789abcdef"));
        assert!(!is_hub_name("0123456789abcdeg"));
        assert!(!is_hub_name("x:reply:0123456789abcdef"));
    }
}
