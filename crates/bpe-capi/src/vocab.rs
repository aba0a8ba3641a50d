//! bpe_vocab: a vocabulary (ranks, split pattern, special tokens) loaded, parsed, built
//! from tokens or trained; saved in tiktoken's format.

use crate::buffers::{
    array, bpe_buffer, bpe_bytes, byte_strings, bytes, c_str, deref, optional_c_str, out_ptr,
    utf8_strings,
};
use crate::status::{bpe_status, guard, guard_void, Failure};
use bpe_core::{vocab::parse_tiktoken, Vocabulary, GPT4_PATTERN};
use std::ffi::{c_char, CString};
use std::path::Path;

/// A vocabulary: the bytes of every rank, the split pattern, and the special tokens.
///
/// Created by bpe_vocab_load(), bpe_vocab_parse(), bpe_vocab_from_tokens() or
/// bpe_trainer_train(); owned by the caller, who frees it with bpe_vocab_free(). A
/// vocabulary never changes after it is created, so one handle may be used from many
/// threads at once.
#[allow(non_camel_case_types)]
pub struct bpe_vocab {
    pub(crate) vocab: Vocabulary,
    /// The pattern again, NUL-terminated, for bpe_vocab_pattern().
    pattern: CString,
}

impl bpe_vocab {
    pub(crate) fn new(vocab: Vocabulary) -> Box<Self> {
        // The pattern came in as a C string or a preset, so it has no NUL.
        let pattern = CString::new(vocab.pattern()).unwrap_or_default();
        Box::new(bpe_vocab { vocab, pattern })
    }
}

/// The special tokens given as two parallel arrays.
unsafe fn special_tokens(
    names: *const bpe_bytes,
    ids: *const u32,
    count: usize,
) -> Result<Vec<(String, u32)>, Failure> {
    let names = utf8_strings(
        names,
        count,
        "special_names",
        bpe_status::BPE_ERROR_SPECIAL_TOKEN,
    )?;
    let ids = array(ids, count, "special_ids")?;
    Ok(names
        .into_iter()
        .zip(ids)
        .map(|(n, &id)| (n.to_string(), id))
        .collect())
}

unsafe fn pattern_or_default<'a>(pattern: *const c_char) -> Result<&'a str, Failure> {
    Ok(optional_c_str(pattern, "pattern")?.unwrap_or(GPT4_PATTERN))
}

/// Loads a vocabulary from a tiktoken file, plain or gzipped (one `base64(token) rank`
/// line per rank, the format of tiktoken's `.tiktoken` files).
///
/// - `path`: NUL-terminated UTF-8 path; must not be NULL.
/// - `pattern`: NUL-terminated UTF-8 split pattern, or NULL for GPT-4's (cl100k_base)
///   pattern. A tiktoken file does not store its pattern, so pass the one it was made with.
/// - `special_names`, `special_ids`: `special_count` special tokens and their ids, which
///   must lie outside the ranks; both may be NULL when `special_count` is 0.
/// - `out`: on success, receives a new vocabulary that the caller frees with
///   bpe_vocab_free().
///
/// Errors: BPE_ERROR_IO (the message has the path), BPE_ERROR_VOCABULARY (the message has
/// the line number), BPE_ERROR_PATTERN, BPE_ERROR_SPECIAL_TOKEN.
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_load(
    path: *const c_char,
    pattern: *const c_char,
    special_names: *const bpe_bytes,
    special_ids: *const u32,
    special_count: usize,
    out: *mut *mut bpe_vocab,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let path = c_str(path, "path")?;
        let pattern = pattern_or_default(pattern)?;
        let specials = special_tokens(special_names, special_ids, special_count)?;
        check_pattern(pattern)?;
        let vocab = Vocabulary::load_tiktoken(Path::new(path), pattern, specials)?;
        *out = Box::into_raw(bpe_vocab::new(vocab));
        Ok(())
    })
}

/// Like bpe_vocab_load(), from the `len` bytes of a tiktoken file at `data` (plain or
/// gzipped) already in memory. `data` may be NULL only when `len` is 0, and is not kept.
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_parse(
    data: *const u8,
    len: usize,
    pattern: *const c_char,
    special_names: *const bpe_bytes,
    special_ids: *const u32,
    special_count: usize,
    out: *mut *mut bpe_vocab,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let data = bytes(data, len, "data")?;
        let pattern = pattern_or_default(pattern)?;
        let specials = special_tokens(special_names, special_ids, special_count)?;
        check_pattern(pattern)?;
        let vocab = Vocabulary::new(parse_tiktoken(data)?, pattern, specials)?;
        *out = Box::into_raw(bpe_vocab::new(vocab));
        Ok(())
    })
}

/// Builds a vocabulary from the bytes of each rank: `tokens[i]` is rank `i`.
///
/// The tokens must be distinct and non-empty, and every single byte must be one of them
/// (otherwise BPE_ERROR_VOCABULARY). The bytes are copied; `tokens` need only stay valid
/// for the call. `pattern`, the special tokens and `out` are as for bpe_vocab_load().
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_from_tokens(
    tokens: *const bpe_bytes,
    count: usize,
    pattern: *const c_char,
    special_names: *const bpe_bytes,
    special_ids: *const u32,
    special_count: usize,
    out: *mut *mut bpe_vocab,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let tokens = byte_strings(tokens, count, "tokens")?
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        let pattern = pattern_or_default(pattern)?;
        let specials = special_tokens(special_names, special_ids, special_count)?;
        check_pattern(pattern)?;
        let vocab = Vocabulary::new(tokens, pattern, specials)?;
        *out = Box::into_raw(bpe_vocab::new(vocab));
        Ok(())
    })
}

/// Compiles the pattern once so that a bad one is reported when the vocabulary is made,
/// not later by bpe_encoder_new().
fn check_pattern(pattern: &str) -> Result<(), Failure> {
    bpe_core::Pretokenizer::new(pattern)?;
    Ok(())
}

/// Saves the ranks of `vocab` to the file `path` (NUL-terminated UTF-8) in tiktoken's
/// format, replacing the file if it exists. Special tokens and the pattern are not part of
/// the format and are not saved. Errors: BPE_ERROR_IO, with the path in the message.
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_save(
    vocab: *const bpe_vocab,
    path: *const c_char,
) -> bpe_status {
    guard(|| {
        let vocab = deref(vocab, "vocab")?;
        let path = c_str(path, "path")?;
        vocab.vocab.save_tiktoken(Path::new(path))?;
        Ok(())
    })
}

/// Writes the bytes bpe_vocab_save() would write into a new buffer, which the caller
/// frees with bpe_buffer_free().
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_to_tiktoken(
    vocab: *const bpe_vocab,
    out: *mut bpe_buffer,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let vocab = deref(vocab, "vocab")?;
        let mut data = Vec::new();
        vocab
            .vocab
            .write_tiktoken(&mut data)
            .map_err(|e| Failure::new(bpe_status::BPE_ERROR_IO, e.to_string()))?;
        *out = bpe_buffer::from_vec(data);
        Ok(())
    })
}

/// Writes the number of ranks (mergeable tokens) to `out`; special tokens are not
/// counted. Ranks are the ids `0 .. *out - 1`.
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_len(vocab: *const bpe_vocab, out: *mut usize) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = deref(vocab, "vocab")?.vocab.len();
        Ok(())
    })
}

/// Writes one more than the highest id, special tokens included, to `out` (tiktoken's
/// `n_vocab`).
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_n_vocab(vocab: *const bpe_vocab, out: *mut u32) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = deref(vocab, "vocab")?.vocab.n_vocab();
        Ok(())
    })
}

/// Writes the bytes of token `id` to `out`: a rank's bytes, or a special token's UTF-8.
///
/// The bytes belong to the vocabulary and stay valid until it is freed. An id that is
/// neither a rank nor a special token gives BPE_ERROR_UNKNOWN_ID.
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_token(
    vocab: *const bpe_vocab,
    id: u32,
    out: *mut bpe_bytes,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let vocab = deref(vocab, "vocab")?;
        let t = vocab
            .vocab
            .token_bytes(id)
            .ok_or(bpe_core::Error::UnknownId(id))?;
        *out = bpe_bytes {
            ptr: t.as_ptr(),
            len: t.len(),
        };
        Ok(())
    })
}

/// Writes the bytes of every rank at once: concatenated in rank order into a new buffer
/// `out`, which the caller frees with bpe_buffer_free(), with where each rank's bytes end in
/// it written to `ends`, an array of `count` entries. Rank `i` is the bytes from `ends[i - 1]`
/// (0 for rank 0) up to `ends[i]`. `count` must be the number of ranks, bpe_vocab_len()
/// (otherwise BPE_ERROR_INVALID_ARGUMENT). One call instead of one bpe_vocab_token() per
/// rank, for bindings whose calls are expensive.
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_tokens(
    vocab: *const bpe_vocab,
    ends: *mut usize,
    count: usize,
    out: *mut bpe_buffer,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let ends = out_ptr(ends, "ends")?;
        let tokens = deref(vocab, "vocab")?.vocab.tokens();
        if count != tokens.len() {
            return Err(Failure::invalid(format!(
                "count is {count} but the vocabulary has {} ranks",
                tokens.len()
            )));
        }
        let ends = std::slice::from_raw_parts_mut(ends, count);
        let mut data = Vec::with_capacity(tokens.iter().map(Vec::len).sum());
        for (end, t) in ends.iter_mut().zip(tokens) {
            data.extend_from_slice(t);
            *end = data.len();
        }
        *out = bpe_buffer::from_vec(data);
        Ok(())
    })
}

/// Writes the vocabulary's split pattern to `out`: a NUL-terminated UTF-8 string that
/// belongs to the vocabulary and stays valid until it is freed.
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_pattern(
    vocab: *const bpe_vocab,
    out: *mut *const c_char,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = deref(vocab, "vocab")?.pattern.as_ptr();
        Ok(())
    })
}

/// Writes the number of special tokens to `out`.
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_special_count(
    vocab: *const bpe_vocab,
    out: *mut usize,
) -> bpe_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = deref(vocab, "vocab")?.vocab.special_tokens().len();
        Ok(())
    })
}

/// Writes the name and id of special token number `index` (`0 <= index <
/// bpe_vocab_special_count()`, in the order they were given) to `name` and `id`.
///
/// The name's bytes belong to the vocabulary and stay valid until it is freed. An index out
/// of range gives BPE_ERROR_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_special_token(
    vocab: *const bpe_vocab,
    index: usize,
    name: *mut bpe_bytes,
    id: *mut u32,
) -> bpe_status {
    guard(|| {
        let name = out_ptr(name, "name")?;
        let id = out_ptr(id, "id")?;
        let specials = deref(vocab, "vocab")?.vocab.special_tokens();
        let (n, i) = specials.get(index).ok_or_else(|| {
            Failure::invalid(format!(
                "special token index {index} is out of range (the vocabulary has {})",
                specials.len()
            ))
        })?;
        *name = bpe_bytes {
            ptr: n.as_ptr(),
            len: n.len(),
        };
        *id = *i;
        Ok(())
    })
}

/// Writes the id of the special token whose name is the `len` bytes at `name` to `id`.
/// `name` may be NULL only when `len` is 0. No such special token gives
/// BPE_ERROR_SPECIAL_TOKEN.
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_special_id(
    vocab: *const bpe_vocab,
    name: *const u8,
    len: usize,
    id: *mut u32,
) -> bpe_status {
    guard(|| {
        let id = out_ptr(id, "id")?;
        let vocab = deref(vocab, "vocab")?;
        let name = bytes(name, len, "name")?;
        let found = std::str::from_utf8(name)
            .ok()
            .and_then(|n| vocab.vocab.special_token(n));
        *id = found.ok_or_else(|| {
            Failure::new(
                bpe_status::BPE_ERROR_SPECIAL_TOKEN,
                format!(
                    "the vocabulary has no special token {:?}",
                    String::from_utf8_lossy(name)
                ),
            )
        })?;
        Ok(())
    })
}

/// Frees a vocabulary. NULL is ignored. Encoders made from it stay valid (they hold their
/// own copy); pointers borrowed from it (bpe_vocab_token(), bpe_vocab_pattern(),
/// bpe_vocab_special_token()) become invalid.
#[no_mangle]
pub unsafe extern "C" fn bpe_vocab_free(vocab: *mut bpe_vocab) {
    guard_void(|| {
        if !vocab.is_null() {
            drop(Box::from_raw(vocab));
        }
    })
}
