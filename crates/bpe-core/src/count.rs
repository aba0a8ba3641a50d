//! Chunk counts: how often each distinct chunk occurs in everything fed so far.
//!
//! A batch is split and counted on every core into tables keyed by packed short chunks or
//! borrowed slices (no allocation per chunk), and only once the whole batch has succeeded
//! are those tables folded into the owned table (in shards, on every core). So a batch with
//! a bad document changes nothing, and memory grows with the number of distinct chunks, not
//! with the corpus.

use crate::error::{Error, Result};
use crate::packed::{pack_at, pack_with_len};
use crate::pretokenize::Pretokenizer;
use hashbrown::HashMap;
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use table::Table;

mod table;

/// Long documents are cut into pieces of about this many bytes so that one document can
/// keep every core busy; see [`Pretokenizer::pieces`].
const PIECE_BYTES: usize = 1 << 20;

/// Short documents are split in jobs of at least this many bytes (see `count_parts`).
const JOB_BYTES: usize = 64 << 10;

/// Most chunks are a short word with its leading space. Those of up to 7 bytes (85% of
/// them in English prose and code) are packed into one `u64`, those of up to 15 into one
/// `u128` (bytes little-endian, length in the top byte, so distinct chunks get distinct
/// keys): such keys hash with a multiplication or two and compare without a memcmp, and
/// the table holds no pointers into the documents.
const SMALL: usize = 7;
const MEDIUM: usize = 15;

#[inline(always)]
fn pack_medium(chunk: &[u8]) -> u128 {
    // As in `pack_with_len`: two overlapping 8-byte loads.
    let n = chunk.len();
    let lo = u64::from_le_bytes(chunk[..8].try_into().unwrap()) as u128;
    let hi = u64::from_le_bytes(chunk[n - 8..].try_into().unwrap()) as u128;
    lo | hi << (8 * (n - 8)) | (n as u128) << 120
}

/// A chunk as the tables hand it out: packed short ones are unpacked into a small buffer.
#[derive(Clone, Copy, Debug)]
pub enum Chunk<'a> {
    /// Up to 15 bytes, inline (the `usize` is the length).
    Small([u8; 16], usize),
    /// A longer chunk, borrowed from the table.
    Large(&'a [u8]),
}

impl Chunk<'_> {
    fn unpack(key: u64) -> Self {
        let mut buf = [0; 16];
        buf[..8].copy_from_slice(&key.to_le_bytes());
        Chunk::Small(buf, (key >> 56) as usize)
    }

    fn unpack_medium(key: u128) -> Self {
        Chunk::Small(key.to_le_bytes(), (key >> 120) as usize)
    }
}

impl std::ops::Deref for Chunk<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Chunk::Small(buf, len) => &buf[..*len],
            Chunk::Large(s) => s,
        }
    }
}

type SmallMap = HashMap<u64, u64, FxBuildHasher>;
type MediumMap = HashMap<u128, u64, FxBuildHasher>;
type LargeMap = HashMap<Box<[u8]>, u64>;

/// The owned tables are split into this many shards by key (long chunks by their bytes), so
/// that a batch is folded in on every core, a shard per task: folded on one thread, while
/// the others waited, the fold took a fifth of the time of counting.
const SHARDS: usize = 16;

/// The shard of a packed key: its top bits after a multiplication by another constant than
/// the tables' hasher uses, so that the keys of a shard still spread over its table.
#[inline(always)]
fn shard(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARDS.trailing_zeros())) as usize
}

#[inline(always)]
fn shard_medium(key: u128) -> usize {
    shard(key as u64 ^ (key >> 64) as u64)
}

/// The shard of a chunk longer than [`MEDIUM`], from its first and last eight bytes.
#[inline(always)]
fn shard_large(chunk: &[u8]) -> usize {
    let n = chunk.len();
    let first = u64::from_le_bytes(chunk[..8].try_into().unwrap());
    let last = u64::from_le_bytes(chunk[n - 8..].try_into().unwrap());
    shard(first ^ last.rotate_left(29) ^ n as u64)
}

/// Adds `n` to the count of a long chunk, copying the chunk only when it is new.
fn add_large(large: &mut LargeMap, chunk: &[u8], n: u64) {
    match large.get_mut(chunk) {
        Some(c) => *c += n,
        None => {
            large.insert(chunk.into(), n);
        }
    }
}

/// Adds the counts of `from` to `into`, iterating over the smaller of the two.
fn fold<K: Eq + std::hash::Hash, S: std::hash::BuildHasher>(
    into: &mut HashMap<K, u64, S>,
    mut from: HashMap<K, u64, S>,
) {
    if into.len() < from.len() {
        std::mem::swap(into, &mut from);
    }
    for (k, v) in from {
        *into.entry(k).or_insert(0) += v;
    }
}

/// The counts of one batch; long chunks are keyed by slices borrowed from its documents.
#[derive(Default)]
pub struct BatchCounts<'a> {
    small: Table<u64>,
    medium: Table<u128>,
    large: HashMap<&'a [u8], u64>,
}

impl<'a> BatchCounts<'a> {
    /// Empty tables for a worker that will count about `bytes` of text: sized for the
    /// distinct chunks that much text holds (about one per 64 bytes, fewer as it grows),
    /// so that a large first batch does not grow them through every size, each one fresh
    /// memory.
    fn for_bytes(bytes: usize) -> Self {
        let slots = (bytes / 64).clamp(1 << 10, 1 << 18).next_power_of_two();
        Self::with_tables((Table::with_slots(slots), Table::with_slots(slots / 2)))
    }

    /// Counts into `tables`, emptied tables of an earlier batch.
    fn with_tables((small, medium): Tables) -> Self {
        BatchCounts {
            small,
            medium,
            large: HashMap::default(),
        }
    }

    /// Counts the chunk `text[at..at + len]`.
    #[inline(always)]
    fn add(&mut self, text: &'a [u8], at: usize, len: usize) {
        if len <= SMALL {
            self.small.add_later(pack_at(text, at, len));
            return;
        }
        let chunk = &text[at..at + len];
        if len <= MEDIUM {
            self.medium.add_later(pack_medium(chunk));
        } else {
            *self.large.entry(chunk).or_insert(0) += 1;
        }
    }

    /// Counts what `add` holds back; see [`Table::add_later`].
    fn flush(&mut self) {
        self.small.flush();
        self.medium.flush();
    }

    fn merge(mut self, other: Self) -> Self {
        self.small.absorb(other.small);
        self.medium.absorb(other.medium);
        fold(&mut self.large, other.large);
        self
    }

    /// Number of distinct chunks in the batch.
    pub fn len(&self) -> usize {
        self.small.len() + self.medium.len() + self.large.len()
    }

    /// Whether the batch had no chunks.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A worker's tables for short chunks.
type Tables = (Table<u64>, Table<u128>);

/// The tables of the last batch's workers, emptied, for the next batch's: a worker's
/// tables grow to megabytes in every batch, and growing them again from nothing costs a
/// rehash per doubling and a page fault per page of fresh memory. Not cloned.
#[derive(Default)]
struct Spare(Vec<Tables>);

impl Clone for Spare {
    fn clone(&self) -> Self {
        Spare::default()
    }
}

impl std::fmt::Debug for Spare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} spare tables", self.0.len())
    }
}

/// Distinct chunks and their counts, plus totals of what was fed.
#[derive(Debug, Clone)]
pub struct ChunkCounts {
    /// [`SHARDS`] tables each, by [`shard`] of the key (or [`shard_large`] of the chunk).
    small: Vec<SmallMap>,
    medium: Vec<MediumMap>,
    large: Vec<LargeMap>,
    documents: u64,
    bytes: u64,
    spare: Spare,
}

impl Default for ChunkCounts {
    fn default() -> Self {
        ChunkCounts {
            small: vec![SmallMap::default(); SHARDS],
            medium: vec![MediumMap::default(); SHARDS],
            large: vec![LargeMap::default(); SHARDS],
            documents: 0,
            bytes: 0,
            spare: Spare::default(),
        }
    }
}

/// A batch's counts sorted by shard: `small[s]` holds the entries of shard `s`.
struct Scattered<'a> {
    small: Vec<Vec<(u64, u64)>>,
    medium: Vec<Vec<(u128, u64)>>,
    large: Vec<Vec<(&'a [u8], u64)>>,
}

impl<'a> Scattered<'a> {
    /// Takes the counts of `batch`, leaving its tables empty.
    fn of(batch: &mut BatchCounts<'a>) -> Self {
        let mut small = vec![Vec::new(); SHARDS];
        for (k, v) in batch.small.drain() {
            small[shard(k)].push((k, v));
        }
        let mut medium = vec![Vec::new(); SHARDS];
        for (k, v) in batch.medium.drain() {
            medium[shard_medium(k)].push((k, v));
        }
        let mut large = vec![Vec::new(); SHARDS];
        for (k, v) in std::mem::take(&mut batch.large) {
            large[shard_large(k)].push((k, v));
        }
        Scattered {
            small,
            medium,
            large,
        }
    }
}

/// Checks that every document is UTF-8, naming the first that is not (and the offset of
/// its first bad byte). Long documents are checked in pieces on every core.
pub fn validate_utf8<'a>(documents: &[&'a [u8]]) -> Result<Vec<&'a str>> {
    let pieces: Vec<(usize, usize, &[u8])> = documents
        .iter()
        .enumerate()
        .flat_map(|(i, d)| utf8_pieces(d).map(move |(start, piece)| (i, start, piece)))
        .collect();
    let first_bad = pieces
        .par_iter()
        .filter_map(|&(i, start, piece)| {
            // simdutf8 says only whether a piece is valid, several times faster than the
            // standard library on text that is not ASCII; the rare bad piece is checked again
            // to find its first bad byte.
            if simdutf8::basic::from_utf8(piece).is_ok() {
                return None;
            }
            std::str::from_utf8(piece)
                .err()
                .map(|e| (i, start + e.valid_up_to()))
        })
        .min();
    if let Some((document, offset)) = first_bad {
        return Err(Error::InvalidUtf8 { document, offset });
    }
    // SAFETY: every piece of every document is UTF-8, so every document is (see
    // `utf8_pieces`).
    Ok(documents
        .iter()
        .map(|d| unsafe { std::str::from_utf8_unchecked(d) })
        .collect())
}

/// `d` in pieces of about [`PIECE_BYTES`], each with its offset (none if `d` is empty).
/// Every piece after the first starts at a byte that is not a UTF-8 continuation byte, so
/// no char can straddle two pieces: `d` is UTF-8 exactly when every piece is, and the first
/// error in the first bad piece is the first error of `d`.
fn utf8_pieces(d: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= d.len() {
            return None;
        }
        let mut end = (start + PIECE_BYTES).min(d.len());
        while end < d.len() && d[end] & 0xC0 == 0x80 {
            end += 1;
        }
        let piece = (start, &d[start..end]);
        start = end;
        Some(piece)
    })
}

/// Splits and counts one batch in parallel, without touching any shared state.
pub fn count_batch<'a>(
    pretokenizer: &Pretokenizer,
    documents: &[&'a str],
    cancel: &AtomicBool,
) -> Result<BatchCounts<'a>> {
    Ok(
        count_parts(pretokenizer, documents, cancel, &mut Vec::new())?
            .into_iter()
            .reduce(BatchCounts::merge)
            .unwrap_or_default(),
    )
}

/// [`count_batch`]'s work, left as one table per thread: folding each straight into the
/// owned table saves merging them first (and growing one of them to hold both).
fn count_parts<'a>(
    pretokenizer: &Pretokenizer,
    documents: &[&'a str],
    cancel: &AtomicBool,
    spare: &mut Vec<Tables>,
) -> Result<Vec<BatchCounts<'a>>> {
    let mut pieces: Vec<(usize, &str)> = Vec::with_capacity(documents.len());
    for (i, d) in documents.iter().enumerate() {
        pretokenizer.pieces(d, PIECE_BYTES, |p| pieces.push((i, p)));
    }
    // Jobs of consecutive pieces of at least JOB_BYTES in all (a long document's pieces
    // are jobs of their own): a job costs a lock, a check for cancellation and rayon's
    // hand-over, which for a short line of text costs more than splitting it.
    let mut jobs = vec![0];
    let mut bytes = 0;
    for (k, (_, piece)) in pieces.iter().enumerate() {
        bytes += piece.len();
        if bytes >= JOB_BYTES {
            jobs.push(k + 1);
            bytes = 0;
        }
    }
    if jobs.last() != Some(&pieces.len()) {
        jobs.push(pieces.len());
    }
    // One table per worker thread, not per job: merging tables costs about as much as
    // filling them, so there should be as few as there are threads, while the jobs stay
    // small enough that idle threads can steal them. A worker holds its own slot's lock
    // only while it splits one job, so the locks are never contended.
    let threads = rayon::current_num_threads();
    let total: usize = documents.iter().map(|d| d.len()).sum();
    let slots: Vec<Mutex<BatchCounts<'a>>> = (0..threads)
        .map(|_| {
            Mutex::new(spare.pop().map_or_else(
                || BatchCounts::for_bytes(total / threads),
                BatchCounts::with_tables,
            ))
        })
        .collect();
    jobs.par_windows(2).try_for_each(|job| {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let slot = rayon::current_thread_index().unwrap_or(0) % threads;
        let mut local = slots[slot].lock().unwrap_or_else(|e| e.into_inner());
        for &(document, piece) in &pieces[job[0]..job[1]] {
            let text = piece.as_bytes();
            pretokenizer
                .split(piece, |chunk| {
                    let at = chunk.as_ptr() as usize - text.as_ptr() as usize;
                    local.add(text, at, chunk.len())
                })
                .map_err(|message| Error::RegexRuntime { document, message })?;
        }
        Ok(())
    })?;
    Ok(slots
        .into_iter()
        .map(|m| {
            let mut counts = m.into_inner().unwrap_or_else(|e| e.into_inner());
            counts.flush();
            counts
        })
        .collect())
}

impl ChunkCounts {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Splits `documents` with `pretokenizer` and adds their chunks. All or nothing: on any
    /// error (invalid UTF-8, a regex failure, cancellation) the counts are left as they were.
    pub fn add_batch(
        &mut self,
        pretokenizer: &Pretokenizer,
        documents: &[&[u8]],
        cancel: &AtomicBool,
    ) -> Result<()> {
        let texts = validate_utf8(documents)?;
        let parts = count_parts(pretokenizer, &texts, cancel, &mut self.spare.0)?;
        self.add_parts(parts);
        self.documents += documents.len() as u64;
        self.bytes += documents.iter().map(|d| d.len() as u64).sum::<u64>();
        Ok(())
    }

    /// Frees the tables kept for the next batch (say, before the merge loop needs the memory).
    pub(crate) fn drop_spare(&mut self) {
        self.spare = Spare::default();
    }

    /// Folds a batch's counts into the table, copying each new long chunk once.
    pub fn add_counts(&mut self, batch: BatchCounts) {
        self.add_parts(vec![batch]);
    }

    /// Folds the counts of a batch's parts in: each part is sorted by shard, then each shard
    /// takes its entries from every part, all in parallel (on the current rayon pool).
    fn add_parts(&mut self, parts: Vec<BatchCounts>) {
        let (parts, tables): (Vec<Scattered>, Vec<Tables>) = (parts.into_par_iter())
            .map(|mut part| (Scattered::of(&mut part), (part.small, part.medium)))
            .unzip();
        self.spare.0 = tables;
        (self.small.par_iter_mut())
            .zip(self.medium.par_iter_mut())
            .zip(self.large.par_iter_mut())
            .enumerate()
            .for_each(|(s, ((small, medium), large))| {
                for part in &parts {
                    for &(k, v) in &part.small[s] {
                        *small.entry(k).or_insert(0) += v;
                    }
                    for &(k, v) in &part.medium[s] {
                        *medium.entry(k).or_insert(0) += v;
                    }
                    for &(chunk, n) in &part.large[s] {
                        add_large(large, chunk, n);
                    }
                }
            });
    }

    /// Adds `n` occurrences of one chunk (tests and tools that count by other means).
    pub fn add(&mut self, chunk: &[u8], n: u64) {
        if chunk.len() <= SMALL {
            let key = pack_with_len(chunk);
            *self.small[shard(key)].entry(key).or_insert(0) += n;
        } else if chunk.len() <= MEDIUM {
            let key = pack_medium(chunk);
            *self.medium[shard_medium(key)].entry(key).or_insert(0) += n;
        } else {
            add_large(&mut self.large[shard_large(chunk)], chunk, n);
        }
    }

    /// Number of distinct chunks.
    pub fn len(&self) -> usize {
        let small: usize = self.small.iter().map(HashMap::len).sum();
        let medium: usize = self.medium.iter().map(HashMap::len).sum();
        let large: usize = self.large.iter().map(HashMap::len).sum();
        small + medium + large
    }

    /// Whether nothing has been counted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Documents fed so far.
    pub fn documents(&self) -> u64 {
        self.documents
    }

    /// Bytes fed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The count of one chunk (0 if never seen).
    pub fn get(&self, chunk: &[u8]) -> u64 {
        let found = if chunk.len() <= SMALL {
            let key = pack_with_len(chunk);
            self.small[shard(key)].get(&key)
        } else if chunk.len() <= MEDIUM {
            let key = pack_medium(chunk);
            self.medium[shard_medium(key)].get(&key)
        } else {
            self.large[shard_large(chunk)].get(chunk)
        };
        found.copied().unwrap_or(0)
    }

    /// Every distinct chunk with its count, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Chunk<'_>, u64)> {
        self.parts().into_iter().flatten()
    }

    /// [`ChunkCounts::iter`] in parts that may be read on different threads: a part per
    /// shard.
    pub fn parts(&self) -> Vec<Box<dyn Iterator<Item = (Chunk<'_>, u64)> + Send + '_>> {
        (self.small.iter().zip(&self.medium).zip(&self.large))
            .map(|((small, medium), large)| {
                let small = small.iter().map(|(&k, &v)| (Chunk::unpack(k), v));
                let medium = medium.iter().map(|(&k, &v)| (Chunk::unpack_medium(k), v));
                let large = large.iter().map(|(k, &v)| (Chunk::Large(k), v));
                Box::new(small.chain(medium).chain(large)) as Box<dyn Iterator<Item = _> + Send>
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_is_exact_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for chunk in [
            &b"a"[..],
            b"ab",
            b"abc",
            b"abcd",
            b"abcde",
            b"abcdef",
            b"abcdefg",
            b"\0",
            b"\0\0",
            b"b",
            b"ba",
        ] {
            let key = pack_with_len(chunk);
            assert!(seen.insert(key), "{chunk:?} collides");
            assert_eq!(&*Chunk::unpack(key), chunk);
        }
    }
}
