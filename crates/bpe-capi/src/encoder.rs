//! bpe_encoder: text to ids and back with a vocabulary, giving exactly tiktoken's ids.

use crate::buffers::{
    array, bpe_buffer, bpe_bytes, bpe_ids, bpe_ids_batch, byte_strings, bytes, deref, out_ptr,
};
use crate::status::{bpe_status, guard, guard_void, Failure};
use crate::vocab::bpe_vocab;
use bpe_core::{Allowed, Encoder};
use std::sync::Arc;

/// An encoder for one vocabulary.
///
/// Created by bpe_encoder_new() and freed with bpe_encoder_free(). An encoder never
/// changes after it is created: one handle may be used from many threads at once, with no
/// locking by the caller.
#[allow(non_camel_case_types)]
pub struct bpe_encoder {
    /// Shared with the Python package's encode functions (`python.rs`), which keep it for
    /// as long as they live, however early the handle is freed.
    pub(crate) encoder: Arc<Encoder>,
}

/// Text that must be UTF-8: `what` names it in the message, and `document` is its index
/// in a batch, if it is in one.
fn utf8<'a>(text: &'a [u8], what: &str, document: Option<usize>) -> Result<&'a str, Failure> {
    std::str::from_utf8(text).map_err(|e| Failure {
        document,
        ..Failure::new(
            bpe_status::BPE_ERROR_INVALID_UTF8,
            format!(
                "{what} is not valid UTF-8 (first bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

unsafe fn texts<'a>(texts: *const bpe_bytes, count: usize) -> Result<Vec<&'a str>, Failure> {
    byte_strings(texts, count, "texts")?
        .into_iter()
        .enumerate()
        .map(|(i, t)| utf8(t, &format!("document {i}"), Some(i)))
        .collect()
}

/// The allowed special tokens: NULL means all of them. Names that are not UTF-8 cannot
/// be special tokens and are skipped, as names the vocabulary does not have are.
unsafe fn allowed<'a>(
    names: *const bpe_bytes,
    count: usize,
) -> Result<Option<Vec<&'a str>>, Failure> {
    if names.is_null() {
        return Ok(None);
    }
    Ok(Some(
        byte_strings(names, count, "allowed_special")?
            .into_iter()
            .filter_map(|n| std::str::from_utf8(n).ok())
            .collect(),
    ))
}

fn as_allowed<'a>(names: &'a Option<Vec<&'a str>>) -> Allowed<'a> {
    match names {
        None => Allowed::All,
        Some(list) => Allowed::Only(list),
    }
}

/// Builds an encoder for `vocab` and writes it to `out`; the caller frees it with
/// bpe_encoder_free().
///
/// The encoder copies what it needs, so the vocabulary may be freed right afterwards.
/// Building one takes a moment for a large vocabulary (hash tables of every rank): make it
/// once and reuse it.
#[no_mangle]
pub unsafe extern "C" fn bpe_encoder_new(
    vocab: *const bpe_vocab,
    out: *mut *mut bpe_encoder,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let vocab = deref(vocab, "vocab")?;
        let encoder = Encoder::new(&vocab.vocab)?;
        *out = Box::into_raw(Box::new(bpe_encoder {
            encoder: Arc::new(encoder),
        }));
        Ok(())
    })
}

/// Writes one more than the highest id, special tokens included, to `out`.
#[no_mangle]
pub unsafe extern "C" fn bpe_encoder_n_vocab(
    encoder: *const bpe_encoder,
    out: *mut u32,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = deref(encoder, "encoder")?.encoder.n_vocab();
        Ok(())
    })
}

/// Encodes the `len` bytes of UTF-8 text at `text` as ordinary text: special tokens in it
/// are encoded like any other text (tiktoken's `encode_ordinary`).
///
/// `text` may be NULL only when `len` is 0, and need only stay valid for the call. On
/// success `out` receives the ids, which the caller frees with bpe_ids_free(). Text that
/// is not UTF-8 gives BPE_ERROR_INVALID_UTF8 with the offset of the first bad byte.
#[no_mangle]
pub unsafe extern "C" fn bpe_encoder_encode_ordinary(
    encoder: *const bpe_encoder,
    text: *const u8,
    len: usize,
    out: *mut bpe_ids,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let encoder = deref(encoder, "encoder")?;
        let text = utf8(bytes(text, len, "text")?, "the text", None)?;
        *out = bpe_ids::from_vec(encoder.encoder.encode_ordinary(text)?);
        Ok(())
    })
}

/// Encodes text, turning the allowed special tokens it contains into their ids
/// (tiktoken's `encode` with `allowed_special`).
///
/// `allowed_special` lists `allowed_count` names of special tokens to recognise; NULL
/// means every special token of the vocabulary, and a non-NULL array with
/// `allowed_count` 0 means none. Names the vocabulary does not have are ignored. Where two
/// allowed special tokens start at the same place, the longer wins. Special tokens that
/// are not allowed are encoded as ordinary text (no error). Otherwise as
/// bpe_encoder_encode_ordinary().
#[no_mangle]
pub unsafe extern "C" fn bpe_encoder_encode(
    encoder: *const bpe_encoder,
    text: *const u8,
    len: usize,
    allowed_special: *const bpe_bytes,
    allowed_count: usize,
    out: *mut bpe_ids,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let encoder = deref(encoder, "encoder")?;
        let text = utf8(bytes(text, len, "text")?, "the text", None)?;
        let names = allowed(allowed_special, allowed_count)?;
        *out = bpe_ids::from_vec(encoder.encoder.encode(text, as_allowed(&names))?);
        Ok(())
    })
}

/// Encodes text whose end may still change, as when a model is about to continue it
/// (tiktoken's `encode_with_unstable`): writes to `ids` the ids of the text up to its last
/// chunk, whose tokens more text could change, and to `completions` the possible ids of
/// that chunk's bytes and what may follow them, each once, in increasing order, as
/// tiktoken finds them. A text that ends with an allowed special token has no unstable
/// end, and no completions. The caller frees both outputs, with bpe_ids_free() and
/// bpe_ids_batch_free(). `allowed_special` is as for bpe_encoder_encode().
#[no_mangle]
pub unsafe extern "C" fn bpe_encoder_encode_with_unstable(
    encoder: *const bpe_encoder,
    text: *const u8,
    len: usize,
    allowed_special: *const bpe_bytes,
    allowed_count: usize,
    ids: *mut bpe_ids,
    completions: *mut bpe_ids_batch,
) -> bpe_status {
    guard(|| {
        let ids = out_ptr(ids, "ids")?;
        let completions = out_ptr(completions, "completions")?;
        let encoder = deref(encoder, "encoder")?;
        let text = utf8(bytes(text, len, "text")?, "the text", None)?;
        let names = allowed(allowed_special, allowed_count)?;
        let (stable, unstable) = encoder
            .encoder
            .encode_with_unstable(text, as_allowed(&names))?;
        *ids = bpe_ids::from_vec(stable);
        *completions = bpe_ids_batch::from_vecs(unstable);
        Ok(())
    })
}

/// Encodes `count` texts as ordinary text, in parallel on `threads` threads (0: one per
/// core), and writes all their ids to `out`, which the caller frees with
/// bpe_ids_batch_free().
///
/// `texts` may be NULL only when `count` is 0. All or nothing: if any text is not UTF-8
/// (the message names its index and the offset), no ids are written.
#[no_mangle]
pub unsafe extern "C" fn bpe_encoder_encode_ordinary_batch(
    encoder: *const bpe_encoder,
    texts: *const bpe_bytes,
    count: usize,
    threads: usize,
    out: *mut bpe_ids_batch,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let encoder = deref(encoder, "encoder")?;
        let texts = self::texts(texts, count)?;
        let ids = encoder.encoder.encode_ordinary_batch(&texts, threads)?;
        *out = bpe_ids_batch::from_vecs(ids);
        Ok(())
    })
}

/// Like bpe_encoder_encode_ordinary_batch(), recognising the allowed special tokens as
/// bpe_encoder_encode() does.
#[no_mangle]
pub unsafe extern "C" fn bpe_encoder_encode_batch(
    encoder: *const bpe_encoder,
    texts: *const bpe_bytes,
    count: usize,
    allowed_special: *const bpe_bytes,
    allowed_count: usize,
    threads: usize,
    out: *mut bpe_ids_batch,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let encoder = deref(encoder, "encoder")?;
        let texts = self::texts(texts, count)?;
        let names = allowed(allowed_special, allowed_count)?;
        let ids = encoder
            .encoder
            .encode_batch(&texts, as_allowed(&names), threads)?;
        *out = bpe_ids_batch::from_vecs(ids);
        Ok(())
    })
}

/// Decodes `count` ids at `ids` into the bytes they stand for, concatenated, and writes
/// them to `out`, which the caller frees with bpe_buffer_free(). Special tokens decode to
/// their names.
///
/// The bytes need not be UTF-8 (a token may hold part of a character). `ids` may be NULL
/// only when `count` is 0. An id outside the vocabulary gives BPE_ERROR_UNKNOWN_ID.
#[no_mangle]
pub unsafe extern "C" fn bpe_encoder_decode(
    encoder: *const bpe_encoder,
    ids: *const u32,
    count: usize,
    out: *mut bpe_buffer,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let encoder = deref(encoder, "encoder")?;
        let ids = array(ids, count, "ids")?;
        *out = bpe_buffer::from_vec(encoder.encoder.decode(ids)?);
        Ok(())
    })
}

/// Frees an encoder. NULL is ignored. No call may be using it on another thread.
#[no_mangle]
pub unsafe extern "C" fn bpe_encoder_free(encoder: *mut bpe_encoder) {
    guard_void(|| {
        if !encoder.is_null() {
            drop(Box::from_raw(encoder));
        }
    })
}
