//! A bounded cache of the chunks that needed merging, one per thread.
//!
//! Most chunks are one token and cost a single table lookup; the others cost a merge, a
//! dozen lookups or more, and the same ones come back again and again in a corpus (rarer
//! words, identifiers, numbers). Each thread keeps the last result for each of
//! [`ENTRIES`] hash slots (direct-mapped: a new chunk evicts the old one in its slot), so
//! memory stays fixed whatever the text. A thread's cache serves one encoder at a time:
//! when another encoder uses it, the epoch moves on and every older entry stops counting,
//! so encoders never see each other's ids.

use super::ranks::hash_bytes;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Slots per thread: 16384 entries of 32 bytes, 512 KB, which stays in a core's L2 cache
/// (a cache that misses there costs more than the merge it saves).
const ENTRIES: usize = 16384;
/// The longest chunk cached: chunks that need merging average under 9 bytes.
const MAX_KEY: usize = 14;
/// The most ids of a cached chunk.
const MAX_IDS: usize = 3;

/// One cached chunk: half a cache line.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Entry {
    /// The epoch it was written in (0: never).
    epoch: u32,
    key_len: u8,
    n_ids: u8,
    key: [u8; MAX_KEY],
    ids: [u32; MAX_IDS],
}

const EMPTY: Entry = Entry {
    epoch: 0,
    key_len: 0,
    n_ids: 0,
    key: [0; MAX_KEY],
    ids: [0; MAX_IDS],
};

/// Slots for chunks that do not fit an [`Entry`]: fewer, since such chunks are rarer, but
/// each saves a long merge (a 40-byte chunk costs a hundred lookups).
const LONG_ENTRIES: usize = 2048;
/// The longest chunk kept in a long slot, and the most ids: with the buffers' growth, a
/// long slot holds at most about 1 KB, and a thread's cache at most about 3 MB.
const MAX_LONG_KEY: usize = 256;
const MAX_LONG_IDS: usize = 64;

/// A cached chunk too long for an [`Entry`], or with too many ids. Its buffers are reused
/// by the chunks that later take its slot, so a warm cache allocates nothing.
#[derive(Default)]
struct LongEntry {
    epoch: u32,
    key: Vec<u8>,
    ids: Vec<u32>,
}

/// The cache of one thread.
pub(crate) struct ChunkCache {
    entries: Box<[Entry]>,
    long: Box<[LongEntry]>,
    /// The encoder the current entries belong to.
    owner: u64,
    /// Entries of this epoch are current; it starts at 1 and moves on with each new owner.
    epoch: u32,
}

/// A distinct, never reused, non-zero id for each encoder.
pub(crate) fn new_owner() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    static CACHE: RefCell<Option<ChunkCache>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's cache (made on first use) holding `owner`'s entries, or with
/// `None` if the cache is already in use further up this thread's stack.
pub(crate) fn with_cache<R>(owner: u64, f: impl FnOnce(Option<&mut ChunkCache>) -> R) -> R {
    CACHE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            let cache = slot.get_or_insert_with(|| ChunkCache {
                entries: vec![EMPTY; ENTRIES].into_boxed_slice(),
                long: (0..LONG_ENTRIES).map(|_| LongEntry::default()).collect(),
                owner,
                epoch: 1,
            });
            if cache.owner != owner {
                cache.owner = owner;
                cache.epoch = cache.epoch.wrapping_add(1);
                if cache.epoch == 0 {
                    // After 2^32 - 1 changes of owner the epochs come round again: forget
                    // everything so that no old entry can pass for a current one.
                    cache.entries.fill(EMPTY);
                    cache.long.iter_mut().for_each(|e| e.epoch = 0);
                    cache.epoch = 1;
                }
            }
            f(Some(cache))
        }
        Err(_) => f(None),
    })
}

impl ChunkCache {
    #[inline(always)]
    fn slot(chunk: &[u8]) -> usize {
        (hash_bytes(chunk) >> 20) as usize & (ENTRIES - 1)
    }

    /// The cached ids of `chunk`, if they are there.
    #[inline]
    pub(crate) fn get(&self, chunk: &[u8]) -> Option<&[u32]> {
        if chunk.len() <= MAX_KEY {
            let e = &self.entries[Self::slot(chunk)];
            if e.epoch == self.epoch
                && e.key_len as usize == chunk.len()
                && &e.key[..chunk.len()] == chunk
            {
                return Some(&e.ids[..e.n_ids as usize]);
            }
        }
        if chunk.len() > MAX_LONG_KEY {
            return None;
        }
        let e = &self.long[Self::slot(chunk) & (LONG_ENTRIES - 1)];
        (e.epoch == self.epoch && e.key == chunk).then_some(e.ids.as_slice())
    }

    /// Keeps the ids of `chunk`, unless it is longer than [`MAX_LONG_KEY`] or has more than
    /// [`MAX_LONG_IDS`] ids.
    #[inline]
    pub(crate) fn put(&mut self, chunk: &[u8], ids: &[u32]) {
        if chunk.len() > MAX_KEY || ids.len() > MAX_IDS {
            if chunk.len() <= MAX_LONG_KEY && ids.len() <= MAX_LONG_IDS {
                let epoch = self.epoch;
                let e = &mut self.long[Self::slot(chunk) & (LONG_ENTRIES - 1)];
                e.epoch = epoch;
                e.key.clear();
                e.key.extend_from_slice(chunk);
                e.ids.clear();
                e.ids.extend_from_slice(ids);
            }
            return;
        }
        let epoch = self.epoch;
        let e = &mut self.entries[Self::slot(chunk)];
        e.epoch = epoch;
        e.key_len = chunk.len() as u8;
        e.key[..chunk.len()].copy_from_slice(chunk);
        e.n_ids = ids.len() as u8;
        e.ids[..ids.len()].copy_from_slice(ids);
    }
}
