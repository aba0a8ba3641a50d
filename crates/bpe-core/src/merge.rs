//! The merge loop: from chunk counts to an ordered list of merges.
//!
//! The rule (rustbpe 0.1.0's): bytes are ids 0..255 and merge `k` makes id `256 + k`. At each
//! step the adjacent pair with the highest count wins, counting every position (overlaps
//! included) weighted by its chunk's count; among equal counts the smallest
//! `(left_id, right_id)` wins. The winner replaces its non-overlapping occurrences left to
//! right in every chunk. Training stops early when no pair is left.
//!
//! [`learn_merges`] applies the rule incrementally: each distinct chunk of two or more bytes
//! is a word in one flat arena of symbols; each pair keeps its total count and the list of
//! words it occurs in; a max-heap holds (count, pair) entries that may be stale. A merge
//! touches only the words on its list, rewrites them in place and adjusts the counts of the
//! pairs around each replacement. [`reference_merges`] recomputes everything at every step:
//! slow, obviously right, and the twin that tests compare against.

use crate::error::{Error, Result};
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;
use std::collections::{BTreeMap, BinaryHeap};
use std::ops::Deref;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

/// A pair of adjacent token ids.
pub type Pair = (u32, u32);

type Map<K, V> = hashbrown::HashMap<K, V, FxBuildHasher>;

#[inline]
fn pack(a: u32, b: u32) -> u64 {
    ((a as u64) << 32) | b as u64
}

#[inline]
fn unpack(p: u64) -> Pair {
    ((p >> 32) as u32, p as u32)
}

/// A pair's total count and where its word list lies in [`Lists`].
#[derive(Clone, Copy, Default)]
struct PairStat {
    count: u64,
    start: u32,
    len: u32,
}

/// The word list of every pair, end to end in one arena. A list holds the words the pair
/// occurs in, or occurred in once: entries go stale when a merge removes the pair from a
/// word, and merging a word that lacks the pair changes nothing. A pair gains words only in
/// the merge that creates it, so each list is written once, whole, and never grows (and
/// holds each word once, in increasing order). Lists of pairs that are gone become garbage,
/// collected when it is nearly all of the arena. One arena instead of a vector per pair
/// keeps the pair table small and spares a million allocations and frees.
#[derive(Default)]
struct Lists {
    words: Vec<u32>,
    garbage: usize,
}

impl Lists {
    fn get(&self, s: &PairStat) -> &[u32] {
        &self.words[s.start as usize..(s.start + s.len) as usize]
    }

    /// Appends a list, returning the pair's entry for it.
    fn push(&mut self, count: u64, list: &[u32]) -> PairStat {
        let start = self.words.len() as u32;
        self.words.extend_from_slice(list);
        PairStat {
            count,
            start,
            len: list.len() as u32,
        }
    }

    /// Copies the live lists into a new arena if garbage is more than [`GARBAGE_RATIO`]
    /// times the live lists, or if `more` entries would not fit in this one.
    fn collect(&mut self, stats: &mut Map<u64, PairStat>, more: usize) {
        let live = self.words.len() - self.garbage;
        if self.garbage <= GARBAGE_RATIO * live && self.words.len() + more <= u32::MAX as usize {
            return;
        }
        let mut words = Vec::with_capacity(live + more);
        for s in stats.values_mut() {
            let start = words.len() as u32;
            words.extend_from_slice(self.get(s));
            s.start = start;
        }
        *self = Lists { words, garbage: 0 };
    }
}

/// How much garbage the lists' arena keeps before a collection. A collection costs a miss
/// per live pair (about 10 ms for 300k pairs), and the arena cannot grow much without one:
/// after setup, lists are appended only for the pairs a merge creates, at most two entries
/// per symbol it removes, so the arena stays within about three times the words' symbols.
/// Collecting as soon as garbage outweighed the live lists cost two collections on the
/// shared corpus (a twelfth of the merge loop) to save 5 MB; at this ratio a collection
/// comes only when few pairs are left, as when a small corpus is trained until no pair is left.
const GARBAGE_RATIO: usize = 8;

/// A symbol of the words' arena: `u16` while every id fits (vocabularies of up to 65536
/// ids), which halves the memory each visit of a word touches, else `u32`. A word's head,
/// its count (8 bytes) and length (4 bytes), takes [`Symbol::HEAD`] symbols.
trait Symbol: Copy + Eq + Send + Sync + 'static {
    const HEAD: usize;
    fn from_id(id: u32) -> Self;
    fn id(self) -> u32;
    fn head(count: u64, len: u32) -> impl IntoIterator<Item = Self>;
    fn count(head: &[Self]) -> u64;
    fn len(head: &[Self]) -> u32;
    fn set_len(head: &mut [Self], len: u32);
}

impl Symbol for u16 {
    const HEAD: usize = 6;
    fn from_id(id: u32) -> Self {
        id as u16
    }
    fn id(self) -> u32 {
        self as u32
    }
    fn head(count: u64, len: u32) -> impl IntoIterator<Item = Self> {
        let [c0, c1, c2, c3] = [0, 16, 32, 48].map(|s| (count >> s) as u16);
        [c0, c1, c2, c3, len as u16, (len >> 16) as u16]
    }
    fn count(h: &[Self]) -> u64 {
        (0..4).fold(0, |c, i| c | (h[i] as u64) << (16 * i))
    }
    fn len(h: &[Self]) -> u32 {
        h[4] as u32 | (h[5] as u32) << 16
    }
    fn set_len(h: &mut [Self], len: u32) {
        h[4] = len as u16;
        h[5] = (len >> 16) as u16;
    }
}

impl Symbol for u32 {
    const HEAD: usize = 3;
    fn from_id(id: u32) -> Self {
        id
    }
    fn id(self) -> u32 {
        self
    }
    fn head(count: u64, len: u32) -> impl IntoIterator<Item = Self> {
        [count as u32, (count >> 32) as u32, len]
    }
    fn count(h: &[Self]) -> u64 {
        h[0] as u64 | (h[1] as u64) << 32
    }
    fn len(h: &[Self]) -> u32 {
        h[2]
    }
    fn set_len(h: &mut [Self], len: u32) {
        h[2] = len;
    }
}

/// The words (distinct chunks of two or more bytes) in one arena of symbols. A word is
/// named by its offset there, where its head (count and current length) comes just before
/// its symbols: visiting a word is one miss in memory, not a miss for a record and another
/// for the symbols it points to. Offsets grow with the words' order, and name the words in
/// the pairs' lists.
struct Words<S> {
    arena: Vec<S>,
}

/// The words made from a run of parts, with the count and list length of every byte pair
/// in them (indexed by the pair's two bytes as a `u16`).
struct Run<S> {
    arena: Vec<S>,
    count: Vec<u64>,
    len: Vec<u32>,
}

impl<S: Symbol> Run<S> {
    fn new<C: Deref<Target = [u8]>>(chunks: impl Iterator<Item = (C, u64)>) -> Self {
        let mut run = Run {
            arena: Vec::new(),
            count: vec![0; 1 << 16],
            len: vec![0; 1 << 16],
        };
        // The last word that counted toward each pair's list length, plus one (0: none).
        let mut last = vec![0u32; 1 << 16];
        for (chunk, n) in chunks {
            // A single byte has no pair and can never take part in a merge.
            if chunk.len() < 2 || n == 0 {
                continue;
            }
            // Offsets past u32 are refused once the runs are joined; until then they
            // only need to tell words apart.
            let w = run.arena.len() as u32;
            run.arena.extend(S::head(n, chunk.len() as u32));
            run.arena
                .extend(chunk.iter().map(|&b| S::from_id(b as u32)));
            for ab in chunk.windows(2) {
                let p = (ab[0] as usize) << 8 | ab[1] as usize;
                run.count[p] += n;
                if last[p] != w.wrapping_add(1) {
                    last[p] = w.wrapping_add(1);
                    run.len[p] += 1;
                }
            }
        }
        run
    }
}

impl<S: Symbol> Words<S> {
    /// The offsets of the words from `start` up to `end`, in order. Only before any merge,
    /// while every word's length is the room it has.
    fn offsets_between(&self, start: u32, end: u32) -> impl Iterator<Item = u32> + '_ {
        let mut o = start as usize;
        std::iter::from_fn(move || {
            if o >= end as usize {
                return None;
            }
            let at = o;
            o += S::HEAD + S::len(&self.arena[o..o + S::HEAD]) as usize;
            Some(at as u32)
        })
    }

    fn get(&self, w: u32) -> &[S] {
        let start = w as usize + S::HEAD;
        &self.arena[start..start + S::len(&self.arena[w as usize..]) as usize]
    }
}

/// The pairs that may win the next merge: a max-heap of (count, pair) entries, which may be
/// stale (counts only fall after an entry is pushed), keyed so that among equal counts the
/// smallest pair comes first.
///
/// Most pairs that merges create occur a handful of times and never win; keeping them out
/// of the heap keeps it small. Only pairs counted at least `threshold` are pushed; when the
/// best entry falls below the threshold, it is lowered and the pairs between the new and the
/// old threshold are pushed from the pair table. A pair below the threshold can never rise
/// above it, so the heap always holds an entry for every pair that could win.
struct Queue {
    heap: BinaryHeap<u128>,
    threshold: u64,
}

impl Queue {
    fn key(count: u64, pair: u64) -> u128 {
        (count as u128) << 64 | (u64::MAX - pair) as u128
    }

    fn new(stats: &Map<u64, PairStat>) -> Self {
        let top = stats.values().map(|s| s.count).max().unwrap_or(0);
        let mut q = Queue {
            heap: BinaryHeap::new(),
            threshold: (top >> 12).max(1),
        };
        q.refill(stats, u64::MAX);
        q
    }

    /// Pushes every pair counted at least `threshold` and below `below`.
    fn refill(&mut self, stats: &Map<u64, PairStat>, below: u64) {
        for (&p, s) in stats {
            if s.count >= self.threshold && s.count < below {
                self.heap.push(Self::key(s.count, p));
            }
        }
    }

    fn push(&mut self, count: u64, pair: u64) {
        if count >= self.threshold {
            self.heap.push(Self::key(count, pair));
        }
    }

    /// The best entry (count as pushed, pair), lowering the threshold first if needed.
    fn pop(&mut self, stats: &Map<u64, PairStat>) -> Option<(u64, u64)> {
        loop {
            let top = self.heap.peek().map_or(0, |&k| (k >> 64) as u64);
            if top >= self.threshold || self.threshold == 1 {
                break;
            }
            let old = self.threshold;
            self.threshold = (top.max(old / 16)).max(1);
            if self.threshold == old {
                self.threshold = old - 1;
            }
            self.refill(stats, old);
        }
        let k = self.heap.pop()?;
        Some(((k >> 64) as u64, u64::MAX - k as u64))
    }
}

/// What the progress callback is told after each merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeProgress {
    /// Merges done so far.
    pub done: u32,
    /// Merges asked for.
    pub total: u32,
}

/// Learns up to `n_merges` merges from `(chunk, count)` pairs, in order.
///
/// Merges of pairs that occur in many words are shared by up to `threads` threads (0: one
/// per core; at most 4). `progress` is called after every merge, on the calling thread;
/// returning `false` cancels with [`Error::Cancelled`]. Returns fewer merges when no pair
/// is left.
pub fn learn_merges<C: Deref<Target = [u8]>>(
    chunks: impl Iterator<Item = (C, u64)> + Send,
    n_merges: u32,
    threads: usize,
    progress: &mut dyn FnMut(MergeProgress) -> bool,
) -> Result<Vec<Pair>> {
    learn_merges_in_parts(vec![chunks], n_merges, threads, None, progress)
}

/// [`learn_merges`] for chunks given in parts (such as the shards of a
/// [`ChunkCounts`](crate::count::ChunkCounts)), which are made into words on every thread
/// of `pool` (without one, of rayon's global pool).
pub fn learn_merges_in_parts<C: Deref<Target = [u8]>, I: Iterator<Item = (C, u64)> + Send>(
    parts: Vec<I>,
    n_merges: u32,
    threads: usize,
    pool: Option<&rayon::ThreadPool>,
    progress: &mut dyn FnMut(MergeProgress) -> bool,
) -> Result<Vec<Pair>> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    if 256 + n_merges as u64 <= 1 << 16 {
        learn::<u16, C, I>(parts, n_merges, threads, pool, progress)
    } else {
        learn::<u32, C, I>(parts, n_merges, threads, pool, progress)
    }
}

/// [`learn_merges`] with the symbols of the words' arena of type `S`, which holds every id.
fn learn<S: Symbol, C: Deref<Target = [u8]>, I: Iterator<Item = (C, u64)> + Send>(
    parts: Vec<I>,
    n_merges: u32,
    threads: usize,
    pool: Option<&rayon::ThreadPool>,
    progress: &mut dyn FnMut(MergeProgress) -> bool,
) -> Result<Vec<Pair>> {
    let setup = || words_and_pairs::<S, C, I>(parts);
    let (mut words, mut stats, mut lists) = crate::threads::install(pool, setup)?;
    let mut queue = Queue::new(&stats);

    // Each merge shortens some word by at least one symbol, so there can be no more merges
    // than symbols: sizing by that bound, not by the request, keeps an absurd vocab size
    // from allocating tables for ids that can never exist.
    let possible = n_merges.min(words.arena.len() as u32);
    let mut merges = Vec::with_capacity(possible as usize);
    let ids = 256 + possible as usize;
    let mut deltas = Deltas::new(ids);
    let helpers: Vec<Helper> = (1..threads.min(MAX_THREADS))
        .map(|_| Helper::new(ids))
        .collect();
    // From here on the words are reached only through `arena`, by this thread and the
    // helpers, each touching words no other touches.
    let arena = Arena {
        ptr: words.arena.as_mut_ptr(),
        len: words.arena.len(),
    };
    std::thread::scope(|scope| {
        let crew: Vec<_> = helpers
            .iter()
            .map(|h| (h, scope.spawn(move || h.run(arena))))
            .collect();
        // However the loop ends (done, cancelled, or a panic), the helpers stop, so that
        // the scope can join them.
        let _stop = StopOnDrop(&crew);
        while merges.len() < n_merges as usize {
            let Some((count, key)) = queue.pop(&stats) else {
                break;
            };
            // Counts only fall after an entry is pushed (a pair gains occurrences only in
            // the merge that creates it), so every live pair has an entry at least as high
            // as its count, and the first entry that is still exact is the true maximum.
            let current = stats.get(&key).map_or(0, |s| s.count);
            if current == 0 {
                continue;
            }
            if current != count {
                queue.push(current, key);
                continue;
            }
            let (a, b) = unpack(key);
            let new = 256 + merges.len() as u32;
            merges.push((a, b));
            let occurrences = lists.get(&stats[&key]);
            debug_assert!(occurrences.windows(2).all(|w| w[0] < w[1]));
            let merge = Merge { a, b, new };
            // A long list is cut into consecutive parts, one per thread. This thread takes
            // the first; the helpers' deltas are added in the order of their parts, so each
            // created pair's list of words stays in increasing order.
            let parts = (occurrences.len() / SPLIT_WORDS).clamp(1, crew.len() + 1);
            let size = occurrences.len().div_ceil(parts);
            let mut slices = occurrences.chunks(size.max(1));
            let first = slices.next().unwrap_or_default();
            let given = crew.len().min(parts - 1);
            for ((helper, handle), part) in crew.iter().zip(slices) {
                helper.give(part, merge, handle.thread());
            }
            // SAFETY (for this part and the helpers'): a word appears at most once in a
            // pair's list (a pair gains words only in the merge that creates it, once
            // each), so the parts hold distinct words.
            unsafe { merge_part(arena, first, merge, &mut deltas) };
            for (helper, handle) in &crew[..given] {
                helper.wait(handle);
                deltas.absorb(&mut helper.deltas.lock().unwrap_or_else(|e| e.into_inner()));
            }
            // Pairs that merge diminished, then pairs it created (never the same: a created
            // pair contains the new id, a diminished one does not).
            deltas.apply(merge, &mut stats, &mut lists, &mut queue);
            debug_assert!(!stats.contains_key(&key));
            let done = merges.len() as u32;
            if !progress(MergeProgress {
                done,
                total: n_merges,
            }) {
                return Err(Error::Cancelled);
            }
        }
        Ok(merges)
    })
}

/// The words, and the pairs of the words before any merge with their counts and word
/// lists. Every symbol is still a byte, so the pairs are counted in dense tables of all
/// 65536 byte pairs (an array access per position instead of a hash lookup), in two passes:
/// one, as the words are made, sizes each pair's list; the next fills the lists in place in
/// the arena. Both passes run on every thread of the current rayon pool, each on a run of
/// consecutive parts: a run fills its part of each list after the parts of the runs before
/// it, so every list stays in increasing order.
fn words_and_pairs<S: Symbol, C: Deref<Target = [u8]>, I: Iterator<Item = (C, u64)> + Send>(
    parts: Vec<I>,
) -> Result<WordsAndPairs<S>> {
    let per_run = parts.len().div_ceil(rayon::current_num_threads()).max(1);
    let mut grouped: Vec<Vec<I>> = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        if i % per_run == 0 {
            grouped.push(Vec::new());
        }
        grouped.last_mut().expect("pushed above").push(part);
    }
    let runs: Vec<Run<S>> = grouped
        .into_par_iter()
        .map(|run| Run::new(run.into_iter().flatten()))
        .collect();
    let total: usize = runs.iter().map(|r| r.arena.len()).sum();
    if total > u32::MAX as usize {
        return Err(Error::State(format!(
            "the distinct chunks hold {total} bytes, more than training can index (about 4 GB)"
        )));
    }
    // Where each run's words start in the arena, and where its part of each list starts.
    let mut bases = Vec::with_capacity(runs.len());
    let mut arena = Vec::with_capacity(total);
    for run in &runs {
        bases.push(arena.len() as u32);
        arena.extend_from_slice(&run.arena);
    }
    let words = Words { arena };
    let mut dense = vec![PairStat::default(); 1 << 16];
    let mut next: Vec<Vec<u32>> = vec![vec![0; 1 << 16]; runs.len()];
    let mut start = 0u32;
    for (p, s) in dense.iter_mut().enumerate() {
        s.start = start;
        for (r, run) in runs.iter().enumerate() {
            next[r][p] = start;
            start += run.len[p];
            s.count += run.count[p];
        }
        s.len = start - s.start;
    }
    let ends: Vec<u32> = (bases.iter().skip(1).copied())
        .chain([words.arena.len() as u32])
        .collect();
    drop(runs);
    let mut lists = Lists {
        words: vec![0; start as usize],
        garbage: 0,
    };
    let slots = SharedSlots(lists.words.as_mut_ptr());
    (bases.par_iter().zip(&ends).zip(next.par_iter_mut())).for_each(|((&base, &end), next)| {
        let mut last = vec![0u32; 1 << 16];
        for w in words.offsets_between(base, end) {
            for ab in words.get(w).windows(2) {
                let p = (ab[0].id() << 8 | ab[1].id()) as usize;
                if last[p] != w + 1 {
                    last[p] = w + 1;
                    // SAFETY: each run writes only its own part of each list, inside
                    // `lists.words`, which outlives this loop.
                    unsafe { slots.write(next[p] as usize, w) };
                    next[p] += 1;
                }
            }
        }
    });
    let mut stats = Map::with_capacity_and_hasher(1 << 16, FxBuildHasher);
    for (p, s) in dense.into_iter().enumerate() {
        if s.count > 0 {
            stats.insert(pack(p as u32 >> 8, p as u32 & 0xff), s);
        }
    }
    Ok((words, stats, lists))
}

/// The words, the pair table and the pairs' word lists.
type WordsAndPairs<S> = (Words<S>, Map<u64, PairStat>, Lists);

/// The slots of the pairs' lists, written by several threads at distinct indices.
#[derive(Clone, Copy)]
struct SharedSlots(*mut u32);

// SAFETY: the threads write distinct slots (see `words_and_pairs`).
unsafe impl Send for SharedSlots {}
unsafe impl Sync for SharedSlots {}

impl SharedSlots {
    /// # Safety
    /// `i` is in bounds, and no other thread touches slot `i` meanwhile.
    unsafe fn write(self, i: usize, w: u32) {
        *self.0.add(i) = w;
    }
}

/// How many words ahead of a visit the word is prefetched.
const PREFETCH: usize = 8;

/// Each thread's part of a list is at least this many words: handing a part to a helper
/// and adding up its deltas costs about what merging a few dozen words does.
const SPLIT_WORDS: usize = 256;

/// The most threads that share a merge: helpers wait for work spinning, and the longest
/// lists are a small part of the work.
const MAX_THREADS: usize = 4;

/// The merge being applied: `(a, b)` becomes `new`.
#[derive(Clone, Copy)]
struct Merge {
    a: u32,
    b: u32,
    new: u32,
}

/// Counts by the id on the other side of a pair whose one side the merge fixes, with the
/// ids touched so far (so clearing costs what was used, not the whole table).
struct Side {
    count: Vec<u64>,
    touched: Vec<u32>,
}

impl Side {
    fn new(ids: usize) -> Self {
        Side {
            count: vec![0; ids],
            touched: Vec::new(),
        }
    }

    #[inline(always)]
    fn add(&mut self, id: u32, n: u64) -> bool {
        let c = &mut self.count[id as usize];
        let first = *c == 0;
        if first {
            self.touched.push(id);
        }
        *c += n;
        first
    }
}

/// [`Side`] for created pairs, which also gather the words they occur in (buffers that
/// keep their capacity from merge to merge).
struct Created {
    side: Side,
    words: Vec<Vec<u32>>,
}

impl Created {
    fn new(ids: usize) -> Self {
        Created {
            side: Side::new(ids),
            words: vec![Vec::new(); ids],
        }
    }

    #[inline(always)]
    fn add(&mut self, id: u32, n: u64, w: u32) {
        self.side.add(id, n);
        let words = &mut self.words[id as usize];
        if words.last() != Some(&w) {
            words.push(w);
        }
    }
}

/// What one merge of `(a, b)` into `new` does to the pair table, gathered before it is
/// applied. Every pair it touches has a fixed side: it removes `(x, a)`, `(a, b)` and
/// `(b, y)` and creates `(x, new)`, `(new, y)` and `(new, new)`; so each kind is a dense
/// table indexed by the other id. A merge updates a few hundred distinct pairs hundreds of
/// thousands of times, and these updates cost an array access instead of a hash lookup.
struct Deltas {
    removed_left: Side,
    removed_right: Side,
    removed_pair: u64,
    created_left: Created,
    created_right: Created,
}

impl Deltas {
    fn new(ids: usize) -> Self {
        Deltas {
            removed_left: Side::new(ids),
            removed_right: Side::new(ids),
            removed_pair: 0,
            created_left: Created::new(ids),
            created_right: Created::new(ids),
        }
    }

    /// Adds another thread's deltas for the same merge to these, leaving the other empty.
    fn absorb(&mut self, other: &mut Deltas) {
        for (mine, theirs) in [
            (&mut self.removed_left, &mut other.removed_left),
            (&mut self.removed_right, &mut other.removed_right),
        ] {
            for id in theirs.touched.drain(..) {
                mine.add(id, std::mem::take(&mut theirs.count[id as usize]));
            }
        }
        self.removed_pair += std::mem::take(&mut other.removed_pair);
        for (mine, theirs) in [
            (&mut self.created_left, &mut other.created_left),
            (&mut self.created_right, &mut other.created_right),
        ] {
            for id in theirs.side.touched.drain(..) {
                let i = id as usize;
                mine.side.add(id, std::mem::take(&mut theirs.side.count[i]));
                mine.words[i].append(&mut theirs.words[i]);
            }
        }
    }

    /// Applies the deltas to the pair table and the queue, and clears them.
    fn apply(
        &mut self,
        m: Merge,
        stats: &mut Map<u64, PairStat>,
        lists: &mut Lists,
        queue: &mut Queue,
    ) {
        let Merge { a, b, new } = m;
        let mut remove = |stats: &mut Map<u64, PairStat>, p: u64, c: u64| {
            if let hashbrown::hash_map::Entry::Occupied(mut e) = stats.entry(p) {
                e.get_mut().count -= c;
                // A pair whose count reaches zero is gone for good (a pair is only ever
                // created by the merge that makes its newer id), so it leaves the table,
                // keeping lookups in cache, and its list is garbage.
                if e.get().count == 0 {
                    lists.garbage += e.remove().len as usize;
                }
            }
        };
        for id in self.removed_left.touched.drain(..) {
            let c = std::mem::take(&mut self.removed_left.count[id as usize]);
            remove(stats, pack(id, a), c);
        }
        for id in self.removed_right.touched.drain(..) {
            let c = std::mem::take(&mut self.removed_right.count[id as usize]);
            remove(stats, pack(b, id), c);
        }
        remove(stats, pack(a, b), std::mem::take(&mut self.removed_pair));
        let more = [&self.created_left, &self.created_right]
            .iter()
            .flat_map(|c| c.side.touched.iter().map(|&id| c.words[id as usize].len()))
            .sum();
        lists.collect(stats, more);
        for (created, key) in [
            (
                &mut self.created_left,
                (|x, new| pack(x, new)) as fn(u32, u32) -> u64,
            ),
            (&mut self.created_right, |y, new| pack(new, y)),
        ] {
            for id in created.side.touched.drain(..) {
                let i = id as usize;
                let count = std::mem::take(&mut created.side.count[i]);
                let p = key(id, new);
                queue.push(count, p);
                stats.insert(p, lists.push(count, &created.words[i]));
                created.words[i].clear();
            }
        }
    }
}

/// Replaces the non-overlapping occurrences of `(a, b)` in one word (its symbols `sym`,
/// counted `n` times) by `new`, left to right, in place; records what each replacement
/// removes (`(a, b)` and the pairs it formed with its neighbours) and creates (the pairs
/// `new` forms with them). Returns the word's new length.
#[inline(always)]
fn merge_word<S: Symbol>(sym: &mut [S], n: u64, w: u32, m: Merge, d: &mut Deltas) -> u32 {
    let [a, b, new] = [m.a, m.b, m.new].map(S::from_id);
    let len = sym.len();
    // The pair `new` forms with the symbol after a replacement is created only once the
    // next symbol is known: if that symbol starts another replacement, the pair is
    // `(new, a)`, which the next replacement would remove again, so it is never created;
    // `(new, new)` is created instead (as a left pair with `x = new`).
    let mut pending: Option<u32> = None;
    // Nothing before the first occurrence changes, and a quarter of the visits find none
    // (an earlier merge took the pair out of the word): look for it before copying anything.
    let Some(first) = sym.windows(2).position(|p| p[0] == a && p[1] == b) else {
        return len as u32;
    };
    let (mut r, mut o) = (first, first);
    while r < len {
        if r + 1 < len && sym[r] == a && sym[r + 1] == b {
            if o > 0 {
                if pending.take().is_some() {
                    d.created_left.add(m.new, n, w);
                } else {
                    let x = sym[o - 1].id();
                    d.removed_left.add(x, n);
                    d.created_left.add(x, n, w);
                }
            }
            d.removed_pair += n;
            if r + 2 < len {
                let y = sym[r + 2].id();
                d.removed_right.add(y, n);
                pending = Some(y);
            }
            sym[o] = new;
            o += 1;
            r += 2;
        } else {
            if let Some(y) = pending.take() {
                d.created_right.add(y, n, w);
            }
            sym[o] = sym[r];
            o += 1;
            r += 1;
        }
    }
    if let Some(y) = pending {
        d.created_right.add(y, n, w);
    }
    o as u32
}

/// Raw access to the words' arena, shared by the threads of the merge loop, which touch
/// disjoint words.
#[derive(Clone, Copy)]
struct Arena<S> {
    ptr: *mut S,
    len: usize,
}
// SAFETY: the threads that share an arena touch disjoint words (see `merge_part`).
unsafe impl<S> Send for Arena<S> {}
unsafe impl<S> Sync for Arena<S> {}

impl<S: Symbol> Arena<S> {
    /// Asks the CPU to start loading a word that a visit soon will touch: the words on a
    /// pair's list are scattered over the arena, and waiting for each in turn dominates.
    #[inline(always)]
    fn prefetch(&self, w: Option<&u32>) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the offset is checked against the arena; prefetching is only a hint.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            if let Some(&w) = w.filter(|&&w| (w as usize) < self.len) {
                _mm_prefetch::<_MM_HINT_T0>(self.ptr.add(w as usize) as *const i8);
            }
        }
    }

    /// Word `w`'s head and symbols, which [`merge_word`] rewrites.
    ///
    /// # Safety
    /// No other reference to word `w` is alive.
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    unsafe fn word_mut(&self, w: u32) -> (&mut [S], &mut [S]) {
        let w = w as usize;
        assert!(w + S::HEAD <= self.len);
        let head = std::slice::from_raw_parts_mut(self.ptr.add(w), S::HEAD);
        let len = S::len(head) as usize;
        assert!(w + S::HEAD + len <= self.len);
        let sym = std::slice::from_raw_parts_mut(self.ptr.add(w + S::HEAD), len);
        (head, sym)
    }
}

/// [`merge_word`] over the words of `part`, into `d`.
///
/// # Safety
/// No other thread touches the words of `part` meanwhile, and each appears in it once.
unsafe fn merge_part<S: Symbol>(arena: Arena<S>, part: &[u32], m: Merge, d: &mut Deltas) {
    // Most lists are short: start loading their first words before the first visit rather
    // than leaving them to the prefetches that run ahead inside the loop.
    for w in part.iter().take(PREFETCH) {
        arena.prefetch(Some(w));
    }
    for (i, &w) in part.iter().enumerate() {
        arena.prefetch(part.get(i + PREFETCH));
        let (head, sym) = arena.word_mut(w);
        let len = merge_word(sym, S::count(head), w, m, d);
        S::set_len(head, len);
    }
}

/// A thread that merges a part of long lists while the loop's own thread merges the rest.
/// Long lists come every few dozen microseconds early on, and take about that long: too
/// short for a thread pool's wake-up. So a helper waits for work spinning for a while, and
/// only then parks (the loop unparks it when it hands over a part).
struct Helper {
    state: AtomicU8,
    /// The part: its words (a slice of a pair's list, which the loop leaves alone until the
    /// helper is done) and the merge.
    part: AtomicPtr<u32>,
    part_len: AtomicUsize,
    pair: AtomicU64,
    new: AtomicU32,
    deltas: Mutex<Deltas>,
}

const IDLE: u8 = 0;
const WORK: u8 = 1;
const DONE: u8 = 2;
const STOP: u8 = 3;

/// Spins a helper waits before it parks: tens of microseconds.
const SPINS: u32 = 1 << 14;

impl Helper {
    fn new(ids: usize) -> Self {
        Helper {
            state: AtomicU8::new(IDLE),
            part: AtomicPtr::new(std::ptr::null_mut()),
            part_len: AtomicUsize::new(0),
            pair: AtomicU64::new(0),
            new: AtomicU32::new(0),
            deltas: Mutex::new(Deltas::new(ids)),
        }
    }

    /// The helper's thread: merges each part it is given until told to stop.
    fn run<S: Symbol>(&self, arena: Arena<S>) {
        let mut idle = 0;
        loop {
            match self.state.load(Ordering::Acquire) {
                WORK => {
                    let (a, b) = unpack(self.pair.load(Ordering::Relaxed));
                    let m = Merge {
                        a,
                        b,
                        new: self.new.load(Ordering::Relaxed),
                    };
                    let mut d = self.deltas.lock().unwrap_or_else(|e| e.into_inner());
                    // SAFETY: `give` published a live slice of a pair's list (the Acquire
                    // load above pairs with its Release store), which the loop leaves alone
                    // until DONE; the loop's thread and the other helpers merge the other
                    // parts of that list, which hold other words.
                    unsafe {
                        let part = std::slice::from_raw_parts(
                            self.part.load(Ordering::Relaxed),
                            self.part_len.load(Ordering::Relaxed),
                        );
                        merge_part(arena, part, m, &mut d);
                    }
                    drop(d);
                    self.state.store(DONE, Ordering::Release);
                    idle = 0;
                }
                STOP => return,
                _ if idle < SPINS => {
                    idle += 1;
                    std::hint::spin_loop();
                }
                _ => std::thread::park(),
            }
        }
    }

    /// Hands `part` of merge `m`'s list to the helper running on `thread`.
    fn give(&self, part: &[u32], m: Merge, thread: &std::thread::Thread) {
        self.part.store(part.as_ptr().cast_mut(), Ordering::Relaxed);
        self.part_len.store(part.len(), Ordering::Relaxed);
        self.pair.store(pack(m.a, m.b), Ordering::Relaxed);
        self.new.store(m.new, Ordering::Relaxed);
        self.state.store(WORK, Ordering::Release);
        thread.unpark();
    }

    /// Waits until the helper has merged its part. Panics if its thread has died.
    fn wait(&self, handle: &std::thread::ScopedJoinHandle<'_, ()>) {
        let mut spins = 0u32;
        while self.state.load(Ordering::Acquire) != DONE {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) && handle.is_finished() {
                panic!("a merge helper thread stopped");
            }
            std::hint::spin_loop();
        }
        self.state.store(IDLE, Ordering::Relaxed);
    }
}

/// Tells every helper to stop when dropped.
struct StopOnDrop<'a, 'scope>(&'a [(&'a Helper, std::thread::ScopedJoinHandle<'scope, ()>)]);

impl Drop for StopOnDrop<'_, '_> {
    fn drop(&mut self) {
        for (helper, handle) in self.0 {
            helper.state.store(STOP, Ordering::Release);
            handle.thread().unpark();
        }
    }
}

/// The slow twin of [`learn_merges`]: recounts every pair at every step.
pub fn reference_merges<'a>(
    chunks: impl Iterator<Item = (&'a [u8], u64)>,
    n_merges: u32,
) -> Vec<Pair> {
    let mut words: Vec<(Vec<u32>, u64)> = chunks
        .map(|(c, n)| (c.iter().map(|&b| b as u32).collect(), n))
        .collect();
    let mut merges = Vec::new();
    for k in 0..n_merges {
        let mut counts: BTreeMap<Pair, u64> = BTreeMap::new();
        for (ids, n) in &words {
            for ab in ids.windows(2) {
                *counts.entry((ab[0], ab[1])).or_insert(0) += n;
            }
        }
        // Highest count; the BTreeMap iterates pairs in increasing order, and only a
        // strictly higher count displaces the best so far, so the smallest pair wins ties.
        let mut best: Option<(Pair, u64)> = None;
        for (&p, &c) in &counts {
            if c > 0 && best.is_none_or(|(_, bc)| c > bc) {
                best = Some((p, c));
            }
        }
        let Some(((a, b), _)) = best else { break };
        let new = 256 + k;
        for (ids, _) in &mut words {
            let mut out = Vec::with_capacity(ids.len());
            let mut i = 0;
            while i < ids.len() {
                if i + 1 < ids.len() && ids[i] == a && ids[i + 1] == b {
                    out.push(new);
                    i += 2;
                } else {
                    out.push(ids[i]);
                    i += 1;
                }
            }
            *ids = out;
        }
        merges.push((a, b));
    }
    merges
}
