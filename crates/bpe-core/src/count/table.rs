//! The table a worker counts a batch's short chunks into: packed keys (see `count.rs`) and
//! their counts in one flat array, found by linear probing.
//!
//! Counting is bound by memory, not by work: a batch has hundreds of thousands of distinct
//! chunks, so the table outgrows the core's cache and most of the chunks in the long tail
//! miss it. Each chunk's slot is therefore asked for (prefetched) as soon as the chunk is
//! known, and counted [`LAG`] chunks later, by when the slot has arrived; meanwhile the
//! scanner goes on splitting. hashbrown cannot do this (it does not say where a key will
//! be before looking it up), so the table is this small one instead.

/// How many chunks pass between a chunk's prefetch and its count: enough to cover a miss
/// to memory at the few nanoseconds the scanner takes per chunk.
const LAG: usize = 16;

/// A packed chunk. The packed forms carry the chunk's length (at least 1) in their top byte,
/// so no key is zero, which marks an empty slot.
pub(crate) trait Key: Copy + Eq + Default {
    /// Hash bits: the top ones, where a multiplication mixes in every bit of the key, pick
    /// the slot.
    fn hash(self) -> u64;
}

impl Key for u64 {
    #[inline(always)]
    fn hash(self) -> u64 {
        // An odd constant of its own: not `count::shard`'s, so that a table holding one
        // shard's keys still spreads them over every slot; and not FxHash's, which hashes
        // the owned tables that are filled in this table's order (filling a table in the
        // order of its own hash is the classic way to cluster open addressing).
        self.wrapping_mul(0xd6e8_feb8_6659_fd93)
    }
}

impl Key for u128 {
    #[inline(always)]
    fn hash(self) -> u64 {
        ((self as u64).wrapping_mul(0xa076_1d64_78bd_642f) ^ (self >> 64) as u64)
            .wrapping_mul(0xd6e8_feb8_6659_fd93)
    }
}

/// Counts by key. Counts given to [`Table::add_later`] are in the table only after
/// [`Table::flush`].
pub(crate) struct Table<K> {
    slots: Vec<(K, u64)>,
    /// 64 minus log2 of the number of slots: `hash >> shift` is a slot.
    shift: u32,
    len: usize,
    /// Keys prefetched and not yet counted, in a ring; empty places hold zero.
    pending: [K; LAG],
    next: usize,
}

impl<K: Key> Default for Table<K> {
    fn default() -> Self {
        Self::with_slots(1 << 10)
    }
}

impl<K: Key> Table<K> {
    pub(crate) fn with_slots(n: usize) -> Self {
        debug_assert!(n.is_power_of_two() && n >= 2);
        // Written out, not `vec![…; n]`: that would get zeroed pages from the kernel, and
        // the first look at a slot (a read) maps the shared zero page, so the count that
        // follows faults again to copy it, making every other core of the process flush
        // its TLB.
        let mut slots = Vec::with_capacity(n);
        slots.resize(n, (K::default(), 0));
        Table {
            slots,
            shift: 64 - n.trailing_zeros(),
            len: 0,
            pending: [K::default(); LAG],
            next: 0,
        }
    }

    #[inline(always)]
    fn slot(&self, key: K) -> usize {
        (key.hash() >> self.shift) as usize
    }

    /// Adds one occurrence of `key` (never zero), counted [`LAG`] keys later.
    #[inline(always)]
    pub(crate) fn add_later(&mut self, key: K) {
        debug_assert!(key != K::default());
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the slot is in bounds; prefetching is only a hint.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let slot = self.slots.as_ptr().add(self.slot(key));
            _mm_prefetch::<_MM_HINT_T0>(slot as *const i8);
        }
        let due = std::mem::replace(&mut self.pending[self.next], key);
        self.next = (self.next + 1) % LAG;
        if due != K::default() {
            self.add(due, 1);
        }
    }

    /// Counts every key that [`Table::add_later`] holds back.
    pub(crate) fn flush(&mut self) {
        for i in 0..LAG {
            let key = std::mem::take(&mut self.pending[i]);
            if key != K::default() {
                self.add(key, 1);
            }
        }
    }

    /// Adds `n` to the count of `key` (never zero), now.
    #[inline(always)]
    pub(crate) fn add(&mut self, key: K, n: u64) {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(key);
        loop {
            let slot = &mut self.slots[i];
            if slot.0 == key {
                slot.1 += n;
                return;
            }
            if slot.0 == K::default() {
                *slot = (key, n);
                self.len += 1;
                // At most three quarters full, a probe rarely goes past the next cache line.
                if self.len * 4 > self.slots.len() * 3 {
                    self.grow();
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    #[cold]
    fn grow(&mut self) {
        let mut bigger = Self::with_slots(self.slots.len() * 2);
        for &(key, n) in &self.slots {
            if key != K::default() {
                bigger.add(key, n);
            }
        }
        bigger.pending = self.pending;
        bigger.next = self.next;
        *self = bigger;
    }

    /// Number of distinct keys (after a flush).
    pub(crate) fn len(&self) -> usize {
        debug_assert!(self.pending.iter().all(|&k| k == K::default()));
        self.len
    }

    /// Adds the counts of `other` to these, walking the smaller of the two.
    pub(crate) fn absorb(&mut self, mut other: Self) {
        self.flush();
        other.flush();
        if self.len < other.len {
            std::mem::swap(self, &mut other);
        }
        for (key, n) in other.drain() {
            self.add(key, n);
        }
    }

    /// Every key with its count, in no particular order, leaving the table empty with its
    /// slots kept for reuse.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (K, u64)> + '_ {
        self.flush();
        self.len = 0;
        (self.slots.iter_mut())
            .filter(|slot| slot.0 != K::default())
            .map(std::mem::take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The table against a plain `HashMap` (the obviously right twin), counting now and
    /// later, across many growths, with keys that differ only in high or only in low bits.
    #[test]
    fn counts_equal_a_hash_map() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut table = Table::<u128>::default();
        let mut twin = HashMap::new();
        for i in 0..200_000u64 {
            let r = next();
            let key = match r % 4 {
                0 => (r % 97 + 1) as u128,
                1 => ((r % 89 + 1) as u128) << 120,
                2 => (r as u128) << 64 | 1,
                _ => (r % 5000 + 1) as u128 * 0x0101_0101_0101_0101,
            };
            let n = if i % 3 == 0 { 1 + r % 7 } else { 1 };
            if n == 1 && i % 2 == 0 {
                table.add_later(key);
            } else {
                table.add(key, n);
            }
            *twin.entry(key).or_insert(0u64) += n;
        }
        table.flush();
        assert_eq!(table.len(), twin.len());
        let counted: HashMap<u128, u64> = table.drain().collect();
        assert_eq!(counted, twin);
        // Drained, the table is empty and counts afresh in the same slots.
        let slots = table.slots.len();
        assert_eq!((table.len(), table.drain().count()), (0, 0));
        for key in [5u128, 1 << 100, 5] {
            table.add_later(key);
        }
        table.flush();
        let again: HashMap<u128, u64> = table.drain().collect();
        assert_eq!(again, HashMap::from([(5, 2), (1 << 100, 1)]));
        assert_eq!(table.slots.len(), slots);
    }
}
