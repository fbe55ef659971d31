//! What a client can make the hub hold before it is a session: connections that send no request,
//! Engine.IO sessions that never connect a socket, and binary attachments that never complete. Each is
//! bounded in number and in time, and real clients keep getting in.

use std::time::{Duration, Instant};

use e2e::binaries::HubProcess;
use e2e::polling::{self, Polling};
use e2e::{TestClient, TestHub, WAIT, raw};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Whether the hub closes `stream` within `limit` (whatever it sends first is read and ignored).
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(limit, read_to_end).await.is_ok()
}

async fn open(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).await.expect("the hub accepts")
}

/// A websocket Engine.IO session that has read its open packet and sent nothing (no CONNECT).
async fn websocket_session(port: u16) -> Result<raw::Socket, String> {
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.map_err(|e| e.to_string())?;
    let open = raw::next_text(&mut ws).await?;
    assert!(open.starts_with('0'), "{open}");
    Ok(ws)
}

/// Retries a websocket handshake until the hub accepts it again (or fails after [`WAIT`]).
async fn websocket_session_within_wait(port: u16) -> raw::Socket {
    let deadline = Instant::now() + WAIT;
    loop {
        match websocket_session(port).await {
            Ok(ws) => return ws,
            Err(e) if Instant::now() > deadline => panic!("no session within {WAIT:?}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Whether the hub ends the session (Engine.IO close packet, or the connection closed) within [`WAIT`].
async fn ended(ws: &mut raw::Socket) -> bool {
    let end = async {
        loop {
            match raw::next_text(ws).await {
                Ok(packet) if packet == "1" => return,
                Ok(_) => continue,
                Err(_) => return,
            }
        }
    };
    tokio::time::timeout(WAIT, end).await.is_ok()
}

async fn binary(ws: &mut raw::Socket, len: usize) -> Result<(), String> {
    ws.send(Message::binary(vec![7u8; len])).await.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_half_sent_and_idle_connections_are_closed_but_a_long_poll_is_not() {
    let idle_timeout = Duration::from_millis(500);
    let hub = TestHub::start_with(|config| {
        config.idle_timeout = idle_timeout;
        config.ping_interval = Duration::from_secs(2);
    })
    .await;
    let mut silent = open(hub.port).await;
    assert!(!closed_within(&mut silent, idle_timeout / 4).await, "not before its time");
    let mut half_sent = open(hub.port).await;
    half_sent.write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Slow: ").await.unwrap();
    let mut kept_alive = open(hub.port).await;
    kept_alive.write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n").await.unwrap();
    let mut head = [0u8; 15];
    kept_alive.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");

    // A long poll waits for the next ping, far longer than the idle timeout, and gets it.
    let session = Polling::open(hub.port).await.unwrap();
    let (status, first) = session.get().await;
    assert_eq!((status, first.as_str()), (200, "2"), "the first ping comes at once");
    session.post("3").await;
    let long_poll = tokio::spawn(async move {
        let started = Instant::now();
        let (status, payload) = session.get().await;
        (status, payload, started.elapsed())
    });

    for (name, stream) in
        [("silent", &mut silent), ("half-sent", &mut half_sent), ("kept alive", &mut kept_alive)]
    {
        assert!(closed_within(stream, WAIT).await, "the {name} connection is closed");
    }
    let (status, payload, waited) = long_poll.await.unwrap();
    assert_eq!((status, payload.as_str()), (200, "2"));
    assert!(waited > idle_timeout * 2, "the poll was long: {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_idle_connections_the_longest_waiting_are_closed_and_clients_still_get_in() {
    let hub = TestHub::start_with(|config| config.max_idle_connections = 20).await;
    let mut waiting = Vec::new();
    for _ in 0..60 {
        waiting.push(open(hub.port).await);
    }
    // A client that sends its request at once gets in despite the flood.
    let client = TestClient::connect(&hub.url).await;
    assert_eq!(client.ack("echo", vec![json!("in")]).await, vec![json!("in")]);

    let mut closed = Vec::new();
    for stream in &mut waiting {
        closed.push(closed_within(stream, Duration::from_millis(200)).await);
    }
    let oldest_closed = closed.iter().take(30).filter(|&&c| c).count();
    assert!(oldest_closed >= 30, "the 30 oldest are closed: {closed:?}");
    assert!(!closed[59], "the newest still waits: {closed:?}");
    assert!(closed.iter().filter(|&&c| !c).count() <= 20, "at most 20 wait: {closed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_open_files_the_hub_frees_waiting_connections_and_logs_it_once() {
    let hub = HubProcess::start_with_hard_open_files(
        100,
        &["--bind", "127.0.0.1:0", "--publish-token", "test-publish-token"],
        &[],
    )
    .await;
    // More silent connections than the hub has descriptors: `accept` fails with "too many open files".
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(open(hub.port).await);
    }
    let client = tokio::time::timeout(WAIT, TestClient::connect(&hub.url)).await.expect("a client gets in");
    assert_eq!(client.ack("echo", vec![json!(1)]).await, vec![json!(1)]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = hub.log();
    assert_eq!(log.matches("accept error").count(), 1, "logged once a minute:\n{log}");
    assert!(log.contains("Too many open files"), "{log}");
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_beyond_max_pending_sessions_are_refused_until_a_session_connects_or_times_out() {
    let hub = TestHub::start_with(|config| {
        config.max_pending_sessions = 2;
        config.connect_timeout = Duration::from_secs(1);
    })
    .await;
    let connecting = Polling::open(hub.port).await.unwrap();
    let _silent = Polling::open(hub.port).await.unwrap();

    let refused = reqwest::get(polling::endpoint(hub.port)).await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], 4, "{body}");
    assert!(body["message"].as_str().unwrap().contains("--max-pending-sessions"), "{body}");
    let websocket = websocket_session(hub.port).await.unwrap_err();
    assert!(websocket.contains("503"), "{websocket}");

    // A session whose socket connects leaves the pending ones at once.
    connecting.post("40").await;
    connecting.poll_until(|packet| packet.starts_with("40{")).await.unwrap();
    let third = Polling::open(hub.port).await.expect("a place is free again");

    // Those that never connect are closed after the connect timeout, and their places freed.
    let _ws = websocket_session_within_wait(hub.port).await;
    let gone = async { while third.get().await.0 == 200 {} };
    tokio::time::timeout(WAIT, gone).await.expect("the session is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_never_connects_is_closed_after_the_connect_timeout() {
    let connect_timeout = Duration::from_millis(800);
    let hub = TestHub::start_with(|config| config.connect_timeout = connect_timeout).await;
    let started = Instant::now();
    let mut ws = websocket_session(hub.port).await.unwrap();
    assert!(ended(&mut ws).await, "closed within 5 s");
    assert!(started.elapsed() >= connect_timeout, "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_attachments_are_capped_and_go_with_a_session_that_never_connects() {
    // Attachments may add up to 2 x 4096 bytes.
    let hub = TestHub::start_with(|config| {
        config.max_payload = 4096;
        config.max_pending_sessions = 1;
        config.connect_timeout = Duration::from_millis(800);
    })
    .await;
    let placeholders = r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#;

    // Announcing more than 1,000 attachments closes the connection at once.
    let mut ws = websocket_session(hub.port).await.unwrap();
    raw::send(&mut ws, &format!(r#"49999-["hoard",{placeholders}]"#)).await.unwrap();
    assert!(ended(&mut ws).await, "closed");

    // Attachments beyond 2 x max-payload close it too.
    let mut ws = websocket_session_within_wait(hub.port).await;
    raw::send(&mut ws, &format!(r#"452-["hoard",{placeholders}]"#)).await.unwrap();
    binary(&mut ws, 6000).await.unwrap();
    let _ = binary(&mut ws, 6000).await;
    assert!(ended(&mut ws).await, "closed");

    // What stays below the cap goes with the session, after the connect timeout.
    let mut ws = websocket_session_within_wait(hub.port).await;
    let started = Instant::now();
    raw::send(&mut ws, &format!(r#"452-["hoard",{placeholders}]"#)).await.unwrap();
    binary(&mut ws, 6000).await.unwrap();
    assert!(ended(&mut ws).await, "closed within 5 s");
    assert!(started.elapsed() < WAIT, "{:?}", started.elapsed());
    drop(websocket_session_within_wait(hub.port).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_socket_io_v2_sessions_count_against_max_pending_sessions() {
    let hub = TestHub::start_with(|config| {
        config.allow_eio3 = true;
        config.max_pending_sessions = 2;
        config.connect_timeout = Duration::from_millis(500);
    })
    .await;
    let v2 = |token: &str| {
        format!("http://127.0.0.1:{}/socket.io/?EIO=3&transport=polling&b64=1&token={token}", hub.port)
    };
    // An admitted v2 session is connected at once and waits no more.
    let admitted = reqwest::get(v2(e2e::hub::TOKEN)).await.unwrap();
    assert_eq!(admitted.status(), 200);
    for _ in 0..2 {
        let refused_socket = reqwest::get(v2("not-the-publish-token")).await.unwrap();
        assert_eq!(refused_socket.status(), 200, "the session opens; its socket is refused");
    }
    // Refused v2 sessions stay open (socketioxide applies no connect timeout to them), so they keep
    // their places: a third is refused, even after the connect timeout.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let third = reqwest::get(v2("not-the-publish-token")).await.unwrap();
    assert_eq!(third.status(), 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_sends_pings_and_never_reads_cannot_grow_the_hub() {
    let hub = HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", e2e::hub::TOKEN], &[]).await;
    let before = hub.resident_bytes();
    let mut ws = raw::connect(hub.port).await.unwrap();
    // Websocket PINGs of the largest size, as fast as the hub takes them, for 3 s; their PONGs are never
    // read. Before, the hub kept every PONG it could not write: hundreds of MiB.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut sent = 0usize;
    while Instant::now() < deadline {
        let ping = ws.send(Message::Ping(vec![b'p'; 125].into()));
        match tokio::time::timeout(Duration::from_millis(100), ping).await {
            Ok(Ok(())) => sent += 1,
            Ok(Err(_)) => break,
            Err(_) => {} // the hub no longer reads from this client
        }
    }
    let grown = hub.resident_bytes().saturating_sub(before);
    assert!(grown < 32 << 20, "the hub grew by {} MiB after {sent} pings", grown >> 20);

    // Everyone else is served meanwhile.
    let other = TestClient::connect(&hub.url).await;
    assert_eq!(other.ack("echo", vec![json!("still here")]).await, vec![json!("still here")]);
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_comes_does_not_hold_its_connection() {
    let hub = TestHub::start_with(|config| config.idle_timeout = Duration::from_secs(1)).await;
    for path in ["/socket.io/?EIO=4&transport=polling&sid=nosuchsession", "/api/publish"] {
        let mut stream = TcpStream::connect(("127.0.0.1", hub.port)).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
            e2e::hub::TOKEN
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // Whatever the hub answers, it closes the connection once the body has stalled for a second.
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "{path}: the connection is still open 5 s after its body stalled");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_of_100000_rooms_stays_within_history_memory_and_keeps_the_newest_events() {
    // 100,000 rooms that nobody is in, one event each, oldest first: far more than 8 MiB keeps.
    const CAP: u64 = 8 << 20;
    const ROOMS: usize = 100_000;
    let hub = HubProcess::start(
        &["--bind", "127.0.0.1:0", "--publish-token", e2e::hub::TOKEN, "--history-memory", "8MiB"],
        &[],
    )
    .await;
    let before = hub.resident_bytes();
    let started = Instant::now();
    let client = reqwest::Client::new();
    let text = "x".repeat(64);
    let mut peak = 0;
    for batch in 0..ROOMS / 100 {
        let messages: Vec<Value> = (batch * 100..(batch + 1) * 100)
            .map(|i| {
                let data = json!({ "id": i, "text": text });
                json!({ "namespace": "/cap", "event": "order", "data": data, "rooms": [format!("room-{i}")] })
            })
            .collect();
        let response = client
            .post(format!("{}/api/batch", hub.url))
            .bearer_auth(e2e::hub::TOKEN)
            .json(&json!({ "messages": messages }))
            .send()
            .await
            .expect("the hub answers");
        assert_eq!(response.status(), 200, "batch {batch}: {}", response.text().await.unwrap());
        if batch % 100 == 99 {
            peak = peak.max(hub.resident_bytes().saturating_sub(before));
        }
    }
    // The cap counts what the store allocates. The same requests grow a hub without history by about
    // 5 MiB (debug build: requests, buffers, the allocator's arenas), so 8 MiB are left for them.
    // Before the cap was checked against real bytes, this run grew the hub by 27 MiB.
    assert!(
        peak < 2 * CAP,
        "history took the hub {} MiB over its start, with --history-memory 8MiB",
        peak >> 20
    );

    let mut reader = TestClient::connect_with(&hub.url, "/cap", json!({})).await.expect("connects to /cap");
    for (room, kept) in [(ROOMS - 1, true), (ROOMS - 5_000, true), (ROOMS / 2, false), (0, false)] {
        let name = format!("room-{room}");
        let ack = reader.ack("join", vec![json!(name), json!({ "history": 10 })]).await;
        let ack = &ack[0];
        assert_eq!(ack["ok"], true, "{name}: {ack}");
        if kept {
            assert_eq!((&ack["missed"], &ack["offset"]), (&json!(1), &json!(1)), "{name}: {ack}");
            assert_eq!(reader.expect_event("order").await, vec![json!({ "id": room, "text": text })]);
        } else {
            // Its event was dropped, and then its stream: a new one starts at 0.
            assert_eq!((&ack["missed"], &ack["offset"]), (&json!(0), &json!(0)), "{name}: {ack}");
        }
    }
    reader.expect_silence().await;
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}
