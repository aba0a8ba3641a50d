//! The C ABI of libbpe: train, load, save, encode and decode byte-level BPE vocabularies
//! from C (and from Python through cffi).
//!
//! This crate is only the boundary; the work is done by `bpe_core`. Each module wraps one
//! handle type: [`trainer`] (`bpe_trainer`), [`vocab`] (`bpe_vocab`), [`encoder`]
//! (`bpe_encoder`); [`buffers`] holds the byte and id buffers that cross the boundary, and
//! [`status`] the status codes, the thread-local error message and the `guard` that every
//! exported function runs in, so that no panic unwinds into C.
//!
//! The header `include/bpe.h` is generated from these files by cbindgen
//! (`scripts/gen-header`); the doc comments here are its documentation, written for C
//! readers.

// The safety contract every exported function shares (pointers valid for the sizes given,
// handles made by libbpe and not yet freed) is stated once at the top of the header.
#![allow(clippy::missing_safety_doc)]

// The header lists items in the order of these modules, so they follow the data:
// statuses and buffers first, then trainer → vocabulary → encoder.
pub mod status;

pub mod buffers;

pub mod trainer;

pub mod vocab;

pub mod encoder;

/// The Python package's own functions: not part of the C ABI (cffi could not parse them).
/// cbindgen:ignore
#[cfg(feature = "python")]
pub mod python;

/// UTF-8 from a `str`'s code points, for the Python package's feed.
mod wide;

pub use buffers::{bpe_buffer, bpe_bytes, bpe_ids, bpe_ids_batch};
pub use encoder::bpe_encoder;
pub use status::bpe_status;
pub use trainer::{bpe_progress_callback, bpe_trainer};
pub use vocab::bpe_vocab;

use std::ffi::c_char;

/// libbpe's version, e.g. "0.1.0": a static NUL-terminated string; never free it.
#[no_mangle]
pub unsafe extern "C" fn bpe_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
