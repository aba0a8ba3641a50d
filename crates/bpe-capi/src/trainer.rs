//! bpe_trainer: documents in, in any number of batches; a vocabulary out.

use crate::buffers::{
    bpe_bytes, byte_strings, c_str, deref, optional_c_str, out_ptr, utf8_strings,
};
use crate::status::{bpe_status, guard, guard_void, Failure, Outcome};
use crate::vocab::bpe_vocab;
use bpe_core::{MergeProgress, Trainer, GPT4_PATTERN};
use std::collections::HashSet;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

/// A trainer: counts the chunks of every document fed to it, and learns a vocabulary from
/// those counts.
///
/// Created by bpe_trainer_new() or bpe_trainer_new_preset() and freed with
/// bpe_trainer_free(). Feed documents in as many batches as you like, then train; feeding
/// may continue after training (the counts keep growing) and training may be repeated
/// (each time from everything fed so far).
///
/// Threads: the handle may be passed between threads and shared by them, but only one
/// call at a time may use it, except bpe_trainer_cancel(), which may be called from any
/// thread at any time. A call made while another is running on a different thread returns
/// BPE_ERROR_STATE at once instead of waiting.
#[allow(non_camel_case_types)]
pub struct bpe_trainer {
    /// The core trainer's cancel flag, reachable without the lock so that
    /// bpe_trainer_cancel() works while feed or train holds it.
    cancel: Arc<AtomicBool>,
    trainer: Mutex<Trainer>,
}

impl bpe_trainer {
    fn new(trainer: Trainer) -> Box<Self> {
        Box::new(bpe_trainer {
            cancel: trainer.cancel_flag(),
            trainer: Mutex::new(trainer),
        })
    }

    /// The trainer, if no other call is using it and no earlier call panicked while using
    /// it (which may have left the counts half-updated).
    fn lock(&self) -> Result<MutexGuard<'_, Trainer>, Failure> {
        self.trainer.try_lock().map_err(|e| match e {
            TryLockError::WouldBlock => Failure::new(
                bpe_status::BPE_ERROR_STATE,
                "the trainer is in use by another call (on another thread, or from inside a \
                 progress callback); only bpe_trainer_cancel may run alongside feed or train",
            ),
            TryLockError::Poisoned(_) => Failure::new(
                bpe_status::BPE_ERROR_STATE,
                "the trainer is unusable: an earlier call on it panicked",
            ),
        })
    }
}

/// Called during training with the number of merges done and the number asked for.
///
/// It runs on the thread that called bpe_trainer_train(), after a merge, at most about
/// every 50 ms, and once more at the end with `done` equal to the number of merges learnt
/// (less than `total` if the documents ran out of pairs). Return true to go on, false to
/// cancel training (bpe_trainer_train() then returns BPE_ERROR_CANCELLED). `user_data` is
/// the pointer given to bpe_trainer_train(). The callback may call bpe_trainer_cancel()
/// but no other function on the same trainer (those return BPE_ERROR_STATE), and it must
/// return normally: no longjmp or C++ exception may leave it through libbpe.
#[allow(non_camel_case_types)]
pub type bpe_progress_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, done: u32, total: u32) -> bool>;

/// The least time between two calls of the progress callback. The merge loop reports
/// every merge, thousands per second; a callback into Python at that rate would cost more
/// than the merges.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);

/// Forwards the merge loop's progress to the C callback, throttled.
struct Progress {
    callback: bpe_progress_callback,
    user_data: *mut c_void,
    last_call: Option<Instant>,
    last_seen: Option<MergeProgress>,
    last_reported: Option<MergeProgress>,
    refused: bool,
}

impl Progress {
    fn call(&mut self, p: MergeProgress) -> bool {
        self.last_call = Some(Instant::now());
        self.last_reported = Some(p);
        let go_on = match self.callback {
            // SAFETY: the caller of bpe_trainer_train vouches for the callback and its data.
            Some(f) => unsafe { f(self.user_data, p.done, p.total) },
            None => true,
        };
        self.refused |= !go_on;
        go_on
    }

    /// After every merge: report the first, then at most every PROGRESS_INTERVAL, and the
    /// last one asked for.
    fn merged(&mut self, p: MergeProgress) -> bool {
        self.last_seen = Some(p);
        let due = match self.last_call {
            None => true,
            Some(t) => p.done == p.total || t.elapsed() >= PROGRESS_INTERVAL,
        };
        !due || self.call(p)
    }

    /// Once training has ended: report the final state unless that was just reported.
    fn finished(&mut self, total: u32) -> bool {
        let last = self.last_seen.unwrap_or(MergeProgress { done: 0, total });
        self.last_reported == Some(last) || self.call(last)
    }
}

/// Creates a trainer for a split pattern and writes it to `out`; the caller frees it with
/// bpe_trainer_free().
///
/// - `pattern`: the NUL-terminated UTF-8 regex that cuts documents into chunks (merges
///   never cross chunks), or NULL for GPT-4's (cl100k_base) pattern. GPT-4's and
///   nanochat's patterns run on a fast hand-written scanner; any other pattern runs on
///   fancy-regex. Copied; need only stay valid for the call.
/// - `threads`: threads used to count documents, and to share the merges of pairs found in
///   many words (up to 4 there); 0 means one per core.
///
/// Errors: BPE_ERROR_INVALID_ARGUMENT (pattern not UTF-8), BPE_ERROR_PATTERN.
#[no_mangle]
pub unsafe extern "C" fn bpe_trainer_new(
    pattern: *const c_char,
    threads: usize,
    out: *mut *mut bpe_trainer,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let pattern = optional_c_str(pattern, "pattern")?.unwrap_or(GPT4_PATTERN);
        *out = Box::into_raw(bpe_trainer::new(Trainer::new(pattern, threads)?));
        Ok(())
    })
}

/// Like bpe_trainer_new(), with a pattern named by `preset` (NUL-terminated): "gpt4"
/// (also "cl100k_base"), "nanochat" (GPT-4's with numbers of at most two digits) or
/// "gpt2" (also "r50k_base"). An unknown name gives BPE_ERROR_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn bpe_trainer_new_preset(
    preset: *const c_char,
    threads: usize,
    out: *mut *mut bpe_trainer,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let name = c_str(preset, "preset")?;
        let pattern = bpe_core::preset(name).ok_or_else(|| {
            Failure::invalid(format!(
                "unknown preset {name:?}; the presets are \"gpt4\", \"nanochat\" and \"gpt2\""
            ))
        })?;
        *out = Box::into_raw(bpe_trainer::new(Trainer::new(pattern, threads)?));
        Ok(())
    })
}

/// Splits `count` documents into chunks and adds them to the trainer's counts.
///
/// `documents[i]` is the UTF-8 text of document `i`; the bytes are only read during the
/// call and may be freed afterwards. `documents` may be NULL only when `count` is 0.
/// Feeding may go on after bpe_trainer_train(): the counts keep growing, and the next
/// training learns from everything fed so far.
///
/// All or nothing: on any error (BPE_ERROR_INVALID_UTF8, whose message names the document
/// index and the byte offset; BPE_ERROR_REGEX_RUNTIME; BPE_ERROR_CANCELLED) the counts are
/// exactly as before the call.
#[no_mangle]
pub unsafe extern "C" fn bpe_trainer_feed(
    trainer: *mut bpe_trainer,
    documents: *const bpe_bytes,
    count: usize,
) -> bpe_status {
    guard(|| feed(trainer, &byte_strings(documents, count, "documents")?))
}

/// bpe_trainer_feed()'s work on documents already gathered (the Python package's compiled
/// feed gathers them from Python strings).
pub(crate) unsafe fn feed(trainer: *mut bpe_trainer, documents: &[&[u8]]) -> Outcome {
    let handle = deref(trainer, "trainer")?;
    let mut trainer = handle.lock()?;
    feed_locked(&mut trainer, documents, &bpe_core::count::NoParts)
}

/// [`feed`] of the documents and parts that `gather` makes on the trainer's threads (the
/// Python package's compiled feed encodes strings to UTF-8 there, in parallel, and cuts a
/// long one into parts that are encoded where they are counted); `Ok(false)`, with nothing
/// fed, when it makes none.
#[cfg(feature = "python")]
pub(crate) unsafe fn feed_gathered<'a, P: bpe_core::Parts<Error = bpe_core::Error> + Send>(
    trainer: *mut bpe_trainer,
    gather: impl FnOnce(&Trainer) -> Option<(Vec<std::borrow::Cow<'a, [u8]>>, P)> + Send,
) -> Result<bool, Failure> {
    let handle = deref(trainer, "trainer")?;
    let mut trainer = handle.lock()?;
    let Some((documents, parts)) = trainer.install(|| gather(&trainer)) else {
        return Ok(false);
    };
    let documents: Vec<&[u8]> = documents.iter().map(|d| d.as_ref()).collect();
    feed_locked(&mut trainer, &documents, &parts).map(|()| true)
}

fn feed_locked<P: bpe_core::Parts<Error = bpe_core::Error>>(
    trainer: &mut Trainer,
    documents: &[&[u8]],
    parts: &P,
) -> Outcome {
    trainer.feed_parts(documents, parts).map_err(|e| match e {
        bpe_core::Error::Cancelled => Failure::new(
            bpe_status::BPE_ERROR_CANCELLED,
            "feeding was cancelled by bpe_trainer_cancel; the batch was not counted",
        ),
        e => e.into(),
    })
}

/// Hands memory freed by feeding back to the system before the merge loop. Batch tables are
/// built on the worker threads, whose glibc arenas otherwise keep the freed pages, so the
/// merge loop's memory would come on top of them. (Trimming after every batch would cost
/// more: the next batch faults the same pages back in.)
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: malloc_trim only returns free memory to the system; it takes no pointers.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Makes a feed or train running on another thread stop soon with BPE_ERROR_CANCELLED.
///
/// Safe to call from any thread at any time, including from a progress callback, and it
/// never waits. It affects only a call that is running: each feed and train clears the
/// request when it starts, so a cancel that comes before (or while no call is running) is
/// forgotten. A cancelled train returns no vocabulary; a cancelled feed counts nothing;
/// the trainer stays usable either way.
#[no_mangle]
pub unsafe extern "C" fn bpe_trainer_cancel(trainer: *const bpe_trainer) -> bpe_status {
    guard(|| {
        deref(trainer, "trainer")?
            .cancel
            .store(true, Ordering::Relaxed);
        Ok(())
    })
}

/// Writes what has been fed so far: the number of documents, their total bytes, and the
/// number of distinct chunks. Any of the three out-pointers may be NULL to skip it.
#[no_mangle]
pub unsafe extern "C" fn bpe_trainer_stats(
    trainer: *const bpe_trainer,
    documents: *mut u64,
    bytes: *mut u64,
    unique_chunks: *mut u64,
) -> bpe_status {
    guard(|| {
        let trainer = deref(trainer, "trainer")?.lock()?;
        let counts = trainer.counts();
        if let Some(d) = documents.as_mut() {
            *d = counts.documents();
        }
        if let Some(b) = bytes.as_mut() {
            *b = counts.bytes();
        }
        if let Some(u) = unique_chunks.as_mut() {
            *u = counts.len() as u64;
        }
        Ok(())
    })
}

/// Learns a vocabulary of `vocab_size` ids from everything fed so far and writes it to
/// `out`; the caller frees it with bpe_vocab_free().
///
/// The ids are: the 256 single bytes (0..255), then the merges in the order learnt, then
/// the `special_count` special tokens in the order given, which take the last ids. So
/// `vocab_size` counts the special tokens and must be at least 256 + `special_count`
/// (otherwise BPE_ERROR_VOCAB_SIZE). Training stops early, without error, when no pair is
/// left to merge. The result is exactly rustbpe's, and tiktoken encodes with it exactly as
/// bpe_encoder does.
///
/// - `special_tokens`: `special_count` UTF-8 names, non-empty and distinct (otherwise
///   BPE_ERROR_SPECIAL_TOKEN, checked before any work); NULL only when `special_count` is 0.
///   Copied.
/// - `progress`: may be NULL; see bpe_progress_callback. `user_data` is passed to it
///   untouched and may be NULL.
///
/// Training may be repeated, and documents fed after it are added to the counts. Training
/// blocks the calling thread; bpe_trainer_cancel() from another thread, or the callback
/// returning false, stops it with BPE_ERROR_CANCELLED.
#[no_mangle]
pub unsafe extern "C" fn bpe_trainer_train(
    trainer: *mut bpe_trainer,
    vocab_size: u32,
    special_tokens: *const bpe_bytes,
    special_count: usize,
    progress: bpe_progress_callback,
    user_data: *mut c_void,
    out: *mut *mut bpe_vocab,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let handle = deref(trainer, "trainer")?;
        let specials = utf8_strings(
            special_tokens,
            special_count,
            "special_tokens",
            bpe_status::BPE_ERROR_SPECIAL_TOKEN,
        )?;
        check_specials(&specials)?;
        let mut trainer = handle.lock()?;
        release_free_memory();
        let mut reporter = Progress {
            callback: progress,
            user_data,
            last_call: None,
            last_seen: None,
            last_reported: None,
            refused: false,
        };
        let cancelled = |refused: bool| {
            Failure::new(
                bpe_status::BPE_ERROR_CANCELLED,
                if refused {
                    "training was cancelled: the progress callback returned false"
                } else {
                    "training was cancelled by bpe_trainer_cancel"
                },
            )
        };
        let trained = trainer.train(vocab_size, &specials, &mut |p| reporter.merged(p));
        let vocab = trained.map_err(|e| match e {
            bpe_core::Error::Cancelled => cancelled(reporter.refused),
            e => e.into(),
        })?;
        // train has checked that vocab_size covers the bytes and the special tokens.
        let total = vocab_size - 256 - specials.len() as u32;
        if !reporter.finished(total) {
            return Err(cancelled(true));
        }
        *out = Box::into_raw(bpe_vocab::new(vocab));
        Ok(())
    })
}

/// Rejects special tokens that could never make a vocabulary, before the merge loop
/// spends minutes on one.
fn check_specials(specials: &[&str]) -> Result<(), Failure> {
    let mut seen = HashSet::new();
    for (i, s) in specials.iter().enumerate() {
        let problem = if s.is_empty() {
            "is the empty string"
        } else if !seen.insert(s) {
            "appears twice"
        } else {
            continue;
        };
        return Err(Failure::new(
            bpe_status::BPE_ERROR_SPECIAL_TOKEN,
            format!("special_tokens[{i}] {s:?} {problem}"),
        ));
    }
    Ok(())
}

/// Frees a trainer and its counts. NULL is ignored. No call may be using it on another
/// thread, bpe_trainer_cancel() included. Vocabularies it trained stay valid.
#[no_mangle]
pub unsafe extern "C" fn bpe_trainer_free(trainer: *mut bpe_trainer) {
    guard_void(|| {
        if !trainer.is_null() {
            drop(Box::from_raw(trainer));
        }
    })
}
