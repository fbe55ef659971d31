//! `publish --stdin-lines`: many events over one connection, one JSON message per line, in order. A line
//! the hub refuses as `rate_limited` is waited out and sent again before the next line (see
//! [`Publisher::send`]), so order holds under a rate limit too. A line is volatile when it says
//! `"history": false`, or when `--volatile` makes them all so.

use hub_protocol::{PublishAck, PublishRequest};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::args::Args;
use crate::{ExitCode, PublishError, Publisher, PublisherOptions};

/// Publishes every line of stdin and returns the worst exit code among the lines. `missing_token_hint`
/// is printed once if the hub refused lines because no token was found.
pub async fn publish_stdin_lines(
    args: &Args,
    options: PublisherOptions,
    missing_token_hint: Option<&str>,
) -> ExitCode {
    let mut publisher = match Publisher::connect(&args.url, options).await {
        Ok(publisher) => publisher,
        Err(e) => {
            super::report(&e, missing_token_hint);
            return e.exit_code();
        }
    };
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut bytes = Vec::new();
    let mut summary = Summary::default();
    let mut number = 0usize;
    let mut forbidden = false;
    let mut rate_limit_hint = None;
    loop {
        bytes.clear();
        match stdin.read_until(b'\n', &mut bytes).await {
            Ok(0) => break,
            Ok(_) => number += 1,
            Err(e) => {
                eprintln!("publish: cannot read stdin after line {number}: {e}");
                summary.fail(ExitCode::Usage);
                break;
            }
        }
        // Read as bytes, so that one line that is not UTF-8 is reported like any invalid line, and the
        // lines after it still go.
        let line = match std::str::from_utf8(&bytes) {
            Ok(line) => line.strip_suffix('\n').map_or(line, |line| line.strip_suffix('\r').unwrap_or(line)),
            Err(e) => {
                eprintln!(
                    "publish: line {number}: not valid UTF-8 (at byte {}); skipped",
                    e.valid_up_to() + 1
                );
                summary.fail(ExitCode::Usage);
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let request = match serde_json::from_str::<PublishRequest>(line) {
            Ok(request) => PublishRequest { history: request.history && !args.volatile, ..request },
            Err(e) => {
                eprintln!("publish: line {number}: invalid message: {e}");
                summary.fail(ExitCode::Usage);
                continue;
            }
        };
        let (before, volatile) = (publisher.waited(), !request.history);
        let outcome = publisher.send(request).await;
        let waited = publisher.waited().since(before);
        if args.verbose && waited.times > 0 {
            eprintln!("publish: line {number}: {}", super::describe_waits(waited));
        }
        match outcome {
            Ok(ack) => {
                if args.verbose {
                    for recorded in super::describe_recorded(&ack, volatile, &args.namespace) {
                        eprintln!("publish: line {number}: {recorded}");
                    }
                }
                summary.published(ack);
            }
            Err(e) => {
                eprintln!("publish: line {number}: {e}");
                forbidden |= super::is_forbidden(&e);
                rate_limit_hint = rate_limit_hint.or_else(|| super::rate_limit_hint(&e));
                summary.fail(e.exit_code());
                if is_fatal(&e) {
                    eprintln!("publish: stopped at line {number}; later lines were not sent");
                    break;
                }
            }
        }
    }
    let waited = publisher.waited();
    let asked = publisher.asked_frame_limit();
    publisher.close().await;
    if args.verbose
        && let Some(asked) = asked
    {
        eprintln!("publish: {}", super::describe_frame_limit(asked));
    }
    if args.verbose && waited.times > 0 {
        eprintln!(
            "publish: waited for the hub's rate limit {} times, {:.2} s in total",
            waited.times,
            waited.total.as_secs_f64()
        );
    }
    if forbidden && let Some(hint) = missing_token_hint {
        eprintln!("publish: {hint}");
    }
    if let Some(hint) = rate_limit_hint {
        eprintln!("publish: {hint}");
    }
    if summary.partial > 0 {
        eprintln!("publish: warning: {} events: {}", summary.partial, super::PARTIAL);
    }
    if !args.quiet || summary.worst != ExitCode::Delivered {
        let failed = if summary.failed > 0 { format!(", {} failed", summary.failed) } else { String::new() };
        println!("published {} events, delivered to {} in total{failed}", summary.ok, summary.delivered);
    }
    summary.worst
}

/// Whether the connection is unusable after this error, so later lines cannot be sent.
fn is_fatal(e: &PublishError) -> bool {
    matches!(e.exit_code(), ExitCode::Unreachable)
}

#[derive(Debug)]
struct Summary {
    ok: usize,
    delivered: usize,
    /// Events that reached only part of a cluster.
    partial: usize,
    failed: usize,
    worst: ExitCode,
}

impl Default for Summary {
    fn default() -> Self {
        Self { ok: 0, delivered: 0, partial: 0, failed: 0, worst: ExitCode::Delivered }
    }
}

impl Summary {
    fn published(&mut self, ack: PublishAck) {
        self.ok += 1;
        self.delivered += ack.delivered;
        self.partial += usize::from(ack.partial);
    }

    fn fail(&mut self, code: ExitCode) {
        self.failed += 1;
        self.worst = self.worst.max(code);
    }
}
