//! The streaming trainer: documents in, any number of batches; a vocabulary out.

use crate::count::{ChunkCounts, NoParts, Parts};
use crate::error::{Error, Result};
use crate::merge::{learn_merges_in_parts, MergeProgress};
use crate::pretokenize::Pretokenizer;
use crate::vocab::Vocabulary;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Trains a byte-level BPE vocabulary.
///
/// ```
/// use bpe_core::{Trainer, GPT4_PATTERN};
/// let mut trainer = Trainer::new(GPT4_PATTERN, 0).unwrap();
/// trainer.feed(&[b"hello hello world".as_slice(), b"hello there".as_slice()]).unwrap();
/// let vocab = trainer.train(260, &[], &mut |_| true).unwrap();
/// assert_eq!(vocab.tokens()[256], b"he");
/// ```
///
/// `feed` may be called any number of times, also after `train`: the counts keep growing,
/// and `train` may be called again (each call learns from everything fed so far).
pub struct Trainer {
    pretokenizer: Pretokenizer,
    counts: ChunkCounts,
    pool: Option<rayon::ThreadPool>,
    cancel: Arc<AtomicBool>,
}

impl Trainer {
    /// A trainer for `pattern`, using `threads` threads (0: one per core) to count, and up
    /// to 4 of them in the merge loop.
    pub fn new(pattern: &str, threads: usize) -> Result<Self> {
        let pool = crate::threads::pool(threads)?;
        Ok(Trainer {
            pretokenizer: Pretokenizer::new(pattern)?,
            counts: ChunkCounts::new(),
            pool,
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The split pattern.
    pub fn pattern(&self) -> &str {
        self.pretokenizer.pattern()
    }

    /// The pre-tokenizer that splits what is fed.
    pub fn pretokenizer(&self) -> &Pretokenizer {
        &self.pretokenizer
    }

    /// The chunk counts so far.
    pub fn counts(&self) -> &ChunkCounts {
        &self.counts
    }

    /// A flag that, once set from any thread, makes the running `feed` or `train` return
    /// [`Error::Cancelled`]. It is cleared at the start of each call.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Runs `f` on the trainer's threads: rayon's parallel work inside it uses them (the
    /// global pool when the trainer was made with 0 threads).
    pub fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        crate::threads::install(self.pool.as_ref(), f)
    }

    /// Splits and counts a batch of documents (UTF-8 bytes). All or nothing: on error the
    /// counts are exactly as before.
    pub fn feed(&mut self, documents: &[&[u8]]) -> Result<()> {
        self.feed_parts(documents, &NoParts)
    }

    /// Splits and counts a batch of documents in memory and `parts`, whose text is written
    /// on the counting threads (see [`Parts`]). All or nothing, as [`Trainer::feed`].
    pub fn feed_parts<P: Parts>(
        &mut self,
        documents: &[&[u8]],
        parts: &P,
    ) -> std::result::Result<(), P::Error> {
        self.cancel.store(false, Ordering::Relaxed);
        let mut counts = std::mem::take(&mut self.counts);
        let r = self.install(|| {
            counts.add_batch_with_parts(&self.pretokenizer, documents, parts, &self.cancel)
        });
        self.counts = counts;
        r
    }

    /// Learns merges until the vocabulary has `vocab_size` ids, `special_tokens` included
    /// (they take the last ids). Stops early, without error, when no pair is left.
    /// `progress` is called after every merge; returning `false` cancels.
    pub fn train(
        &mut self,
        vocab_size: u32,
        special_tokens: &[&str],
        progress: &mut dyn FnMut(MergeProgress) -> bool,
    ) -> Result<Vocabulary> {
        self.cancel.store(false, Ordering::Relaxed);
        let minimum = 256 + special_tokens.len() as u64;
        if (vocab_size as u64) < minimum {
            return Err(Error::VocabSize {
                requested: vocab_size as u64,
                minimum,
            });
        }
        let n_merges = vocab_size - minimum as u32;
        // Feeding may go on after training, but the merge loop should have this memory.
        self.counts.drop_spare();
        let cancel = self.cancel.clone();
        let counts = &self.counts;
        let threads = self
            .pool
            .as_ref()
            .map_or_else(rayon::current_num_threads, |p| p.current_num_threads());
        let pool = self.pool.as_ref();
        let merges = learn_merges_in_parts(counts.parts(), n_merges, threads, pool, &mut |p| {
            !cancel.load(Ordering::Relaxed) && progress(p)
        })?;
        Vocabulary::from_merges(&merges, self.pretokenizer.pattern(), special_tokens)
    }
}
