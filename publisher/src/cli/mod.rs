//! The `publish` command: flags, input, the token, and the mapping of outcomes to exit codes and messages.

mod args;
mod generate;
mod input;
mod lines;
mod listener_owner;
mod token;

pub use args::Args;
pub use generate::Generate;

use std::time::Duration;

use hub_protocol::{ErrorCode, PublishAck, RecordedAt};

use crate::{Endpoint, ExitCode, MAX_TIMEOUT, PublishError, Publisher, PublisherOptions, Waited};

/// Runs the command and returns its exit code; messages go to stdout (results) and stderr (errors).
pub async fn run(args: Args) -> ExitCode {
    if let Some(kind) = args.generate {
        let written = kind.write(<Args as clap::CommandFactory>::command(), &mut std::io::stdout().lock());
        return match written.and_then(|()| std::io::Write::flush(&mut std::io::stdout())) {
            Ok(()) => ExitCode::Delivered,
            // The reader stopped reading (`| head`): nothing is wrong.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::Delivered,
            Err(e) => usage_error(&format!("cannot write the output: {e}")),
        };
    }
    let token = match token::resolve(args.token.as_deref(), args.token_file.as_deref(), &args.url) {
        Ok(token) => token,
        Err(e) => return usage_error(&e.to_string()),
    };
    if args.verbose {
        // An invalid URL is reported when connecting, like without -v.
        if let Ok(endpoint) = Endpoint::of(&args.url) {
            eprintln!("publish: connecting to {} over {}", endpoint.url, endpoint.transport);
        }
        eprintln!("publish: {}", token.describe());
    }
    let missing_token_hint = token.missing_hint();
    let options = PublisherOptions {
        namespace: args.namespace.clone(),
        token: token.value.clone(),
        timeout: args.timeout,
        retries: args.retries,
    };
    if args.stdin_lines {
        return lines::publish_stdin_lines(&args, options, missing_token_hint).await;
    }

    let request = match args.request() {
        Ok(request) => request,
        Err(e) => return usage_error(&e),
    };
    let mut publisher = match Publisher::connect(&args.url, options).await {
        Ok(publisher) => publisher,
        Err(e) => {
            report(&e, missing_token_hint);
            return e.exit_code();
        }
    };
    let outcome = publisher.send(request).await;
    let waited = publisher.waited();
    let asked = publisher.asked_frame_limit();
    publisher.close().await;
    if args.verbose {
        if let Some(asked) = asked {
            eprintln!("publish: {}", describe_frame_limit(asked));
        }
        if waited.times > 0 {
            eprintln!("publish: {}", describe_waits(waited));
        }
    }
    match outcome {
        Ok(ack) => {
            if !args.quiet {
                println!("delivered to {}", ack.delivered);
            }
            if args.verbose {
                for line in describe_recorded(&ack, args.volatile, &args.namespace) {
                    eprintln!("publish: {line}");
                }
            }
            if ack.partial {
                eprintln!("publish: warning: {PARTIAL}");
            }
            ExitCode::Delivered
        }
        Err(e) => {
            report(&e, missing_token_hint);
            e.exit_code()
        }
    }
}

/// Why a delivery count may be short: the hub said it reached only its own sockets.
const PARTIAL: &str = "the hub could not reach the other hubs of its cluster (Redis is down), \
     so only its own clients received the event";

fn usage_error(message: &str) -> ExitCode {
    eprintln!("publish: {message}");
    ExitCode::Usage
}

/// Prints a failure, with a hint when the hub refused a socket that had no token, or asked for a wait
/// longer than `--timeout` allows.
fn report(e: &PublishError, missing_token_hint: Option<&str>) {
    eprintln!("publish: {e}");
    if is_forbidden(e)
        && let Some(hint) = missing_token_hint
    {
        eprintln!("publish: {hint}");
    }
    if let Some(hint) = rate_limit_hint(e) {
        eprintln!("publish: {hint}");
    }
}

/// For a `rate_limited` refusal that came with a wait: it was given up on because the wait would have run
/// past the deadline.
fn rate_limit_hint(e: &PublishError) -> Option<String> {
    match e {
        PublishError::Refused(r) if r.code == ErrorCode::RateLimited => r.retry_after_ms.map(|ms| {
            format!(
                "the hub asked to wait {ms} ms before sending again, past what is left of --timeout; raise \
                 --timeout, or publish less often"
            )
        }),
        _ => None,
    }
}

/// What `-v` says about the frame limit, when an event was large enough to ask for it.
fn describe_frame_limit(answer: Option<usize>) -> String {
    let asked = "asked the hub for its frame limit with one Engine.IO polling handshake, closed at once";
    match answer {
        Some(limit) => format!("{asked}: {limit} bytes"),
        None => format!("{asked}: no answer, so events were sent without checking their size"),
    }
}

/// What `-v` says about the waits for one event.
fn describe_waits(waited: Waited) -> String {
    let millis = waited.total.as_millis();
    match waited.times {
        1 => format!("rate limited by the hub, waited {millis} ms and sent again"),
        times => {
            format!("rate limited by the hub, waited {millis} ms in {times} waits, sending again after each")
        }
    }
}

/// What `-v` says about where the hub recorded an event (`volatile`: it was sent as volatile): one line
/// per stream.
fn describe_recorded(ack: &PublishAck, volatile: bool, namespace: &str) -> Vec<String> {
    if ack.recorded.is_empty() {
        let why = match volatile {
            true => "it is volatile",
            false => "the hub keeps no history, or could not reach Redis",
        };
        return vec![format!("not recorded in history: {why}")];
    }
    let stream = |recorded: &RecordedAt| match &recorded.room {
        Some(room) => format!("room {room}"),
        None => format!("namespace {namespace}"),
    };
    let at = |recorded: &RecordedAt| {
        format!("recorded in {} at offset {} (epoch {})", stream(recorded), recorded.offset, recorded.epoch)
    };
    ack.recorded.iter().map(at).collect()
}

/// Whether the hub refused the event because the socket is not a publisher.
fn is_forbidden(e: &PublishError) -> bool {
    matches!(e, PublishError::Refused(r) if r.code == ErrorCode::Forbidden)
}

/// Parses `--timeout`: a bare number of seconds (`5`, `0.5`) or a duration (`5s`, `300ms`), more than
/// zero and at most [`MAX_TIMEOUT`].
fn parse_timeout(value: &str) -> Result<Duration, String> {
    let too_long = || format!("must be at most 1 day ({} s)", MAX_TIMEOUT.as_secs());
    let duration = match value.parse::<f64>() {
        Ok(seconds) if seconds.is_nan() => return Err("must be a number of seconds or a duration".to_owned()),
        Ok(seconds) if seconds <= 0.0 => return Err("must be more than zero".to_owned()),
        Ok(seconds) => Duration::try_from_secs_f64(seconds).map_err(|_| too_long())?,
        Err(_) => humantime::parse_duration(value).map_err(|e| e.to_string())?,
    };
    if duration.is_zero() {
        Err("must be more than zero".to_owned())
    } else if duration > MAX_TIMEOUT {
        Err(too_long())
    } else {
        Ok(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_says_where_each_event_was_recorded() {
        let at = |room: Option<&str>, offset| RecordedAt {
            room: room.map(str::to_owned),
            offset,
            epoch: "ab12cd34ef567890".to_owned(),
        };
        let ack = PublishAck {
            delivered: 2,
            partial: false,
            recorded: vec![at(Some("lobby"), 12), at(Some("staff"), 3)],
        };
        assert_eq!(
            describe_recorded(&ack, false, "/"),
            [
                "recorded in room lobby at offset 12 (epoch ab12cd34ef567890)",
                "recorded in room staff at offset 3 (epoch ab12cd34ef567890)"
            ]
        );
        let everyone = PublishAck { recorded: vec![at(None, 7)], ..ack.clone() };
        assert_eq!(
            describe_recorded(&everyone, false, "/orders"),
            ["recorded in namespace /orders at offset 7 (epoch ab12cd34ef567890)"]
        );
        let none = PublishAck { recorded: Vec::new(), ..ack };
        assert_eq!(describe_recorded(&none, true, "/"), ["not recorded in history: it is volatile"]);
        assert!(describe_recorded(&none, false, "/")[0].contains("keeps no history"));
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_timeout("0.25").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_timeout("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_timeout("2s").unwrap(), Duration::from_secs(2));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("soon").is_err());
        assert_eq!(parse_timeout("1day").unwrap(), MAX_TIMEOUT);
        for too_long in ["86401", "1e19", "1e300", "inf", "2days", "99999999999999999999ms"] {
            assert!(parse_timeout(too_long).is_err(), "{too_long}");
        }
        assert!(parse_timeout("NaN").is_err());
    }
}
