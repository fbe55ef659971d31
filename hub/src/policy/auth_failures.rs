//! Failed authentications per client address, so that nobody can guess the publish token or forge a JWT
//! at speed: after [`BURST`] failures an address waits [`RECOVERY`] per further attempt, whatever it
//! sends (HTTP API `429` with `Retry-After`, Socket.IO `connect_error`).
//!
//! The gate closes before a token is compared: were a right token let through a closed gate, a guesser
//! would tell the one `200` among its `429`s, and the gate would slow nothing. So the gate is checked
//! without being charged, and only failures are charged. governor's limiters have no check that does not
//! charge, hence this small leaky bucket per address (a level that drains by one per [`RECOVERY`]).
//!
//! Failures that need the secret (an expired JWT with a good signature) are not guesses and are not
//! counted; see [`ConnectRefusal::is_guess`](super::identity::ConnectRefusal::is_guess). Addresses that
//! never failed have no entry. IPv6 clients are keyed by their /64, the block one subscriber gets, so
//! that the addresses of one machine count as one.
//!
//! The table is bounded: at most [`CAPACITY`] addresses (about 6 MB). Drained entries are dropped once a
//! minute, and at once when the table is full. When it is full of addresses that are all still
//! draining (a flood from that many addresses), the failures of addresses without an entry share one
//! bucket, whose gate those addresses then pass: a flood that large slows new clients too, rather than
//! giving each of its addresses a fresh burst.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failures an address may have in a row before it has to wait.
pub const BURST: f64 = 10.0;
/// How long one failure takes to be forgiven.
pub const RECOVERY: Duration = Duration::from_secs(6);
/// Most addresses with an entry.
pub const CAPACITY: usize = 100_000;
/// How often drained entries are dropped when the table is not full.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// An address that failed too often, and how long until its next attempt is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

/// The failures of every client address.
#[derive(Debug)]
pub struct AuthFailures {
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    buckets: HashMap<IpAddr, Bucket>,
    /// Shared by the addresses that found the table full.
    overflow: Bucket,
    last_sweep: Instant,
}

/// Failures not yet forgiven, as of `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn empty(now: Instant) -> Self {
        Self { level: 0.0, at: now }
    }

    /// The level at `now`, drained since `at`.
    fn level(&self, now: Instant) -> f64 {
        let drained = now.saturating_duration_since(self.at).as_secs_f64() / RECOVERY.as_secs_f64();
        (self.level - drained).max(0.0)
    }

    fn check(&self, now: Instant) -> Result<(), Throttled> {
        let excess = self.level(now) + 1.0 - BURST;
        if excess <= 0.0 {
            return Ok(());
        }
        Err(Throttled { retry_after: RECOVERY.mul_f64(excess) })
    }

    fn charge(&mut self, now: Instant) {
        *self = Self { level: self.level(now) + 1.0, at: now };
    }
}

impl Default for AuthFailures {
    fn default() -> Self {
        let now = Instant::now();
        let table = Table { buckets: HashMap::new(), overflow: Bucket::empty(now), last_sweep: now };
        Self { table: Mutex::new(table) }
    }
}

impl AuthFailures {
    /// Whether `ip` may try to authenticate now; not charged.
    pub fn check(&self, ip: IpAddr) -> Result<(), Throttled> {
        self.check_at(ip, Instant::now())
    }

    /// Counts a failed authentication from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        self.failed_at(ip, Instant::now());
    }

    fn check_at(&self, ip: IpAddr, now: Instant) -> Result<(), Throttled> {
        let table = self.lock();
        match table.buckets.get(&key(ip)) {
            Some(bucket) => bucket.check(now),
            None if table.buckets.len() >= CAPACITY => table.overflow.check(now),
            None => Ok(()),
        }
    }

    fn failed_at(&self, ip: IpAddr, now: Instant) {
        let mut table = self.lock();
        let table = &mut *table;
        let key = key(ip);
        if now.saturating_duration_since(table.last_sweep) >= SWEEP_EVERY
            || (table.buckets.len() >= CAPACITY && !table.buckets.contains_key(&key) && table.sweep_due(now))
        {
            table.sweep(now);
        }
        let full = table.buckets.len() >= CAPACITY;
        match table.buckets.get_mut(&key) {
            Some(bucket) => bucket.charge(now),
            None if full => table.overflow.charge(now),
            None => {
                let mut bucket = Bucket::empty(now);
                bucket.charge(now);
                table.buckets.insert(key, bucket);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().buckets.len()
    }
}

impl Table {
    /// A full table is swept at most once a second: under a flood every entry is still draining, and
    /// a sweep per failure would cost a pass over the whole table each time.
    fn sweep_due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_sweep) >= Duration::from_secs(1)
    }

    /// Drops drained entries, and gives back the memory of a table that was much larger.
    fn sweep(&mut self, now: Instant) {
        self.buckets.retain(|_, bucket| bucket.level(now) > 0.0);
        if self.buckets.capacity() > 4 * self.buckets.len().max(1024) {
            self.buckets.shrink_to(2 * self.buckets.len());
        }
        self.last_sweep = now;
    }
}

/// The entry an address counts under: itself, or its /64 for IPv6 (IPv4-mapped ones as IPv4).
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(n.into())
    }

    #[test]
    fn a_burst_of_failures_then_one_per_recovery() {
        let failures = AuthFailures::default();
        let start = Instant::now();
        for _ in 0..BURST as usize {
            assert_eq!(failures.check_at(v4(1), start), Ok(()));
            failures.failed_at(v4(1), start);
        }
        let refused = failures.check_at(v4(1), start).unwrap_err();
        assert_eq!(refused.retry_after, RECOVERY);
        assert_eq!(failures.check_at(v4(2), start), Ok(()), "other addresses are not concerned");
        assert_eq!(failures.check_at(v4(1), start + RECOVERY), Ok(()), "one more after RECOVERY");
        failures.failed_at(v4(1), start + RECOVERY);
        assert!(failures.check_at(v4(1), start + RECOVERY).is_err());
    }

    #[test]
    fn checking_costs_nothing() {
        let failures = AuthFailures::default();
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(failures.check_at(v4(1), now), Ok(()));
        }
        assert_eq!(failures.len(), 0, "addresses that never failed have no entry");
    }

    #[test]
    fn one_ipv6_subscriber_counts_once() {
        let failures = AuthFailures::default();
        let now = Instant::now();
        for host in 0..BURST as u16 {
            failures.failed_at(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, host)), now);
        }
        let other_host = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0xffff, 1, 2, 3));
        assert!(failures.check_at(other_host, now).is_err(), "the same /64");
        let other_subscriber = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert_eq!(failures.check_at(other_subscriber, now), Ok(()));
        assert_eq!(key("::ffff:10.0.0.1".parse().unwrap()), v4(0x0a00_0001));
    }

    #[test]
    fn a_flood_of_addresses_stays_within_capacity_and_is_still_throttled() {
        let failures = AuthFailures::default();
        let now = Instant::now();
        for n in 0..CAPACITY as u32 {
            failures.failed_at(v4(n), now);
        }
        assert_eq!(failures.len(), CAPACITY);
        // The table is full of addresses still draining: newcomers share one bucket.
        for n in 0..BURST as u32 {
            failures.failed_at(v4(1_000_000 + n), now);
        }
        assert_eq!(failures.len(), CAPACITY, "no growth beyond capacity");
        assert!(failures.check_at(v4(2_000_000), now).is_err(), "no fresh burst for a new address");
        assert_eq!(failures.check_at(v4(5), now), Ok(()), "addresses with an entry keep their own");

        // Once the flood has drained, the table is emptied and its memory given back.
        let later = now + RECOVERY.mul_f64(BURST + 1.0);
        assert_eq!(failures.check_at(v4(2_000_000), later), Ok(()));
        failures.failed_at(v4(7), later);
        assert_eq!(failures.len(), 1);
        assert!(failures.lock().buckets.capacity() < 10_000);
    }
}
