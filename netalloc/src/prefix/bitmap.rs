//! A fixed-size bitmap of slots (one bit per prefix or per address) with a free counter, a
//! next-fit cursor and a one-bit-per-word summary of full words.
//!
//! Allocation is next-fit, as Linux hands out PIDs: it continues after the last slot handed
//! out and wraps around. That keeps allocation O(1) amortized while the map is not nearly full
//! and, as the VPC CNI's address cool-down does (`pkg/ipamd/datastore`), avoids handing a slot
//! straight back out right after it was released, while stale routes may still point at it.
//! The summary (`full`, bit `w` set when word `w` has no free bit) lets a nearly full map skip
//! 64 full words per step, so the worst case is `len / 4096` summary words, not `len` bits.
//!
//! Compare Kubernetes' `pkg/registry/core/service/allocator/bitmap.go`, which keeps a
//! `big.Int` and scans from a random offset; we keep words so the snapshot is a hex string.

use std::fmt::Write as _;

/// A bitmap of `len` slots; set bits are allocated.
///
/// Invariants: bits at or past `len` are zero in `words` and one in `full`'s padding (so they
/// are never picked); `free` counts the zero bits below `len`; `next < len` unless `len == 0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
    full: Vec<u64>,
    len: u32,
    free: u32,
    next: u32,
}

const fn word_count(bits: u64) -> usize {
    bits.div_ceil(64) as usize
}

impl Bitmap {
    /// An empty (all free) bitmap of `len` slots.
    pub fn new(len: u32) -> Bitmap {
        let n_words = word_count(u64::from(len));
        let mut full = vec![0u64; word_count(n_words as u64)];
        // Mark summary padding (words that do not exist) as full so they are never chosen.
        for w in n_words..full.len() * 64 {
            full[w / 64] |= 1 << (w % 64);
        }
        Bitmap {
            words: vec![0; n_words],
            full,
            len,
            free: len,
            next: 0,
        }
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn free(&self) -> u32 {
        self.free
    }

    pub fn used(&self) -> u32 {
        self.len - self.free
    }

    /// The next-fit cursor, saved in snapshots so a restart does not reuse fresh releases.
    pub fn cursor(&self) -> u32 {
        self.next
    }

    pub fn set_cursor(&mut self, next: u32) {
        self.next = if next < self.len { next } else { 0 };
    }

    pub fn is_set(&self, slot: u32) -> bool {
        let (w, b) = split(slot);
        slot < self.len && self.words.get(w).is_some_and(|word| word & b != 0)
    }

    /// Marks `slot` allocated; false when it already was or lies past the end.
    pub fn set(&mut self, slot: u32) -> bool {
        if slot >= self.len || self.is_set(slot) {
            return false;
        }
        let (w, b) = split(slot);
        self.words[w] |= b;
        self.free -= 1;
        self.refresh_full(w);
        true
    }

    /// Marks `slot` free; false when it already was or lies past the end.
    pub fn clear(&mut self, slot: u32) -> bool {
        if !self.is_set(slot) {
            return false;
        }
        let (w, b) = split(slot);
        self.words[w] &= !b;
        self.free += 1;
        self.refresh_full(w);
        true
    }

    /// Allocates the first free slot at or after the cursor (wrapping), or `None` when full.
    pub fn allocate(&mut self) -> Option<u32> {
        if self.free == 0 {
            return None;
        }
        let slot = self.find_from(self.next)?;
        self.set(slot);
        self.next = if slot + 1 < self.len { slot + 1 } else { 0 };
        Some(slot)
    }

    /// The set slots in increasing order.
    pub fn iter_set(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let base = (w as u32) * 64;
            let mut rest = word;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros();
                rest &= rest - 1;
                Some(base + bit)
            })
        })
    }

    /// Words as 16 lowercase hex digits each (word 0 first, most significant digit first),
    /// trailing all-zero words omitted, so an empty subnet encodes as "".
    pub fn to_hex(&self) -> String {
        let used = self
            .words
            .iter()
            .rposition(|&w| w != 0)
            .map_or(0, |i| i + 1);
        let mut out = String::with_capacity(used * 16);
        for w in &self.words[..used] {
            // Writing to a String cannot fail.
            let _ = write!(out, "{w:016x}");
        }
        out
    }

    /// Parses [`Bitmap::to_hex`] output for a map of `len` slots.
    pub fn from_hex(len: u32, hex: &str) -> Result<Bitmap, String> {
        let mut map = Bitmap::new(len);
        if !hex.len().is_multiple_of(16) {
            return Err(format!(
                "length {} is not a multiple of 16 hex digits",
                hex.len()
            ));
        }
        if hex.len() / 16 > map.words.len() {
            return Err(format!("{} words for {len} slots", hex.len() / 16));
        }
        let mut free = len;
        for (i, chunk) in hex.as_bytes().chunks(16).enumerate() {
            let text = std::str::from_utf8(chunk).map_err(|_| format!("word {i} is not hex"))?;
            if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("word {i} ({text:?}) is not hex"));
            }
            let word = u64::from_str_radix(text, 16).map_err(|e| format!("word {i}: {e}"))?;
            let valid_bits = u64::from(len) - (i as u64) * 64;
            if valid_bits < 64 && word >> valid_bits != 0 {
                return Err(format!("word {i} marks slots past the end ({len} slots)"));
            }
            map.words[i] = word;
            free -= word.count_ones();
            map.refresh_full(i);
        }
        map.free = free;
        Ok(map)
    }

    /// Approximate heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        (self.words.capacity() + self.full.capacity()) * 8 + std::mem::size_of::<Bitmap>()
    }

    fn valid_mask(&self, w: usize) -> u64 {
        let valid = u64::from(self.len).saturating_sub(w as u64 * 64);
        if valid >= 64 {
            u64::MAX
        } else {
            (1u64 << valid) - 1
        }
    }

    fn refresh_full(&mut self, w: usize) {
        let Some(&word) = self.words.get(w) else {
            return;
        };
        let full = word | !self.valid_mask(w) == u64::MAX;
        let bit = 1u64 << (w % 64);
        if full {
            self.full[w / 64] |= bit;
        } else {
            self.full[w / 64] &= !bit;
        }
    }

    /// The first free slot at or after `start`, wrapping once.
    fn find_from(&self, start: u32) -> Option<u32> {
        let (w0, _) = split(start);
        // Bits of word w0 at or after `start`.
        let below = (1u64 << (start % 64)) - 1;
        let candidate = self.words.get(w0)? | below | !self.valid_mask(w0);
        if candidate != u64::MAX {
            return Some(w0 as u32 * 64 + candidate.trailing_ones());
        }
        // Scan the summary for a non-full word after w0, wrapping; w0 itself comes up again
        // last, which covers its bits below `start`.
        let n = self.words.len();
        let mut w = (w0 + 1) % n;
        for _ in 0..=self.full.len() + 1 {
            let s = w / 64;
            let masked = self.full[s] | ((1u64 << (w % 64)) - 1);
            if masked != u64::MAX {
                let word = s * 64 + masked.trailing_ones() as usize;
                let bits = self.words[word] | !self.valid_mask(word);
                return Some(word as u32 * 64 + bits.trailing_ones());
            }
            w = ((s + 1) * 64) % (self.full.len() * 64);
            if w >= n {
                w = 0;
            }
        }
        None
    }
}

fn split(slot: u32) -> (usize, u64) {
    ((slot / 64) as usize, 1u64 << (slot % 64))
}
