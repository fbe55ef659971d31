//! Log setup: lines on stderr, for people (`pretty`) or one JSON object per line (`json`), filtered by
//! `RUST_LOG` (default `info`). Lines about one socket carry its `sid`; lines about one HTTP request
//! carry its `request_id` (also returned in the `x-request-id` header).
//!
//! `RUST_LOG` turns up the hub's own lines only: every other library logs at most at `info`, whatever it
//! says. Below that, socketioxide and engineioxide write whole packets and requests (a CONNECT's
//! `auth: {token}`, publish token or JWT alike, and a socket.io v2 client's token in its query string),
//! and the websocket and HTTP libraries write frames and headers. No level of the log holds a secret.

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::config::LogFormat;

/// The most detailed level of a library's lines, whatever `RUST_LOG` says.
const LIBRARY_CEILING: Level = Level::INFO;

/// Installs the global subscriber. Calling it twice is harmless (tests start many hubs).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")).and(ceiling());
    let layer = match format {
        LogFormat::Pretty => {
            fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal()).boxed()
        }
        LogFormat::Json => fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
    };
    let _ = tracing_subscriber::registry().with(layer.with_filter(filter)).try_init();
}

/// How far `RUST_LOG` may go, by target: all the way for the hub's own code and for tower-http's
/// request lines (method, path, status and latency, never headers), [`LIBRARY_CEILING`] for the rest.
fn ceiling() -> Targets {
    Targets::new()
        .with_default(LIBRARY_CEILING)
        .with_target(env!("CARGO_CRATE_NAME"), Level::TRACE)
        .with_target("tower_http::trace", Level::TRACE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_stop_at_info_and_the_hub_does_not() {
        let ceiling = ceiling();
        for library in
            ["socketioxide::client", "engineioxide::service::parser", "tungstenite::protocol", "h2"]
        {
            assert!(ceiling.would_enable(library, &Level::INFO), "{library}");
            assert!(!ceiling.would_enable(library, &Level::DEBUG), "{library}");
        }
        assert!(ceiling.would_enable("hub::session", &Level::TRACE));
        assert!(ceiling.would_enable("tower_http::trace::on_response", &Level::DEBUG));
        assert!(!ceiling.would_enable("tower_http::cors", &Level::DEBUG));
    }
}
