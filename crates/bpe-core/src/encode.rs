//! The encoder: text to ids with a vocabulary, giving exactly tiktoken's ids.
//!
//! Each chunk of the split pattern is looked up whole first (most chunks are one token);
//! otherwise its bytes are merged the way tiktoken merges them: repeatedly join the adjacent
//! pair of parts whose joined bytes have the lowest rank, the leftmost among equals, until no
//! adjacent pair joins into a rank. Short chunks use a flat scan; long ones (a run of a
//! million spaces is one chunk) use a heap so the work stays `n log n`.
//! [`reference_encode_chunk`] is the plain twin the tests compare against.

mod cache;
mod ranks;
mod unstable;

use crate::error::{Error, Result};
use crate::pretokenize::Pretokenizer;
use crate::vocab::Vocabulary;
use cache::{with_cache, ChunkCache};
use ranks::{RankTable, NONE};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// Which special tokens `encode` recognises in the text.
#[derive(Clone, Copy, Debug)]
pub enum Allowed<'a> {
    /// Every special token of the vocabulary.
    All,
    /// Only these (others are encoded as ordinary text).
    Only(&'a [&'a str]),
}

/// A piece of a text that may hold special tokens (see [`Encoder::segments`]).
enum Segment<'t> {
    Text(&'t str),
    Special(u32),
}

/// Chunks at least this long are merged with a heap instead of a flat scan. At most 255,
/// so that part starts fit in a byte.
const LONG_CHUNK: usize = 128;

/// An encoder for one vocabulary. Immutable once built: share it between threads freely.
pub struct Encoder {
    pretokenizer: Pretokenizer,
    /// Token bytes to rank and back. Special tokens are looked up in `special_tokens`:
    /// their ids may be far above the ranks, and a table sized by the highest id could
    /// need gigabytes.
    ranks: RankTable,
    special_tokens: Vec<(String, u32)>,
    n_vocab: u32,
    /// This encoder's name in the per-thread chunk caches.
    cache_owner: u64,
    /// The ranks in the order of their bytes, for [`Encoder::encode_with_unstable`]'s
    /// prefix searches; made on its first call.
    sorted: OnceLock<Vec<u32>>,
}

impl Encoder {
    /// Builds the encoder for `vocab` (its pattern, ranks and special tokens).
    pub fn new(vocab: &Vocabulary) -> Result<Self> {
        let pretokenizer = Pretokenizer::new(vocab.pattern())?;
        Ok(Encoder {
            pretokenizer,
            ranks: RankTable::new(vocab.tokens())?,
            cache_owner: cache::new_owner(),
            special_tokens: vocab.special_tokens().to_vec(),
            n_vocab: vocab.n_vocab(),
            sorted: OnceLock::new(),
        })
    }

    /// One more than the highest id (tiktoken's `n_vocab`).
    pub fn n_vocab(&self) -> u32 {
        self.n_vocab
    }

    /// The split pattern.
    pub fn pattern(&self) -> &str {
        self.pretokenizer.pattern()
    }

    /// Special tokens and their ids.
    pub fn special_tokens(&self) -> &[(String, u32)] {
        &self.special_tokens
    }

    /// The rank of some bytes, if they are a token.
    pub fn rank(&self, bytes: &[u8]) -> Option<u32> {
        Some(self.ranks.get(bytes)).filter(|&r| r != NONE)
    }

    /// Encodes `text` as ordinary text: special tokens in it are plain text.
    pub fn encode_ordinary(&self, text: &str) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        self.encode_ordinary_into(text, &mut out)?;
        Ok(out)
    }

    /// Like [`Encoder::encode_ordinary`], appending to `out`.
    pub fn encode_ordinary_into(&self, text: &str, out: &mut Vec<u32>) -> Result<()> {
        with_cache(self.cache_owner, |mut cache| {
            self.split(text, |chunk| {
                self.encode_chunk(chunk.as_bytes(), out, cache.as_deref_mut())
            })
        })
    }

    /// The chunks of `text`, handed to `f` in order.
    #[inline(always)]
    fn split<'t>(&self, text: &'t str, f: impl FnMut(&'t str)) -> Result<()> {
        self.pretokenizer
            .split(text, f)
            .map_err(|message| Error::RegexRuntime {
                document: 0,
                message,
            })
    }

    /// Encodes `text`, turning the `allowed` special tokens into their ids. Where two
    /// special tokens start at the same place the longer wins.
    pub fn encode(&self, text: &str, allowed: Allowed) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        self.segments(text, allowed, |segment| match segment {
            Segment::Text(text) => self.encode_ordinary_into(text, &mut out),
            Segment::Special(id) => {
                out.push(id);
                Ok(())
            }
        })?;
        Ok(out)
    }

    /// Hands `each` the pieces of `text` in order: the ordinary text between the `allowed`
    /// special tokens (possibly empty), and the id of each special token. Stops at the
    /// first error `each` returns.
    fn segments(
        &self,
        text: &str,
        allowed: Allowed,
        mut each: impl FnMut(Segment) -> Result<()>,
    ) -> Result<()> {
        let specials: Vec<(&str, u32)> = self
            .special_tokens
            .iter()
            .filter(|(s, _)| match allowed {
                Allowed::All => true,
                Allowed::Only(list) => list.contains(&s.as_str()),
            })
            .map(|(s, id)| (s.as_str(), *id))
            .collect();
        // Next known start of each special token at or after the cursor (usize::MAX: none).
        let mut next: Vec<Option<usize>> = vec![None; specials.len()];
        let mut cursor = 0;
        loop {
            let mut best: Option<(usize, usize)> = None; // (position, index)
            for (j, (s, _)) in specials.iter().enumerate() {
                let pos = match next[j] {
                    Some(p) if p >= cursor => p,
                    _ => {
                        let p = text[cursor..].find(s).map_or(usize::MAX, |p| p + cursor);
                        next[j] = Some(p);
                        p
                    }
                };
                if pos == usize::MAX {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((bp, bj)) => pos < bp || (pos == bp && s.len() > specials[bj].0.len()),
                };
                if better {
                    best = Some((pos, j));
                }
            }
            match best {
                Some((pos, j)) => {
                    each(Segment::Text(&text[cursor..pos]))?;
                    each(Segment::Special(specials[j].1))?;
                    cursor = pos + specials[j].0.len();
                }
                None => return each(Segment::Text(&text[cursor..])),
            }
        }
    }

    /// Encodes many texts as ordinary text on `threads` threads (0: one per core).
    pub fn encode_ordinary_batch(&self, texts: &[&str], threads: usize) -> Result<Vec<Vec<u32>>> {
        let run = || {
            texts
                .par_iter()
                .enumerate()
                .map(|(i, t)| self.encode_ordinary(t).map_err(|e| e.in_document(i)))
                .collect()
        };
        on_threads(threads, run)?
    }

    /// Encodes many texts as ordinary text on `threads` threads (0: one per core), handing
    /// each text's ids (or its error) to `each` with the text's index as soon as they are
    /// ready: on the thread that encoded it, in no particular order. `each` returns whether
    /// to go on: once it returns `false`, the texts not yet started are skipped (so a caller
    /// can stop a long batch, on Ctrl-C for one). Fails only if the threads cannot be
    /// started.
    pub fn encode_ordinary_each(
        &self,
        texts: &[&str],
        threads: usize,
        each: impl Fn(usize, Result<Vec<u32>>) -> bool + Sync,
    ) -> Result<()> {
        each_text(texts, threads, |t| self.encode_ordinary(t), each)
    }

    /// [`Encoder::encode_ordinary_each`] for [`Encoder::encode`]: the `allowed` special
    /// tokens become their ids.
    pub fn encode_each(
        &self,
        texts: &[&str],
        allowed: Allowed,
        threads: usize,
        each: impl Fn(usize, Result<Vec<u32>>) -> bool + Sync,
    ) -> Result<()> {
        each_text(texts, threads, |t| self.encode(t, allowed), each)
    }

    /// Encodes many texts with special tokens on `threads` threads (0: one per core).
    pub fn encode_batch(
        &self,
        texts: &[&str],
        allowed: Allowed,
        threads: usize,
    ) -> Result<Vec<Vec<u32>>> {
        let run = || {
            texts
                .par_iter()
                .enumerate()
                .map(|(i, t)| self.encode(t, allowed).map_err(|e| e.in_document(i)))
                .collect()
        };
        on_threads(threads, run)?
    }

    /// The bytes of `ids`, concatenated. Special tokens decode to their text.
    pub fn decode(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            match self.ranks.token(id) {
                Some(t) => out.extend_from_slice(t),
                None => {
                    let (name, _) = self
                        .special_tokens
                        .iter()
                        .find(|&&(_, i)| i == id)
                        .ok_or(Error::UnknownId(id))?;
                    out.extend_from_slice(name.as_bytes());
                }
            }
        }
        Ok(out)
    }

    #[inline]
    fn encode_chunk(&self, chunk: &[u8], out: &mut Vec<u32>, cache: Option<&mut ChunkCache>) {
        let r = self.ranks.get(chunk);
        if r != NONE {
            out.push(r);
            return;
        }
        let Some(cache) = cache else {
            return self.merge(chunk, out);
        };
        if let Some(ids) = cache.get(chunk) {
            out.extend_from_slice(ids);
            return;
        }
        let at = out.len();
        self.merge(chunk, out);
        cache.put(chunk, &out[at..]);
    }

    /// The ids of a chunk that is not one token.
    #[inline]
    fn merge(&self, chunk: &[u8], out: &mut Vec<u32>) {
        if chunk.len() < LONG_CHUNK && self.ranks.len() <= MAX_FLAT_RANKS {
            self.merge_short(chunk, out);
        } else {
            self.merge_long(chunk, out);
        }
    }

    /// tiktoken's flat scan, for chunks shorter than [`LONG_CHUNK`]: repeatedly join the
    /// adjacent parts whose joined bytes have the lowest rank (the leftmost among equals).
    fn merge_short(&self, chunk: &[u8], out: &mut Vec<u32>) {
        // Arrays sized to the chunk, so that the common short chunk initialises little.
        match chunk.len() {
            0..=16 => self.merge_flat::<16>(chunk, out),
            17..=48 => self.merge_flat::<48>(chunk, out),
            _ => self.merge_flat::<LONG_CHUNK>(chunk, out),
        }
    }

    /// The flat scan with arrays of `N >= chunk.len()` entries on the stack, indexed by the
    /// byte where a part starts: a live part at `i` ends at `next[i]` (a byte; the chunk
    /// is shorter than 256), follows the part at `prev[i]`, is the token `token[i]`, and
    /// joins the next part as `joined[i]`: the rank of the joined bytes and `i`, as
    /// [`join`] packs them, or [`NONE`]. Bytes inside a part are dead and hold [`NONE`],
    /// so the next join is the minimum over the whole array, which vectorises, and gives
    /// its place with it; a join moves nothing.
    #[inline(always)]
    fn merge_flat<const N: usize>(&self, chunk: &[u8], out: &mut Vec<u32>) {
        let n = chunk.len();
        debug_assert!(n >= 2 && n <= N && N < 256);
        let mut next = [0u8; N];
        let mut prev = [0u8; N];
        let mut token = [0u32; N];
        let mut joined = [NONE; N];
        for i in 0..n {
            next[i] = (i + 1) as u8;
            prev[i] = i.wrapping_sub(1) as u8;
            token[i] = self.ranks.byte(chunk[i]);
        }
        for i in 0..n - 1 {
            joined[i] = join(self.ranks.pair(chunk[i], chunk[i + 1]), i);
        }
        loop {
            let best = joined.iter().copied().fold(NONE, u32::min);
            if best == NONE {
                break;
            }
            let at = (best & 0xff) as usize;
            // The part at `at` absorbs the next one, which ends at `end`.
            let absorbed = next[at] as usize;
            let end = next[absorbed] as usize;
            token[at] = best >> 8;
            joined[absorbed] = NONE;
            next[at] = end as u8;
            joined[at] = if end < n {
                prev[end] = at as u8;
                join(self.ranks.get(&chunk[at..next[end] as usize]), at)
            } else {
                NONE
            };
            if at > 0 {
                let p = prev[at] as usize;
                joined[p] = join(self.ranks.get(&chunk[p..end]), p);
            }
        }
        let mut i = 0;
        while i < n {
            out.push(token[i]);
            i = next[i] as usize;
        }
    }

    /// The same merges as [`Encoder::merge_short`], for long chunks: parts in a linked list,
    /// candidate joins in a min-heap on (rank, start), stale entries skipped on pop.
    fn merge_long(&self, chunk: &[u8], out: &mut Vec<u32>) {
        let n = chunk.len();
        // Part i starts at byte i; next[i] is the start of the following part (n at the end).
        let mut next: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::new();
        let pair_rank = |next: &[usize], i: usize| {
            let j = next[i];
            if j >= n {
                return NONE;
            }
            self.ranks.get(&chunk[i..next[j]])
        };
        for i in 0..n - 1 {
            let r = pair_rank(&next, i);
            if r != NONE {
                heap.push(Reverse((r, i)));
            }
        }
        while let Some(Reverse((r, i))) = heap.pop() {
            // An entry is current if its part is alive and still joins its neighbour into `r`.
            if !alive[i] || next[i] >= n || pair_rank(&next, i) != r {
                continue;
            }
            let j = next[i];
            alive[j] = false;
            next[i] = next[j];
            if next[i] < n {
                prev[next[i]] = i;
            }
            let r = pair_rank(&next, i);
            if r != NONE {
                heap.push(Reverse((r, i)));
            }
            if prev[i] != usize::MAX {
                let p = prev[i];
                let r = pair_rank(&next, p);
                if r != NONE {
                    heap.push(Reverse((r, p)));
                }
            }
        }
        let mut i = 0;
        while i < n {
            out.push(self.ranks.get(&chunk[i..next[i]]));
            i = next[i];
        }
    }
}

/// The most ranks for which [`join`] packs every rank with a place in a `u32` below
/// [`NONE`]; a larger vocabulary merges every chunk as [`Encoder::merge_long`] does.
const MAX_FLAT_RANKS: usize = (1 << 24) - 1;

/// A join of the flat scan: the rank `r` of the joined bytes above the place `i` (under
/// 256) where they start, so that the least of these is the lowest rank, and among equal
/// ranks the leftmost, as tiktoken takes them; [`NONE`] if the bytes are not a token.
#[inline(always)]
fn join(r: u32, i: usize) -> u32 {
    if r == NONE {
        NONE
    } else {
        r << 8 | i as u32
    }
}

/// Hands `each` the index and the ids (or the error) of every text, as `encode` finds them
/// on `threads` threads, until `each` returns `false`.
fn each_text(
    texts: &[&str],
    threads: usize,
    encode: impl Fn(&str) -> Result<Vec<u32>> + Sync,
    each: impl Fn(usize, Result<Vec<u32>>) -> bool + Sync,
) -> Result<()> {
    let run = || {
        // An `Err` makes rayon start no more texts.
        let _stopped = texts.par_iter().enumerate().try_for_each(|(i, t)| {
            match each(i, encode(t).map_err(|e| e.in_document(i))) {
                true => Ok(()),
                false => Err(()),
            }
        });
    };
    on_threads(threads, run)
}

/// Runs `f` on `threads` threads: rayon's global pool (one per core) for 0, else a pool of
/// that size.
fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R> {
    Ok(if threads == 0 {
        f()
    } else {
        pool(threads)?.install(f)
    })
}

/// A rayon pool per thread count, built once and kept: building one per call would cost
/// more than encoding a short batch.
fn pool(threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pools.get(&threads) {
        return Ok(p.clone());
    }
    let p = Arc::new(crate::threads::build(threads)?);
    pools.insert(threads, p.clone());
    Ok(p)
}

/// The plain twin of [`Encoder::encode`]'s search for special tokens: where each of
/// `specials` that `text` holds starts, and which it is, taking from the left, at each place,
/// the longest that starts there (as tiktoken's alternation of them, longest first, does).
pub fn reference_special_tokens<'s>(text: &str, specials: &[&'s str]) -> Vec<(usize, &'s str)> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let longest = specials
            .iter()
            .filter(|name| text.is_char_boundary(at) && text[at..].starts_with(**name))
            .max_by_key(|name| name.len());
        match longest {
            Some(name) => {
                found.push((at, *name));
                at += name.len();
            }
            None => at += 1,
        }
    }
    found
}

/// The plain twin of the chunk merge: parts as byte vectors, the lowest-ranked adjacent join
/// (leftmost among equals) applied until none is left. Returns the ranks of the parts.
pub fn reference_encode_chunk(ranks: &HashMap<Vec<u8>, u32>, chunk: &[u8]) -> Vec<u32> {
    if let Some(&r) = ranks.get(chunk) {
        return vec![r];
    }
    let mut parts: Vec<Vec<u8>> = chunk.iter().map(|&b| vec![b]).collect();
    loop {
        let mut best: Option<(u32, usize)> = None;
        for i in 0..parts.len().saturating_sub(1) {
            let joined = [parts[i].as_slice(), parts[i + 1].as_slice()].concat();
            if let Some(&r) = ranks.get(&joined) {
                if best.is_none_or(|(br, _)| r < br) {
                    best = Some((r, i));
                }
            }
        }
        let Some((_, i)) = best else { break };
        let right = parts.remove(i + 1);
        parts[i].extend(right);
    }
    parts.iter().map(|p| ranks[p]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_order_by_rank_then_place_and_stay_below_none() {
        let top = MAX_FLAT_RANKS as u32 - 1;
        let joins = [
            (0, 0),
            (0, 255),
            (1, 0),
            (7, 3),
            (7, 4),
            (top, 0),
            (top, 255),
        ];
        for (a, b) in joins.iter().zip(&joins[1..]) {
            assert!(join(a.0, a.1) < join(b.0, b.1), "{a:?} before {b:?}");
        }
        assert!(join(top, 255) < NONE);
        assert_eq!(join(NONE, 9), NONE);
    }
}
