//! Chunk counts: how often each distinct chunk occurs in everything fed so far.
//!
//! A batch is split and counted on every core into tables keyed by packed short chunks, the
//! long ones copied once into an arena (no allocation per chunk), and only once the whole
//! batch has succeeded are those tables folded into the owned table (in shards, on every
//! core). Besides documents in memory, a batch may hold [`Parts`]: text that the counting
//! threads write (decode, transcode) just before they count it. So a batch with
//! a bad document changes nothing, and memory grows with the number of distinct chunks, not
//! with the corpus.

use crate::error::{Error, Result};
use crate::packed::{pack_at, pack_with_len};
use crate::pretokenize::Pretokenizer;
use hashbrown::HashMap;
use large::LargeCounts;
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use table::Table;

mod large;
mod table;

/// Long documents are cut into pieces of about this many bytes so that one document can
/// keep every core busy; see [`Pretokenizer::pieces`].
const PIECE_BYTES: usize = 1 << 20;

/// Short documents are split in jobs of at least this many bytes (see `count_jobs`).
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

/// The counts of one batch, as one worker counted them.
#[derive(Default)]
pub struct BatchCounts {
    small: Table<u64>,
    medium: Table<u128>,
    large: LargeCounts,
}

impl BatchCounts {
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
            large: LargeCounts::default(),
        }
    }

    /// Counts the chunk `text[at..at + len]`.
    #[inline(always)]
    fn add(&mut self, text: &[u8], at: usize, len: usize) {
        if len <= SMALL {
            self.small.add_later(pack_at(text, at, len));
            return;
        }
        let chunk = &text[at..at + len];
        if len <= MEDIUM {
            self.medium.add_later(pack_medium(chunk));
        } else {
            self.large.add(chunk, 1);
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
        self.large.absorb(&other.large);
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

/// What one batch leaves for the next: its workers' tables, emptied, and the buffers its
/// parts were written into. A worker's tables grow to megabytes in every batch, and growing
/// them again from nothing costs a rehash per doubling and a page fault per page of fresh
/// memory; so would new buffers. Not cloned.
#[derive(Default)]
struct Spare {
    tables: Vec<Tables>,
    buffers: Mutex<Vec<PartText>>,
}

impl Clone for Spare {
    fn clone(&self) -> Self {
        Spare::default()
    }
}

impl std::fmt::Debug for Spare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} spare tables", self.tables.len())
    }
}

/// What a batch may hold besides documents in memory: parts whose text is written by the
/// thread that counts it, into a buffer that the next part then reuses. Text that must be
/// decoded or transcoded first (JSON lines, a Python `str` of wide characters) so passes
/// through the cache once, instead of going to fresh memory for the whole batch and being
/// read back from it.
pub trait Parts: Sync {
    /// What writing a part can fail with; the counting's own errors convert into it.
    type Error: From<Error> + Send;

    /// The number of parts.
    fn len(&self) -> usize;

    /// Whether there are no parts.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// About how many bytes the parts will write in all (it sizes the first tables).
    fn bytes(&self) -> usize;

    /// Writes the texts of part `part` into `text`, pushing the end of each onto `ends`
    /// (both are given empty: a buffer that earlier parts were written into).
    /// Each text is split on its own: a whole document, or a piece of one cut where the
    /// split pattern always ends a chunk (see [`Pretokenizer::cut_after`]). Bytes past the
    /// last end are not counted. Returns how many documents the part ends.
    fn write(
        &self,
        part: usize,
        text: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> std::result::Result<u64, Self::Error>;

    /// The error to return for `e`, which is about one text of part `part`: its `document`
    /// is the text's place in the part (the texts written are not UTF-8, or the split
    /// pattern failed on one).
    fn error(&self, part: usize, e: Error) -> Self::Error {
        let _ = part;
        e.into()
    }
}

/// A batch of documents in memory only.
pub struct NoParts;

impl Parts for NoParts {
    type Error = Error;
    fn len(&self) -> usize {
        0
    }
    fn bytes(&self) -> usize {
        0
    }
    fn write(&self, _: usize, _: &mut Vec<u8>, _: &mut Vec<usize>) -> Result<u64> {
        Ok(0)
    }
}

/// A buffer that parts are written into: text, and where each text in it ends.
#[derive(Default)]
struct PartText {
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl PartText {
    /// The texts written, once checked: every end in order, within the text and on a char
    /// boundary, and the text up to the last one UTF-8. A text that ends where it cannot
    /// (a mistake of the part) is reported as not UTF-8 at its end.
    fn texts(&self) -> Result<Vec<&str>> {
        let bad = |document, offset| Error::InvalidUtf8 { document, offset };
        let mut end = 0;
        for (i, &next) in self.ends.iter().enumerate() {
            if next < end || next > self.text.len() {
                return Err(bad(i, next.saturating_sub(end)));
            }
            end = next;
        }
        let text = match simdutf8::basic::from_utf8(&self.text[..end]) {
            Ok(text) => text,
            Err(_) => {
                let e = std::str::from_utf8(&self.text[..end]).unwrap_err();
                let at = e.valid_up_to();
                let document = self.ends.partition_point(|&end| end <= at);
                let start = document.checked_sub(1).map_or(0, |i| self.ends[i]);
                return Err(bad(document, at - start));
            }
        };
        let mut start = 0;
        let mut texts = Vec::with_capacity(self.ends.len());
        for (i, &end) in self.ends.iter().enumerate() {
            match text.get(start..end) {
                Some(t) => texts.push(t),
                None => return Err(bad(i, end - start)),
            }
            start = end;
        }
        Ok(texts)
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
    /// Takes the counts of `batch`, leaving its tables of short chunks empty; the long
    /// chunks stay in its arena, borrowed.
    fn of(batch: &'a mut BatchCounts) -> Self {
        let mut small = vec![Vec::new(); SHARDS];
        for (k, v) in batch.small.drain() {
            small[shard(k)].push((k, v));
        }
        let mut medium = vec![Vec::new(); SHARDS];
        for (k, v) in batch.medium.drain() {
            medium[shard_medium(k)].push((k, v));
        }
        let mut large = vec![Vec::new(); SHARDS];
        for (k, v) in batch.large.iter() {
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
pub fn count_batch(
    pretokenizer: &Pretokenizer,
    documents: &[&str],
    cancel: &AtomicBool,
) -> Result<BatchCounts> {
    let spare = &mut Spare::default();
    let (counts, _) = count_jobs(pretokenizer, documents, &NoParts, cancel, spare)?;
    Ok(counts
        .into_iter()
        .reduce(BatchCounts::merge)
        .unwrap_or_default())
}

/// What a batch held: its documents in memory and what its parts wrote.
#[derive(Default)]
struct Fed {
    documents: AtomicU64,
    bytes: AtomicU64,
}

/// A job of counting: consecutive pieces of documents in memory, or one part.
enum Job {
    Pieces(usize, usize),
    Part(usize),
}

/// One table per worker thread, not per job: merging tables costs about as much as filling
/// them, so there should be as few as there are threads, while the jobs stay small enough
/// that idle threads can steal them. A worker holds its own slot's lock only while it
/// splits one job, so the locks are never contended.
struct Slots(Vec<Mutex<BatchCounts>>);

impl Slots {
    /// A table for each thread, the spare ones first, new ones sized for `bytes` in all.
    fn new(spare: &mut Vec<Tables>, bytes: usize) -> Self {
        let threads = rayon::current_num_threads();
        Slots(
            (0..threads)
                .map(|_| {
                    Mutex::new(spare.pop().map_or_else(
                        || BatchCounts::for_bytes(bytes / threads),
                        BatchCounts::with_tables,
                    ))
                })
                .collect(),
        )
    }

    /// Splits each of `texts` and counts its chunks in this thread's table; on a failure
    /// of the pattern, the error for that text's index.
    fn count<'t, E>(
        &self,
        pretokenizer: &Pretokenizer,
        texts: impl Iterator<Item = (usize, &'t str)>,
        error: impl Fn(usize, String) -> E,
    ) -> std::result::Result<(), E> {
        let slot = rayon::current_thread_index().unwrap_or(0) % self.0.len();
        let mut local = self.0[slot].lock().unwrap_or_else(|e| e.into_inner());
        for (i, piece) in texts {
            let text = piece.as_bytes();
            pretokenizer
                .split(piece, |chunk| {
                    let at = chunk.as_ptr() as usize - text.as_ptr() as usize;
                    local.add(text, at, chunk.len())
                })
                .map_err(|message| error(i, message))?;
        }
        Ok(())
    }

    fn into_counts(self) -> Vec<BatchCounts> {
        (self.0.into_iter())
            .map(|m| {
                let mut counts = m.into_inner().unwrap_or_else(|e| e.into_inner());
                counts.flush();
                counts
            })
            .collect()
    }
}

/// [`count_batch`]'s work, left as one table per thread (folding each straight into the
/// owned table saves merging them first, and growing one of them to hold both); and what
/// the batch held.
fn count_jobs<P: Parts>(
    pretokenizer: &Pretokenizer,
    documents: &[&str],
    parts: &P,
    cancel: &AtomicBool,
    spare: &mut Spare,
) -> std::result::Result<(Vec<BatchCounts>, Fed), P::Error> {
    let Spare { tables, buffers } = spare;
    let mut pieces: Vec<(usize, &str)> = Vec::with_capacity(documents.len());
    for (i, d) in documents.iter().enumerate() {
        pretokenizer.pieces(d, PIECE_BYTES, |p| pieces.push((i, p)));
    }
    // The parts first, then jobs of consecutive pieces of at least JOB_BYTES in all (a
    // long document's pieces are jobs of their own): a job costs a lock, a check for
    // cancellation and rayon's hand-over, which for a short line of text costs more than
    // splitting it.
    let mut jobs: Vec<Job> = (0..parts.len()).map(Job::Part).collect();
    let (mut start, mut bytes) = (0, 0);
    for (k, (_, piece)) in pieces.iter().enumerate() {
        bytes += piece.len();
        if bytes >= JOB_BYTES || k + 1 == pieces.len() {
            jobs.push(Job::Pieces(start, k + 1));
            (start, bytes) = (k + 1, 0);
        }
    }
    let in_memory = documents.iter().map(|d| d.len()).sum::<usize>();
    let slots = Slots::new(tables, in_memory + parts.bytes());
    let fed = Fed {
        documents: AtomicU64::new(documents.len() as u64),
        bytes: AtomicU64::new(in_memory as u64),
    };
    jobs.par_iter().try_for_each(|job| {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled.into());
        }
        match *job {
            Job::Pieces(start, end) => {
                let texts = pieces[start..end].iter().copied();
                slots.count(pretokenizer, texts, |document, message| {
                    Error::RegexRuntime { document, message }.into()
                })
            }
            Job::Part(part) => count_part(pretokenizer, parts, part, &slots, buffers, &fed, cancel),
        }
    })?;
    Ok((slots.into_counts(), fed))
}

/// Writes part `part` into a spare buffer, and counts it. A text too long for one job is
/// cut into pieces that are counted as jobs of their own.
fn count_part<P: Parts>(
    pretokenizer: &Pretokenizer,
    parts: &P,
    part: usize,
    slots: &Slots,
    buffers: &Mutex<Vec<PartText>>,
    fed: &Fed,
    cancel: &AtomicBool,
) -> std::result::Result<(), P::Error> {
    let lock = || buffers.lock().unwrap_or_else(|e| e.into_inner());
    let mut buffer = lock().pop().unwrap_or_default();
    buffer.text.clear();
    buffer.ends.clear();
    let documents = parts.write(part, &mut buffer.text, &mut buffer.ends)?;
    let texts = buffer.texts().map_err(|e| parts.error(part, e))?;
    let error = |document, message| parts.error(part, Error::RegexRuntime { document, message });
    let long = |t: &str| t.len() >= 2 * PIECE_BYTES;
    let short = texts.iter().copied().enumerate().filter(|(_, t)| !long(t));
    slots.count(pretokenizer, short, error)?;
    for (i, text) in texts.iter().enumerate().filter(|(_, t)| long(t)) {
        let mut pieces = Vec::new();
        pretokenizer.pieces(text, PIECE_BYTES, |p| pieces.push((i, p)));
        pieces.par_iter().try_for_each(|&piece| {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled.into());
            }
            slots.count(pretokenizer, std::iter::once(piece), error)
        })?;
    }
    let end = buffer.ends.last().copied().unwrap_or(0);
    fed.documents.fetch_add(documents, Ordering::Relaxed);
    fed.bytes.fetch_add(end as u64, Ordering::Relaxed);
    drop(texts);
    lock().push(buffer);
    Ok(())
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
        self.add_batch_with_parts(pretokenizer, documents, &NoParts, cancel)
    }

    /// [`ChunkCounts::add_batch`] for a batch that also holds `parts`, written and counted
    /// on the current rayon pool's threads. All or nothing, as `add_batch`.
    pub fn add_batch_with_parts<P: Parts>(
        &mut self,
        pretokenizer: &Pretokenizer,
        documents: &[&[u8]],
        parts: &P,
        cancel: &AtomicBool,
    ) -> std::result::Result<(), P::Error> {
        let texts = validate_utf8(documents)?;
        let (counts, fed) = count_jobs(pretokenizer, &texts, parts, cancel, &mut self.spare)?;
        self.fold_in(counts);
        self.documents += fed.documents.into_inner();
        self.bytes += fed.bytes.into_inner();
        Ok(())
    }

    /// Frees the tables kept for the next batch (say, before the merge loop needs the memory).
    pub(crate) fn drop_spare(&mut self) {
        self.spare = Spare::default();
    }

    /// Folds a batch's counts into the table, copying each new long chunk once.
    pub fn add_counts(&mut self, batch: BatchCounts) {
        self.fold_in(vec![batch]);
    }

    /// Folds in a batch's counts, a table per worker: each table is sorted by shard, then
    /// each shard takes its entries from every table, all in parallel (on the current rayon
    /// pool).
    fn fold_in(&mut self, mut counted: Vec<BatchCounts>) {
        let parts: Vec<Scattered> = counted.par_iter_mut().map(Scattered::of).collect();
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
        drop(parts);
        self.spare.tables = (counted.into_iter())
            .map(|part| (part.small, part.medium))
            .collect();
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
