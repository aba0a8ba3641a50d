//! Exact byte-level BPE: train a vocabulary from documents, save it in tiktoken's format,
//! and encode text with it.
//!
//! Data flows one way: documents → [`pretokenize`] (chunks) → [`count`] (chunk counts) →
//! [`merge`] (the merge loop) → [`vocab`] (the vocabulary) → [`encode`] (ids).
//!
//! Training gives exactly the merges of rustbpe 0.1.0: the pair with the highest count wins,
//! ties go to the smallest `(left_id, right_id)`, bytes are ids 0..255 and merge `k` is id
//! `256 + k`. Encoding gives exactly tiktoken's ids.
//!
//! ```
//! use bpe_core::{Allowed, Encoder, Trainer, NANOCHAT_PATTERN};
//!
//! let mut trainer = Trainer::new(NANOCHAT_PATTERN, 0)?;
//! trainer.feed(&[b"the cat sat on the mat".as_slice(), b"the end".as_slice()])?;
//! let vocab = trainer.train(300, &["<|bos|>"], &mut |_| true)?;
//!
//! let encoder = Encoder::new(&vocab)?;
//! let ids = encoder.encode("<|bos|>the cat", Allowed::All)?;
//! assert_eq!(ids[0], vocab.special_token("<|bos|>").unwrap());
//! assert_eq!(encoder.decode(&ids)?, b"<|bos|>the cat");
//! # Ok::<(), bpe_core::Error>(())
//! ```

pub mod count;
pub mod encode;
pub mod error;
pub mod merge;
mod packed;
pub mod pretokenize;
pub mod threads;
pub mod trainer;
pub mod vocab;

pub use count::Parts;
pub use encode::{Allowed, Encoder};
pub use error::{Error, Result};
pub use merge::{MergeProgress, Pair};
pub use pretokenize::{
    preset, Pretokenizer, CL100K_TIKTOKEN_PATTERN, GPT2_PATTERN, GPT4_PATTERN, NANOCHAT_PATTERN,
    O200K_PATTERN, R50K_TIKTOKEN_PATTERN,
};
pub use trainer::Trainer;
pub use vocab::Vocabulary;

/// The version of this crate.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
