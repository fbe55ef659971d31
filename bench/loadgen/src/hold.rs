//! `hold`: N connections, each joined to one room, that answer the server's pings from the moment they
//! are connected until `--hold` seconds after the last one connected; how many stayed open, the connect
//! rate, and the server's RSS per connection. `idle --hold` starts reading only once every connection is
//! made, so a connect phase longer than the server's ping timeout (25 s + 20 s for the hub), as in a
//! cluster where each join asks the other hubs, loses its first connections to the heartbeat; here none
//! waits unread.

use std::time::Duration;

use anyhow::Context;
use futures_util::{StreamExt, stream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::conn::Conn;
use crate::report::Report;
use crate::scenarios::Setup;

const ROOM: &str = "bench";
/// Connections opened at once.
const CONNECT_CONCURRENCY: usize = 256;

pub async fn hold(setup: &Setup, hold: Duration) -> anyhow::Result<Report> {
    let before = setup.server_rss_kib();
    // None while connecting; then when the hold ends.
    let (end, ends) = watch::channel(None::<Instant>);
    let started = Instant::now();
    let readers: Vec<anyhow::Result<_>> = stream::iter(0..setup.clients)
        .map(|i| {
            let ends = ends.clone();
            async move {
                let mut conn = Conn::open(setup.server_for(i), None).await?;
                conn.join(ROOM).await?;
                Ok(tokio::spawn(read_until_the_end(conn, ends)))
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let took = started.elapsed();
    let readers =
        readers.into_iter().collect::<anyhow::Result<Vec<_>>>().context("connecting the clients")?;
    end.send_replace(Some(Instant::now() + hold));
    let mut open = Vec::new();
    for reader in readers {
        if let Some(conn) = reader.await? {
            open.push(conn);
        }
    }
    let after = setup.server_rss_kib();
    let mut report = Report::new(setup, "hold");
    report.seconds = hold.as_secs_f64();
    report.held = Some(open.len());
    report.connected(setup.clients, took, before, after);
    drop(open);
    Ok(report)
}

/// Reads (answering pings) until the end is set and reached; the connection, if it is still open then.
async fn read_until_the_end(mut conn: Conn, mut ends: watch::Receiver<Option<Instant>>) -> Option<Conn> {
    loop {
        let end = *ends.borrow_and_update();
        match end {
            Some(end) => match tokio::time::timeout_at(end, conn.next()).await {
                Err(_) => return Some(conn),
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return None,
            },
            None => tokio::select! {
                changed = ends.changed() => changed.ok()?,
                frame = conn.next() => {
                    frame.ok()?;
                }
            },
        }
    }
}
