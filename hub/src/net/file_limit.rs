//! The open-files limit: every client connection is a file descriptor.
//!
//! Shells and service managers often start processes with a soft limit of 1,024 open files, far below
//! the hard limit the process may raise it to. A hub left at 1,024 would stop accepting connections at
//! about a thousand clients (the system refuses `accept` with "too many open files"), so the hub
//! raises its soft limit to the hard limit at start, as Go programs do, logs the result and warns when
//! `--max-connections` asks for more than that allows. Raising the hard limit itself needs privileges
//! (`LimitNOFILE=` in a systemd unit, `--ulimit nofile=` for Docker).

/// Descriptors the hub needs besides its clients: the listener, Redis, the runtime, logs, files.
const RESERVED: u64 = 64;

/// The open-files limit before and after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimit {
    pub before: u64,
    pub now: u64,
}

impl FileLimit {
    /// How many client connections fit under the limit.
    pub fn connections(&self) -> u64 {
        self.now.saturating_sub(RESERVED)
    }
}

/// Raises the soft open-files limit as far as the hard limit allows; `None` where the platform has no
/// such limit or it cannot be read.
pub fn raise() -> Option<FileLimit> {
    let (before, _) = rlimit::Resource::NOFILE.get().ok()?;
    let now = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(before);
    Some(FileLimit { before, now })
}

/// Raises the limit and logs it, with a warning when `max_connections` does not fit.
pub fn raise_for(max_connections: usize) {
    let Some(limit) = raise() else { return };
    if limit.now > limit.before {
        tracing::info!("open files limit raised from {} to {}", limit.before, limit.now);
    } else {
        tracing::info!("open files limit: {}", limit.now);
    }
    if max_connections as u64 > limit.connections() {
        tracing::warn!(
            "max-connections is {max_connections} but the open files limit ({}) allows about {} \
             connections; beyond that, new clients wait until others leave. Raise the hard limit \
             (LimitNOFILE= in a systemd unit, --ulimit nofile= for Docker) or lower --max-connections",
            limit.now,
            limit.connections()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_reaches_the_hard_limit_or_stays() {
        let Some(limit) = raise() else { return };
        let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
        assert_eq!(limit.now, soft);
        assert!(limit.now >= limit.before);
        assert!(soft == hard || hard == rlimit::INFINITY, "soft {soft}, hard {hard}");
    }

    #[test]
    fn connections_leave_room_for_the_hub_itself() {
        assert_eq!(FileLimit { before: 1024, now: 20_000 }.connections(), 19_936);
        assert_eq!(FileLimit { before: 10, now: 10 }.connections(), 0);
    }
}
