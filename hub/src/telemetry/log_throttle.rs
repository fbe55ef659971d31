//! Repeated warnings written at most once per interval, so that one client repeating a mistake cannot
//! fill the log: the line that is written says how many like it were held back. Values a client chose
//! are [`clipped`] before they are logged.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A warning that is logged at most once per `every`.
#[derive(Debug)]
pub struct LogThrottle {
    every: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    last: Option<Instant>,
    held_back: u64,
}

impl LogThrottle {
    pub const fn new(every: Duration) -> Self {
        Self { every, state: Mutex::new(State { last: None, held_back: 0 }) }
    }

    /// `Some(n)` when a line is due now, `n` being how many were held back since the last one; `None`:
    /// hold this one back.
    pub fn due(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.last.is_some_and(|last| now.saturating_duration_since(last) < self.every) {
            state.held_back += 1;
            return None;
        }
        state.last = Some(now);
        Some(std::mem::take(&mut state.held_back))
    }
}

/// Characters of a client's value (a header, a name) that a log line or a refusal repeats.
const CLIPPED_CHARS: usize = 100;

/// `value` cut to its first [`CLIPPED_CHARS`] characters, so that a client's 8 KB header does not
/// become an 8 KB log line.
pub fn clipped(value: &str) -> &str {
    value.char_indices().nth(CLIPPED_CHARS).map_or(value, |(end, _)| &value[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_clipped_at_a_character_boundary() {
        assert_eq!(clipped("short"), "short");
        let long = "é".repeat(300);
        assert_eq!(clipped(&long).chars().count(), CLIPPED_CHARS);
    }

    #[test]
    fn one_line_per_interval_counting_the_rest() {
        let throttle = LogThrottle::new(Duration::from_secs(60));
        let start = Instant::now();
        assert_eq!(throttle.due(start), Some(0));
        for s in 1..=3 {
            assert_eq!(throttle.due(start + Duration::from_secs(s)), None);
        }
        assert_eq!(throttle.due(start + Duration::from_secs(60)), Some(3));
        assert_eq!(throttle.due(start + Duration::from_secs(61)), None);
    }
}
