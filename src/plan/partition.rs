//! Splitting an inclusive integer range into partitions, by step or into N chunks.
//!
//! Pure arithmetic by index, so the planner can produce partition `i` of ten million without
//! materialising the others. Computed in `i128` so no bound near `i64::MAX` can overflow.

use crate::config::Split;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partitions {
    from: i64,
    split: Split,
    /// Values in `[from, to]`.
    total: u128,
    count: u64,
}

impl Partitions {
    /// Fails when `from > to`.
    pub fn new(from: i64, to: i64, split: Split) -> Result<Partitions, String> {
        if from > to {
            return Err(format!("`from` ({from}) is greater than `to` ({to})"));
        }
        let total = (to as i128 - from as i128 + 1) as u128;
        let count = match split {
            Split::Step(step) => total.div_ceil(step as u128),
            // Never more chunks than values: a chunk is never empty.
            Split::Chunks(chunks) => total.min(chunks as u128),
        };
        let count = u64::try_from(count).map_err(|_| "the range has more than 2^64 partitions".to_string())?;
        Ok(Partitions { from, split, total, count })
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The inclusive bounds of partition `i` (`i < count`).
    pub fn get(&self, i: u64) -> (i64, i64) {
        let i = i as u128;
        let (offset, len) = match self.split {
            Split::Step(step) => {
                let step = step as u128;
                let offset = i * step;
                (offset, step.min(self.total - offset))
            }
            Split::Chunks(_) => {
                let n = self.count as u128;
                let (base, extra) = (self.total / n, self.total % n);
                (i * base + i.min(extra), base + u128::from(i < extra))
            }
        };
        let start = self.from as i128 + offset as i128;
        (start as i64, (start + len as i128 - 1) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_seed_export_pattern() {
        let p = Partitions::new(1, 1_000_000, Split::Step(100_000)).unwrap();
        assert_eq!(p.count(), 10);
        assert_eq!(p.get(0), (1, 100_000));
        assert_eq!(p.get(1), (100_001, 200_000));
        assert_eq!(p.get(9), (900_001, 1_000_000));
    }

    #[test]
    fn last_step_is_cut_and_chunks_are_near_equal() {
        let p = Partitions::new(1, 10, Split::Step(4)).unwrap();
        assert_eq!((0..p.count()).map(|i| p.get(i)).collect::<Vec<_>>(), [(1, 4), (5, 8), (9, 10)]);
        let p = Partitions::new(1, 10, Split::Chunks(3)).unwrap();
        assert_eq!((0..p.count()).map(|i| p.get(i)).collect::<Vec<_>>(), [(1, 4), (5, 7), (8, 10)]);
        assert_eq!(Partitions::new(1, 2, Split::Chunks(5)).unwrap().count(), 2);
        assert!(Partitions::new(2, 1, Split::Step(1)).is_err());
        let p = Partitions::new(i64::MIN, i64::MAX, Split::Chunks(2)).unwrap();
        assert_eq!(p.get(1).1, i64::MAX);
    }

    fn split() -> impl Strategy<Value = Split> {
        prop_oneof![(1u64..5000).prop_map(Split::Step), (1u64..5000).prop_map(Split::Chunks)]
    }

    proptest! {
        /// Partitions cover `[from, to]` exactly: in order, no gap, no overlap, none empty,
        /// and as many as the formula says.
        #[test]
        fn partitions_tile_the_range(from in -1_000_000i64..1_000_000, len in 1i64..200_000, split in split()) {
            let to = from + len - 1;
            let p = Partitions::new(from, to, split).unwrap();
            let expected = match split {
                Split::Step(s) => (len as u64).div_ceil(s),
                Split::Chunks(c) => c.min(len as u64),
            };
            prop_assert_eq!(p.count(), expected);
            let mut next = from;
            for i in 0..p.count() {
                let (start, end) = p.get(i);
                prop_assert_eq!(start, next);
                prop_assert!(end >= start);
                if let Split::Step(s) = split {
                    prop_assert!((end - start + 1) as u64 <= s);
                }
                next = end + 1;
            }
            prop_assert_eq!(next, to + 1);
        }

        /// Chunks differ in size by at most one.
        #[test]
        fn chunks_are_balanced(len in 1i64..100_000, chunks in 1u64..1000) {
            let p = Partitions::new(0, len - 1, Split::Chunks(chunks)).unwrap();
            let sizes: Vec<i64> = (0..p.count()).map(|i| { let (a, b) = p.get(i); b - a + 1 }).collect();
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            prop_assert!(max - min <= 1);
        }
    }
}
