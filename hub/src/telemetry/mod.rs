//! What the hub tells its operator: logs (with throttling for repeated warnings) and Prometheus metrics.

pub mod log_throttle;
pub mod logging;
pub mod metrics;
