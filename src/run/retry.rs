//! When to try a failed task again.

use std::time::Duration;

/// The wait before retry number `retry` (1 for the first): `base`, doubling after each further
/// retry, plus up to 10 % jitter so that tasks that failed together do not retry in lockstep.
pub fn delay(base: Duration, retry: u32) -> Duration {
    let doubled = base.saturating_mul(1u32 << (retry.saturating_sub(1)).min(20)).min(crate::config::MAX_DURATION);
    doubled + doubled.mul_f64(fastrand::f64() * 0.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_bounded_jitter() {
        let base = Duration::from_millis(100);
        for (retry, expected) in [(1, 100), (2, 200), (3, 400)] {
            let d = delay(base, retry).as_millis();
            assert!((expected..=expected + expected / 10).contains(&d), "retry {retry}: {d}ms");
        }
        assert_eq!(delay(Duration::ZERO, 3), Duration::ZERO);
    }
}
