//! Token-bucket rate limits, keyed by client IP or by signer address.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::Rate;

/// Buckets beyond this count trigger a sweep of the full (idle) ones.
const SWEEP_AT: usize = 100_000;

/// One token bucket per key.
#[derive(Debug)]
pub(crate) struct Limiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq + Copy> Limiter<K> {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take a token for `key`: `Ok(())`, or `Err(seconds until the next token)`.
    pub fn take(&self, key: K) -> Result<(), f64> {
        if self.rate.per_second <= 0.0 {
            return Ok(());
        }
        let burst = f64::from(self.rate.burst.max(1));
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > SWEEP_AT {
            let rate = self.rate.per_second;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(key).or_insert((burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.rate.per_second).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - *tokens) / self.rate.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_refuses() {
        let limiter = Limiter::new(Rate {
            per_second: 0.001,
            burst: 3,
        });
        for _ in 0..3 {
            assert!(limiter.take(1u8).is_ok());
        }
        assert!(limiter.take(1u8).is_err());
        assert!(limiter.take(2u8).is_ok(), "keys are independent");
        assert!(Limiter::new(Rate::UNLIMITED).take(1u8).is_ok());
    }
}
