//! Byte and id buffers that cross the boundary, and the checks that turn C pointers into
//! Rust slices and strings.

use crate::status::{guard_void, Failure};
use std::ffi::{c_char, CStr};
use std::ptr;

/// A borrowed byte string: `len` bytes at `ptr`, which may contain NUL.
///
/// As an argument, the caller owns the bytes and they need only stay valid for the
/// duration of the call; `ptr` may be NULL only when `len` is 0. As an out-parameter
/// (bpe_vocab_token(), bpe_vocab_special_token()), the bytes belong to the vocabulary
/// and stay valid until it is freed; do not free them.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct bpe_bytes {
    /// The first byte.
    pub ptr: *const u8,
    /// The number of bytes.
    pub len: usize,
}

/// Token ids written by an encode function: `len` ids at `ids`.
///
/// Owned by the caller once the function succeeds; release it with bpe_ids_free(), which
/// frees the ids exactly once. `ids` is not NULL after success, even when `len` is 0 (then
/// it points to no element and must not be dereferenced). Do not change `ids` or `len`
/// before freeing.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct bpe_ids {
    /// The ids, in order.
    pub ids: *mut u32,
    /// The number of ids.
    pub len: usize,
}

/// The ids of many texts, written by a batch encode function, in one allocation.
///
/// Text `i` has the ids `ids[offsets[i]]` up to (not including) `ids[offsets[i + 1]]`;
/// `offsets` has `count + 1` entries, the first 0 and the last `len`. Owned by the caller
/// once the function succeeds; release it with bpe_ids_batch_free(). Neither pointer is
/// NULL after success. Do not change the fields before freeing.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct bpe_ids_batch {
    /// The ids of every text, one after another.
    pub ids: *mut u32,
    /// The total number of ids.
    pub len: usize,
    /// Where each text's ids start, plus a final entry equal to `len`.
    pub offsets: *mut usize,
    /// The number of texts.
    pub count: usize,
}

/// Bytes written by libbpe (decoded text, a tiktoken file): `len` bytes at `ptr`.
///
/// Owned by the caller once the function succeeds; release it with bpe_buffer_free().
/// `ptr` is not NULL after success, even when `len` is 0. The bytes are not
/// NUL-terminated and may contain NUL.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct bpe_buffer {
    /// The first byte.
    pub ptr: *mut u8,
    /// The number of bytes.
    pub len: usize,
}

/// Leaks a boxed slice as a raw pointer for C; [`reclaim`] takes it back. An empty slice
/// gives a dangling, non-NULL, aligned pointer, so callers never see NULL on success.
fn release<T>(v: Vec<T>) -> (*mut T, usize) {
    let b = v.into_boxed_slice();
    let len = b.len();
    (Box::into_raw(b).cast::<T>(), len)
}

/// Frees what [`release`] gave out. NULL (already freed) is ignored.
///
/// # Safety
/// `p` and `len` must come from one call of [`release`] and not have been reclaimed yet.
unsafe fn reclaim<T>(p: *mut T, len: usize) {
    if !p.is_null() {
        drop(Box::from_raw(ptr::slice_from_raw_parts_mut(p, len)));
    }
}

impl bpe_ids {
    pub(crate) fn from_vec(v: Vec<u32>) -> Self {
        let (ids, len) = release(v);
        bpe_ids { ids, len }
    }
}

impl bpe_ids_batch {
    pub(crate) fn from_vecs(texts: Vec<Vec<u32>>) -> Self {
        let mut offsets = Vec::with_capacity(texts.len() + 1);
        let mut ids = Vec::with_capacity(texts.iter().map(Vec::len).sum());
        offsets.push(0);
        for t in &texts {
            ids.extend_from_slice(t);
            offsets.push(ids.len());
        }
        let count = texts.len();
        let (ids, len) = release(ids);
        let (offsets, _) = release(offsets);
        bpe_ids_batch {
            ids,
            len,
            offsets,
            count,
        }
    }
}

impl bpe_buffer {
    pub(crate) fn from_vec(v: Vec<u8>) -> Self {
        let (ptr, len) = release(v);
        bpe_buffer { ptr, len }
    }
}

/// Frees the ids of a bpe_ids and sets it to `{NULL, 0}`.
///
/// `ids` may be NULL, and freeing a bpe_ids twice is harmless because the first call
/// clears it. Only pass what an encode function wrote.
#[no_mangle]
pub unsafe extern "C" fn bpe_ids_free(ids: *mut bpe_ids) {
    guard_void(|| {
        if let Some(ids) = ids.as_mut() {
            reclaim(ids.ids, ids.len);
            ids.ids = ptr::null_mut();
            ids.len = 0;
        }
    })
}

/// Frees both arrays of a bpe_ids_batch and sets it to `{NULL, 0, NULL, 0}`.
///
/// `batch` may be NULL, and freeing twice is harmless. Only pass what a batch encode
/// function wrote.
#[no_mangle]
pub unsafe extern "C" fn bpe_ids_batch_free(batch: *mut bpe_ids_batch) {
    guard_void(|| {
        if let Some(batch) = batch.as_mut() {
            reclaim(batch.ids, batch.len);
            reclaim(batch.offsets, batch.count + 1);
            *batch = bpe_ids_batch {
                ids: ptr::null_mut(),
                len: 0,
                offsets: ptr::null_mut(),
                count: 0,
            };
        }
    })
}

/// Frees the bytes of a bpe_buffer and sets it to `{NULL, 0}`.
///
/// `buffer` may be NULL, and freeing twice is harmless. Only pass what libbpe wrote.
#[no_mangle]
pub unsafe extern "C" fn bpe_buffer_free(buffer: *mut bpe_buffer) {
    guard_void(|| {
        if let Some(buffer) = buffer.as_mut() {
            reclaim(buffer.ptr, buffer.len);
            buffer.ptr = ptr::null_mut();
            buffer.len = 0;
        }
    })
}

/// `len` bytes at `p`, which may be NULL only when `len` is 0.
///
/// # Safety
/// A non-NULL `p` must point to `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize, what: &str) -> Result<&'a [u8], Failure> {
    if len == 0 {
        Ok(&[])
    } else if p.is_null() {
        Err(Failure::null(&format!("{what} (with length {len})")))
    } else {
        Ok(std::slice::from_raw_parts(p, len))
    }
}

/// `count` items at `p`, which may be NULL only when `count` is 0.
///
/// # Safety
/// A non-NULL `p` must point to `count` readable items that outlive `'a`.
pub(crate) unsafe fn array<'a, T>(
    p: *const T,
    count: usize,
    what: &str,
) -> Result<&'a [T], Failure> {
    if count == 0 {
        Ok(&[])
    } else if p.is_null() {
        Err(Failure::null(&format!("{what} (with count {count})")))
    } else {
        Ok(std::slice::from_raw_parts(p, count))
    }
}

/// The byte strings of an array of bpe_bytes; `what` names the array in messages.
///
/// # Safety
/// As for [`array`] and [`bytes`], for the array and each of its entries.
pub(crate) unsafe fn byte_strings<'a>(
    p: *const bpe_bytes,
    count: usize,
    what: &str,
) -> Result<Vec<&'a [u8]>, Failure> {
    array(p, count, what)?
        .iter()
        .enumerate()
        .map(|(i, b)| {
            // The entry's name is made only for the message: formatting it for every entry
            // took 14 of the 43 ms that making a vocabulary of o200k_base's 200k tokens
            // took, and a string per document of every batch fed.
            if b.ptr.is_null() && b.len != 0 {
                return Err(Failure::null(&format!(
                    "{what}[{i}].ptr (with length {})",
                    b.len
                )));
            }
            bytes(b.ptr, b.len, what)
        })
        .collect()
}

/// The UTF-8 strings of an array of bpe_bytes; a string that is not UTF-8 is an error
/// with status `status`.
///
/// # Safety
/// As for [`byte_strings`].
pub(crate) unsafe fn utf8_strings<'a>(
    p: *const bpe_bytes,
    count: usize,
    what: &str,
    status: crate::bpe_status,
) -> Result<Vec<&'a str>, Failure> {
    byte_strings(p, count, what)?
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            std::str::from_utf8(b).map_err(|e| {
                Failure::new(
                    status,
                    format!(
                        "{what}[{i}] is not valid UTF-8 (first bad byte at offset {})",
                        e.valid_up_to()
                    ),
                )
            })
        })
        .collect()
}

/// A NUL-terminated UTF-8 string, or `None` for NULL.
///
/// # Safety
/// A non-NULL `p` must point to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn optional_c_str<'a>(
    p: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(p).to_str().map(Some).map_err(|e| {
        Failure::invalid(format!(
            "{what} is not valid UTF-8 (first bad byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// A NUL-terminated UTF-8 string that must not be NULL.
///
/// # Safety
/// As for [`optional_c_str`].
pub(crate) unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    optional_c_str(p, what)?.ok_or_else(|| Failure::null(what))
}

/// A reference to what a handle or argument pointer points to, or a NULL-pointer failure.
///
/// # Safety
/// A non-NULL `p` must point to a live `T` that outlives `'a`.
pub(crate) unsafe fn deref<'a, T>(p: *const T, what: &str) -> Result<&'a T, Failure> {
    p.as_ref().ok_or_else(|| Failure::null(what))
}

/// Checks that an out-parameter is not NULL, before any work is done.
pub(crate) fn out_ptr<T>(p: *mut T, what: &str) -> Result<*mut T, Failure> {
    if p.is_null() {
        Err(Failure::null(what))
    } else {
        Ok(p)
    }
}
