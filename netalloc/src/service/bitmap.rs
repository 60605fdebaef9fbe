//! The allocation bitmap under the ClusterIP and NodePort allocators.
//!
//! Mirrors `pkg/registry/core/service/allocator/bitmap.go` (`AllocationBitmap` with
//! `randomScanStrategyWithOffset`): one bit per offset, a count of set bits, and a dynamic
//! allocation that picks a random start and scans forward, wrapping. The range is split at
//! `offset` into a lower "static" band and an upper "dynamic" band (KEP-3070 for ClusterIPs,
//! KEP-3668 for NodePorts): `allocate_next` takes from the upper band first and falls back to
//! the lower one only when the upper band is full, so users who pick their address by hand
//! can pick from the lower band with little risk of a collision.
//!
//! Differences from upstream, on purpose:
//! - Words of 64 bits plus a summary of full words replace Go's `big.Int`, so a scan skips
//!   4096 taken offsets per summary word: finding a free bit costs at most `max / 4096`
//!   summary probes plus one word probe (16 + 1 for the largest, 65536-entry range).
//! - The random generator is a seeded SplitMix64 owned by the bitmap, so tests are
//!   deterministic; upstream seeds `math/rand` with the clock.
//! - A snapshot that marks an offset past the end is refused; upstream counts such bits.

use super::error::ServiceAllocError;

/// A small deterministic generator (SplitMix64). Not cryptographic: it only spreads dynamic
/// allocations over the range, as upstream's `math/rand` does.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed; equal seeds give equal sequences.
    pub const fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (0 when `n` is 0), by multiply-shift rather than modulo.
    pub fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * n as u128;
        // The product shifted by 64 is below `n`, so it fits back into usize.
        usize::try_from(wide >> 64).unwrap_or(0)
    }
}

/// A fixed-size set of offsets `0..max` with random-scan allocation in two bands.
///
/// Invariants: `count` equals the number of set bits below `max`; the padding bits of the
/// last word (offsets `max..`) are always set, so a word of all ones means "no free offset
/// here"; bit `j` of `full` is set exactly when `words[j]` is all ones.
#[derive(Clone, Debug)]
pub struct AllocationBitmap {
    words: Vec<u64>,
    full: Vec<u64>,
    max: usize,
    offset: usize,
    count: usize,
    rng: SplitMix64,
}

impl PartialEq for AllocationBitmap {
    /// Two bitmaps are equal when they cover the same range and hold the same offsets; the
    /// generator's position does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.max == other.max && self.offset == other.offset && self.words == other.words
    }
}

impl Eq for AllocationBitmap {}

impl AllocationBitmap {
    /// An empty bitmap of `max` offsets whose first `offset` form the static band. An offset
    /// not below `max` is clamped (upstream requires `offset < max` of its callers).
    pub fn new(max: usize, offset: usize, seed: u64) -> Self {
        let n_words = max.div_ceil(64);
        let mut words = vec![0u64; n_words];
        let rem = max % 64;
        if let (true, Some(last)) = (rem != 0, words.last_mut()) {
            *last = !((1u64 << rem) - 1);
        }
        let mut full = vec![0u64; n_words.div_ceil(64)];
        for (j, w) in words.iter().enumerate() {
            if *w == u64::MAX {
                full[j / 64] |= 1 << (j % 64);
            }
        }
        AllocationBitmap {
            words,
            full,
            max,
            offset: offset.min(max),
            count: 0,
            rng: SplitMix64::new(seed),
        }
    }

    /// The number of offsets in the range.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The size of the static (lower) band.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The number of offsets taken.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The number of offsets left.
    pub fn free(&self) -> usize {
        self.max - self.count
    }

    /// Whether `offset` is taken; offsets out of range never are.
    pub fn has(&self, offset: usize) -> bool {
        offset < self.max && self.words[offset / 64] & (1 << (offset % 64)) != 0
    }

    /// Takes `offset`: `Some(true)` if it was free, `Some(false)` if it was taken already,
    /// `None` if it is out of range.
    pub fn allocate(&mut self, offset: usize) -> Option<bool> {
        if offset >= self.max {
            return None;
        }
        if self.has(offset) {
            return Some(false);
        }
        self.set(offset);
        Some(true)
    }

    /// Takes a free offset, from the upper band first, starting each band's scan at a random
    /// place; `None` when the range is full.
    pub fn allocate_next(&mut self) -> Option<usize> {
        if self.count >= self.max {
            return None;
        }
        let found = self
            .random_scan(self.offset, self.max)
            .or_else(|| self.random_scan(0, self.offset));
        if let Some(at) = found {
            self.set(at);
        }
        found
    }

    /// Frees `offset`; freeing a free or out-of-range offset does nothing.
    pub fn release(&mut self, offset: usize) {
        if self.has(offset) {
            let w = offset / 64;
            self.words[w] &= !(1 << (offset % 64));
            self.full[w / 64] &= !(1 << (w % 64));
            self.count -= 1;
        }
    }

    /// The taken offsets in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let max = self.max;
        self.words.iter().enumerate().flat_map(move |(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(w * 64 + b)
            })
            .filter(move |&o| o < max)
        })
    }

    /// The taken offsets as the big-endian bytes of one integer whose bit `i` is offset `i`,
    /// without leading zero bytes: the `data` of upstream's `RangeAllocation`
    /// (`big.Int.Bytes()`), so snapshots written by either side read on the other.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.words.len() * 8);
        for (w, &word) in self.words.iter().enumerate().rev() {
            let word = word & self.valid_mask(w);
            out.extend_from_slice(&word.to_be_bytes());
        }
        let first = out.iter().position(|&b| b != 0).unwrap_or(out.len());
        out.drain(..first);
        out
    }

    /// Replaces the taken offsets with those of `data` (see `snapshot`). Leading zero bytes
    /// are accepted; a bit past the end of the range is refused and leaves `self` unchanged.
    pub fn restore(&mut self, data: &[u8]) -> Result<(), ServiceAllocError> {
        let mut fresh = AllocationBitmap::new(self.max, self.offset, 0);
        for (i, &byte) in data.iter().rev().enumerate() {
            let mut bits = byte;
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let offset = i.saturating_mul(8).saturating_add(b);
                if fresh.allocate(offset).is_none() {
                    return Err(ServiceAllocError::CorruptSnapshot {
                        offset,
                        max: self.max,
                    });
                }
            }
        }
        self.words = fresh.words;
        self.full = fresh.full;
        self.count = fresh.count;
        Ok(())
    }

    /// The bits of word `w` that stand for offsets inside the range.
    fn valid_mask(&self, w: usize) -> u64 {
        let end = (w + 1) * 64;
        if end <= self.max {
            u64::MAX
        } else {
            (1u64 << (self.max % 64)) - 1
        }
    }

    fn set(&mut self, offset: usize) {
        let w = offset / 64;
        self.words[w] |= 1 << (offset % 64);
        if self.words[w] == u64::MAX {
            self.full[w / 64] |= 1 << (w % 64);
        }
        self.count += 1;
    }

    /// A free offset in `lo..hi`, scanning forward from a random start and wrapping.
    fn random_scan(&mut self, lo: usize, hi: usize) -> Option<usize> {
        if lo >= hi {
            return None;
        }
        let start = lo + self.rng.below(hi - lo);
        self.first_free(start, hi)
            .or_else(|| self.first_free(lo, start))
    }

    /// The smallest free offset in `from..to`.
    fn first_free(&self, from: usize, to: usize) -> Option<usize> {
        let mut i = from;
        while i < to {
            let w = i / 64;
            // Treat the bits below `i` in this word as taken.
            let word = self.words[w] | ((1u64 << (i % 64)) - 1);
            if word != u64::MAX {
                let at = w * 64 + (!word).trailing_zeros() as usize;
                return (at < to).then_some(at);
            }
            i = self.next_non_full_word(w + 1)? * 64;
        }
        None
    }

    /// The first word at or after `w` with a free bit, found through the summary.
    fn next_non_full_word(&self, w: usize) -> Option<usize> {
        let mut s = w / 64;
        let mut mask = !((1u64 << (w % 64)) - 1);
        while s < self.full.len() {
            let free_words = !self.full[s] & mask;
            if free_words != 0 {
                let j = s * 64 + free_words.trailing_zeros() as usize;
                return (j < self.words.len()).then_some(j);
            }
            s += 1;
            mask = u64::MAX;
        }
        None
    }
}

#[cfg(test)]
#[path = "bitmap_tests.rs"]
mod tests;
