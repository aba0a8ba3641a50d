//! Thread pools, as every part of the crate takes them: a number of threads, where 0 means
//! rayon's global pool (one thread per core).

use crate::error::{Error, Result};

/// A new pool of `threads` threads (at least one).
pub fn build(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::State(format!("cannot start {threads} threads: {e}")))
}

/// A pool of `threads` threads, or `None` for 0: rayon's global pool.
pub fn pool(threads: usize) -> Result<Option<rayon::ThreadPool>> {
    (threads > 0).then(|| build(threads)).transpose()
}

/// Runs `f` on `pool`; without one, on the current pool (rayon's global pool, unless the
/// caller already runs on another).
pub fn install<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}
