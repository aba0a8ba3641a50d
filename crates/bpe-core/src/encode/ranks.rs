//! The rank table: token bytes to rank, built for the encoder's two lookups (a whole chunk,
//! and two adjacent parts joined), which are most of its work.
//!
//! A general hash map of byte strings costs three cache misses a lookup (control bytes,
//! bucket, and the key's bytes behind a pointer). Here tokens of up to 8 bytes (most of
//! them) live inline in their slot as a `u64`, so a lookup is one multiplication and,
//! usually, one cache line; longer tokens keep a 32-bit tag in their slot and are compared
//! with the concatenated token bytes only when the tag matches. Two-byte strings, the first
//! lookups of every merge, have a direct table.

use crate::error::{Error, Result};
use crate::packed::{pack, pack_with_len};

/// The rank of bytes that are not a token.
pub(crate) const NONE: u32 = u32::MAX;

/// Multiplier of the hash: the 64-bit golden ratio, odd, with well-spread bits.
const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// One multiplication folded to 64 bits: every input bit reaches the low bits, which pick
/// the slot.
#[inline(always)]
fn fold_mul(x: u64, y: u64) -> u64 {
    let m = (x as u128).wrapping_mul(y as u128);
    (m as u64) ^ ((m >> 64) as u64)
}

use hashbrown::HashTable;

/// A long token: the high half of its hash, its rank ([`NONE`]: an empty slot), and where
/// its bytes are (so a lookup reads them without going through `starts`).
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct LongSlot {
    tag: u32,
    rank: u32,
    start: u32,
    len: u32,
}

/// Token bytes to rank, and rank to token bytes. Immutable once built.
pub(crate) struct RankTable {
    /// Tokens of 3 to 7 bytes, keyed by [`pack_with_len`], and of 8 bytes, keyed by their bytes.
    short: HashTable<(u64, u32)>,
    eight: HashTable<(u64, u32)>,
    long: Box<[LongSlot]>,
    /// The rank of every two-byte token, indexed by its bytes as a little-endian `u16`.
    pairs: Box<[u32]>,
    /// The rank of each single byte.
    bytes_rank: [u32; 256],
    /// Every token's bytes, concatenated in rank order; token `r` is
    /// `bytes[starts[r]..starts[r + 1]]`.
    bytes: Box<[u8]>,
    starts: Box<[usize]>,
    /// The longest token: longer chunks skip the whole-chunk lookup.
    max_len: usize,
}

#[inline(always)]
fn short_hash(key: u64) -> u64 {
    fold_mul(key, K)
}

#[inline(always)]
fn long_hash(b: &[u8]) -> u64 {
    debug_assert!(b.len() > 8);
    let mut h = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for w in &mut chunks {
        h = fold_mul(h ^ u64::from_le_bytes(w.try_into().unwrap()), K);
    }
    if !chunks.remainder().is_empty() {
        // The last 8 bytes, overlapping the words already mixed: cheaper than padding.
        let tail = u64::from_le_bytes(b[b.len() - 8..].try_into().unwrap());
        h = fold_mul(h ^ tail, K);
    }
    h
}

/// A table size (a power of two) that keeps the load at or below 1/2.
fn capacity(n: usize) -> usize {
    (2 * n).next_power_of_two().max(16)
}

impl RankTable {
    /// The table of `tokens`, where `tokens[r]` has rank `r`. Tokens are distinct and not
    /// empty (the vocabulary checks both). Fails only if the tokens hold 4 GB of bytes or
    /// more, which positions in the table cannot address.
    pub(crate) fn new(tokens: &[Vec<u8>]) -> Result<Self> {
        let n_short = tokens.iter().filter(|t| t.len() <= 8).count();
        let n_long = tokens.len() - n_short;
        let mut short = HashTable::with_capacity(n_short);
        let mut eight = HashTable::new();
        let empty = LongSlot {
            tag: 0,
            rank: NONE,
            start: 0,
            len: 0,
        };
        let mut long = vec![empty; capacity(n_long)].into_boxed_slice();
        let mut pairs = vec![NONE; 1 << 16].into_boxed_slice();
        let mut bytes_rank = [NONE; 256];
        let mut bytes = Vec::with_capacity(tokens.iter().map(Vec::len).sum());
        let mut starts = Vec::with_capacity(tokens.len() + 1);
        let mut max_len = 0;
        for (rank, t) in tokens.iter().enumerate() {
            let rank = rank as u32;
            starts.push(bytes.len());
            bytes.extend_from_slice(t);
            max_len = max_len.max(t.len());
            match t.len() {
                0 => continue,
                1 => bytes_rank[t[0] as usize] = rank,
                2 => pairs[u16::from_le_bytes([t[0], t[1]]) as usize] = rank,
                _ => {}
            }
            if t.len() <= 7 {
                let key = pack_with_len(t);
                short.insert_unique(short_hash(key), (key, rank), |e| short_hash(e.0));
            } else if t.len() == 8 {
                let key = pack(t);
                eight.insert_unique(short_hash(key), (key, rank), |e| short_hash(e.0));
            } else {
                let h = long_hash(t);
                let mask = long.len() - 1;
                let mut i = h as usize & mask;
                while long[i].rank != NONE {
                    i = (i + 1) & mask;
                }
                long[i] = LongSlot {
                    tag: (h >> 32) as u32,
                    rank,
                    start: u32::try_from(bytes.len() - t.len()).map_err(|_| {
                        Error::Vocabulary(
                            "the tokens hold 4 GB of bytes or more, more than an encoder can index"
                                .into(),
                        )
                    })?,
                    len: t.len() as u32,
                };
            }
        }
        starts.push(bytes.len());
        Ok(RankTable {
            short,
            eight,
            long,
            pairs,
            bytes_rank,
            bytes: bytes.into_boxed_slice(),
            starts: starts.into_boxed_slice(),
            max_len,
        })
    }

    /// The number of ranks.
    pub(crate) fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// The bytes of rank `r`, if there is one.
    #[inline]
    pub(crate) fn token(&self, r: u32) -> Option<&[u8]> {
        let r = r as usize;
        (r < self.len()).then(|| &self.bytes[self.starts[r]..self.starts[r + 1]])
    }

    /// The rank of one byte ([`NONE`] if it has none).
    #[inline(always)]
    pub(crate) fn byte(&self, b: u8) -> u32 {
        self.bytes_rank[b as usize]
    }

    /// The rank of two bytes.
    #[inline(always)]
    pub(crate) fn pair(&self, a: u8, b: u8) -> u32 {
        self.pairs[u16::from_le_bytes([a, b]) as usize]
    }

    /// The rank of `b`, or [`NONE`].
    #[inline(always)]
    pub(crate) fn get(&self, b: &[u8]) -> u32 {
        let n = b.len();
        if n <= 8 {
            match n {
                0 => NONE,
                1 => self.bytes_rank[b[0] as usize],
                2 => self.pair(b[0], b[1]),
                _ => self.get_short(b),
            }
        } else if n <= self.max_len {
            self.get_long(b)
        } else {
            NONE
        }
    }

    #[inline(always)]
    fn get_short(&self, b: &[u8]) -> u32 {
        let (table, key) = if b.len() < 8 {
            (&self.short, pack_with_len(b))
        } else {
            (&self.eight, pack(b))
        };
        table
            .find(short_hash(key), |e| e.0 == key)
            .map_or(NONE, |e| e.1)
    }

    #[inline(never)]
    fn get_long(&self, b: &[u8]) -> u32 {
        let h = long_hash(b);
        let tag = (h >> 32) as u32;
        let mask = self.long.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let slot = self.long[i];
            if slot.rank == NONE {
                return NONE;
            }
            if slot.tag == tag && slot.len as usize == b.len() {
                let start = slot.start as usize;
                if same_bytes(&self.bytes[start..start + b.len()], b) {
                    return slot.rank;
                }
            }
            i = (i + 1) & mask;
        }
    }
}

/// Whether `a` and `b` (of the same length, over 8 bytes) are equal, compared 8 bytes at a
/// time inline: most are under 17 bytes, where a call to `memcmp` costs more than the work.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    debug_assert!(a.len() == b.len() && a.len() > 8);
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
    let n = a.len();
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last 8 bytes, overlapping what was already compared.
    word(a, n - 8) == word(b, n - 8)
}

/// A hash of any non-empty byte string, for the chunk cache.
#[inline(always)]
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    if b.len() <= 8 {
        short_hash(pack(b) ^ (b.len() as u64) << 59)
    } else {
        long_hash(b)
    }
}
