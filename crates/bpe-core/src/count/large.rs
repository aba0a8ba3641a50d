//! The table a worker counts a batch's long chunks into (those too long to pack, about one
//! chunk in a hundred): each distinct chunk's bytes are copied once into an arena, so the
//! counts borrow nothing from the text they came from. That text can then be a buffer that
//! is written again for the next part of the batch (see `count::Parts`) rather than a
//! whole batch kept in memory until the batch is folded in.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

#[derive(Default)]
pub(crate) struct LargeCounts {
    /// The bytes of every distinct chunk, one after another.
    arena: Vec<u8>,
    /// Where each chunk is in `arena` (start, length), and its count.
    table: HashTable<(usize, usize, u64)>,
    hasher: DefaultHashBuilder,
}

impl LargeCounts {
    /// Adds `n` to the count of `chunk`, copying it into the arena when it is new. Kept out
    /// of line: one chunk in a hundred comes here, and inlined into the counting loop it
    /// slowed the loop for the other ninety-nine.
    #[inline(never)]
    pub(crate) fn add(&mut self, chunk: &[u8], n: u64) {
        let hash = self.hasher.hash_one(chunk);
        let arena = &self.arena;
        let same = |&(start, len, _): &(usize, usize, u64)| &arena[start..start + len] == chunk;
        if let Some(entry) = self.table.find_mut(hash, same) {
            entry.2 += n;
            return;
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(chunk);
        let (arena, hasher) = (&self.arena, &self.hasher);
        self.table
            .insert_unique(hash, (start, chunk.len(), n), |&(start, len, _)| {
                hasher.hash_one(&arena[start..start + len])
            });
    }

    /// Adds every count of `other`.
    pub(crate) fn absorb(&mut self, other: &LargeCounts) {
        for (chunk, n) in other.iter() {
            self.add(chunk, n);
        }
    }

    /// Every distinct chunk with its count.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> {
        (self.table.iter()).map(|&(start, len, n)| (&self.arena[start..start + len], n))
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_distinct_chunk_once_and_keeps_its_bytes() {
        let mut counts = LargeCounts::default();
        let chunks: Vec<Vec<u8>> = (0..5000u32)
            .map(|i| format!("a long chunk number {}", i % 700).into_bytes())
            .collect();
        for c in &chunks {
            counts.add(c, 1);
        }
        counts.add(b"a long chunk number 3", 10);
        assert_eq!(counts.len(), 700);
        let mut other = LargeCounts::default();
        other.add(b"a long chunk number 3", 1);
        other.add(b"a chunk only the other has", 2);
        counts.absorb(&other);
        assert_eq!(counts.len(), 701);
        let got: std::collections::HashMap<&[u8], u64> = counts.iter().collect();
        // 5000 = 7 * 700 + 100: numbers below 100 occur 8 times, the others 7.
        assert_eq!(got[&b"a long chunk number 3"[..]], 8 + 10 + 1);
        assert_eq!(got[&b"a long chunk number 150"[..]], 7);
        assert_eq!(got[&b"a chunk only the other has"[..]], 2);
        assert_eq!(got.values().sum::<u64>(), 5000 + 10 + 1 + 2);
    }
}
