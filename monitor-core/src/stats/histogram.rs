//! A log-linear latency histogram: exact below 128 ns, then 64 sub-buckets per
//! power of two (relative error under 1.6 %), like HdrHistogram with two
//! significant digits. Recording is an index computation and an increment.

use serde::{Deserialize, Serialize};

const LINEAR: u64 = 128;
const SUB_BUCKET_BITS: u32 = 6;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;

/// More buckets than any `u64` value needs (the largest index is 3775).
const MAX_BUCKETS: usize = 8192;

/// The powers of two (in nanoseconds) exposed as histogram bucket bounds:
/// 2^8 ns (256 ns) to 2^35 ns (34.4 s).
pub(crate) const EXPOSED_POWERS: std::ops::Range<u32> = 8..36;
/// How many bounds [`EXPOSED_POWERS`] holds.
pub(crate) const EXPOSED_BUCKETS: usize = (EXPOSED_POWERS.end - EXPOSED_POWERS.start) as usize;

/// The first bucket index of the values at or above `2^power` ns (power ≥ 7).
fn first_index_at_power(power: u32) -> usize {
    index_of(1u64 << power)
}

/// Latency histogram over nanoseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

fn index_of(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros(); // >= 7
    let shift = exponent - SUB_BUCKET_BITS;
    let mantissa = (value >> shift) - SUB_BUCKETS; // 0..64
    (LINEAR + u64::from(exponent - 7) * SUB_BUCKETS + mantissa) as usize
}

/// The smallest and largest value that land in bucket `index`.
fn bounds_of(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < LINEAR {
        return (index, index);
    }
    let exponent = (index - LINEAR) / SUB_BUCKETS + 7;
    let mantissa = (index - LINEAR) % SUB_BUCKETS + SUB_BUCKETS;
    let shift = exponent as u32 - SUB_BUCKET_BITS;
    let low = mantissa << shift;
    (low, low + ((1u64 << shift) - 1))
}

impl Histogram {
    pub(crate) fn record(&mut self, nanos: u64) {
        let index = index_of(nanos);
        if index >= self.counts.len() {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] += 1;
        self.total += 1;
    }

    /// The value at quantile `q` (0..=1): the midpoint of the bucket holding it.
    pub(crate) fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, high) = bounds_of(index);
                return Some(low + (high - low) / 2);
            }
        }
        None
    }

    /// Adds another histogram's counts to this one.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// Adds the counts of a sparse histogram (`(bucket, count)` pairs, as
    /// [`to_sparse`](Self::to_sparse) writes them) to this one. Pairs naming
    /// a bucket no histogram produces are ignored; counts saturate.
    pub(crate) fn add_sparse(&mut self, sparse: &[(u32, u64)]) {
        for &(index, count) in sparse {
            let index = index as usize;
            if index >= MAX_BUCKETS {
                continue;
            }
            if index >= self.counts.len() {
                self.counts.resize(index + 1, 0);
            }
            self.counts[index] = self.counts[index].saturating_add(count);
            self.total = self.total.saturating_add(count);
        }
    }

    /// Cumulative counts of the values below `2^k` ns for each `k` in
    /// [`EXPOSED_POWERS`]: every `2^k` (k ≥ 7) is a bucket edge, so these
    /// counts are exact (the `le` buckets of the Prometheus histogram).
    pub(crate) fn cumulative_below_powers_of_two(&self) -> [u64; EXPOSED_BUCKETS] {
        let mut out = [0u64; EXPOSED_BUCKETS];
        let mut seen = 0u64;
        let mut next = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            while next < EXPOSED_BUCKETS
                && index >= first_index_at_power(EXPOSED_POWERS.start + next as u32)
            {
                out[next] = seen;
                next += 1;
            }
            seen += count;
        }
        for slot in &mut out[next..] {
            *slot = seen;
        }
        out
    }

    /// How many values were recorded.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Sparse form for persistence: `[[bucket, count], ...]`.
    pub(crate) fn to_sparse(&self) -> SparseHistogram {
        SparseHistogram(
            self.counts
                .iter()
                .enumerate()
                .filter(|(_, &count)| count > 0)
                .map(|(index, &count)| (index as u32, count))
                .collect(),
        )
    }

    pub(crate) fn from_sparse(sparse: &SparseHistogram) -> Self {
        // Counts no run can produce (a hand edit, a bad restore) would
        // overflow when added up, here or as this run records: such a
        // histogram is dropped (percentiles start again).
        let total = sparse
            .0
            .iter()
            .try_fold(0u64, |sum, &(_, count)| sum.checked_add(count));
        if total.is_none_or(|total| total > u64::MAX / 2) {
            return Histogram::default();
        }
        let mut histogram = Histogram::default();
        for &(index, count) in &sparse.0 {
            let index = index as usize;
            if index >= MAX_BUCKETS {
                continue; // not a bucket this histogram can produce
            }
            if index >= histogram.counts.len() {
                histogram.counts.resize(index + 1, 0);
            }
            histogram.counts[index] += count;
            histogram.total += count;
        }
        histogram
    }
}

/// The persisted form of a [`Histogram`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SparseHistogram(pub(crate) Vec<(u32, u64)>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_that_contains_it() {
        for value in (0..10_000u64).chain([1 << 20, 123_456_789, u64::MAX / 3, u64::MAX]) {
            let (low, high) = bounds_of(index_of(value));
            assert!(
                low <= value && value <= high,
                "{value} not in {low}..={high}"
            );
            assert!((high - low) as f64 <= value as f64 / 63.0 + 1.0);
        }
    }

    #[test]
    fn cumulative_counts_below_powers_of_two_are_exact() {
        let mut histogram = Histogram::default();
        let values = [
            0u64,
            255,
            256,
            257,
            1023,
            1024,
            5_000,
            1 << 20,
            (1 << 35) - 1,
            1 << 35,
            u64::MAX,
        ];
        for value in values {
            histogram.record(value);
        }
        let cumulative = histogram.cumulative_below_powers_of_two();
        for (slot, power) in EXPOSED_POWERS.enumerate() {
            let expected = values.iter().filter(|&&v| v < 1u64 << power).count() as u64;
            assert_eq!(cumulative[slot], expected, "below 2^{power}");
        }
        assert_eq!(
            Histogram::default().cumulative_below_powers_of_two(),
            [0; EXPOSED_BUCKETS]
        );
    }

    #[test]
    fn quantiles_are_within_bucket_precision() {
        let mut histogram = Histogram::default();
        for value in 1..=1000u64 {
            histogram.record(value * 1000);
        }
        let p50 = histogram.quantile(0.5).unwrap() as f64;
        assert!((p50 - 500_000.0).abs() / 500_000.0 < 0.02, "{p50}");
        let p99 = histogram.quantile(0.99).unwrap() as f64;
        assert!((p99 - 990_000.0).abs() / 990_000.0 < 0.02, "{p99}");
        let round_trip = Histogram::from_sparse(&histogram.to_sparse());
        assert_eq!(round_trip, histogram);
    }
}
