//! Chunk counts: how often each distinct chunk occurs in everything fed so far.
//!
//! A batch is split and counted on every core into tables keyed by borrowed slices (no
//! allocation per chunk), and only once the whole batch has succeeded are those tables folded
//! into the owned table. So a batch with a bad document changes nothing, and memory grows
//! with the number of distinct chunks, not with the corpus.

use crate::error::{Error, Result};
use crate::pretokenize::Pretokenizer;
use hashbrown::HashMap;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Long documents are cut into pieces of about this many bytes so that one document can
/// keep every core busy; see [`Pretokenizer::pieces`].
const PIECE_BYTES: usize = 1 << 20;

/// Distinct chunks and their counts, plus totals of what was fed.
#[derive(Default, Debug, Clone)]
pub struct ChunkCounts {
    map: HashMap<Box<[u8]>, u64>,
    documents: u64,
    bytes: u64,
}

type Local<'a> = HashMap<&'a [u8], u64>;

fn merge_into<'a>(mut a: Local<'a>, mut b: Local<'a>) -> Local<'a> {
    if a.len() < b.len() {
        std::mem::swap(&mut a, &mut b);
    }
    for (k, v) in b {
        *a.entry(k).or_insert(0) += v;
    }
    a
}

/// Checks that every document is UTF-8, naming the first that is not.
pub fn validate_utf8<'a>(documents: &[&'a [u8]]) -> Result<Vec<&'a str>> {
    let checked: Vec<std::result::Result<&str, usize>> = documents
        .par_iter()
        .map(|d| std::str::from_utf8(d).map_err(|e| e.valid_up_to()))
        .collect();
    checked
        .into_iter()
        .enumerate()
        .map(|(document, r)| r.map_err(|offset| Error::InvalidUtf8 { document, offset }))
        .collect()
}

/// Splits and counts one batch in parallel, without touching any shared state.
pub fn count_batch<'a>(
    pretokenizer: &Pretokenizer,
    documents: &[&'a str],
    cancel: &AtomicBool,
) -> Result<HashMap<&'a [u8], u64>> {
    let pieces: Vec<(usize, &str)> = documents
        .iter()
        .enumerate()
        .flat_map(|(i, d)| {
            pretokenizer
                .pieces(d, PIECE_BYTES)
                .into_iter()
                .map(move |p| (i, p))
        })
        .collect();
    let groups = rayon::current_num_threads() * 4;
    pieces
        .par_iter()
        .with_min_len(pieces.len() / groups + 1)
        .try_fold(Local::new, |mut local, &(document, piece)| {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            pretokenizer
                .split(piece, |chunk| {
                    *local.entry(chunk.as_bytes()).or_insert(0) += 1
                })
                .map_err(|message| Error::RegexRuntime { document, message })?;
            Ok(local)
        })
        .try_reduce(Local::new, |a, b| Ok(merge_into(a, b)))
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
        let local = count_batch(pretokenizer, &texts, cancel)?;
        self.map.reserve(
            local
                .len()
                .saturating_sub(self.map.capacity() - self.map.len()),
        );
        for (chunk, n) in local {
            match self.map.get_mut(chunk) {
                Some(c) => *c += n,
                None => {
                    self.map.insert(chunk.into(), n);
                }
            }
        }
        self.documents += documents.len() as u64;
        self.bytes += documents.iter().map(|d| d.len() as u64).sum::<u64>();
        Ok(())
    }

    /// Adds `n` occurrences of one chunk (tests and tools that count by other means).
    pub fn add(&mut self, chunk: &[u8], n: u64) {
        *self.map.entry(chunk.into()).or_insert(0) += n;
    }

    /// Number of distinct chunks.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing has been counted.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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
        self.map.get(chunk).copied().unwrap_or(0)
    }

    /// Every distinct chunk with its count, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.map.iter().map(|(k, &v)| (&**k, v))
    }
}
