//! Short byte strings as integers: the keys of the chunk counts and of the encoder's rank
//! table. Such keys hash with a multiplication or two and compare without a `memcmp`.

/// 1 to 8 bytes as a little-endian `u64`, zero-padded. Two possibly overlapping loads
/// instead of a variable-length copy: where they overlap they read the same bytes into the
/// same positions, so OR-ing them is exact.
#[inline(always)]
pub(crate) fn pack(b: &[u8]) -> u64 {
    let n = b.len();
    debug_assert!((1..=8).contains(&n));
    if n >= 4 {
        let lo = u32::from_le_bytes(b[..4].try_into().unwrap()) as u64;
        let hi = u32::from_le_bytes(b[n - 4..].try_into().unwrap()) as u64;
        lo | hi << (8 * (n - 4))
    } else if n >= 2 {
        let lo = u16::from_le_bytes(b[..2].try_into().unwrap()) as u64;
        let hi = u16::from_le_bytes(b[n - 2..].try_into().unwrap()) as u64;
        lo | hi << (8 * (n - 2))
    } else {
        b[0] as u64
    }
}

/// 1 to 7 bytes with their length in the top byte: distinct strings, distinct keys.
#[inline(always)]
pub(crate) fn pack_with_len(b: &[u8]) -> u64 {
    pack(b) | (b.len() as u64) << 56
}

/// `pack_with_len(&text[at..at + len])` for `len` of 1 to 7, with one 8-byte load and a mask
/// when `text` goes on for 8 bytes from `at` (almost always: a chunk is followed by others).
#[inline(always)]
pub(crate) fn pack_at(text: &[u8], at: usize, len: usize) -> u64 {
    debug_assert!((1..=7).contains(&len));
    match text.get(at..at + 8) {
        Some(word) => {
            let word = u64::from_le_bytes(word.try_into().unwrap());
            word & (u64::MAX >> (64 - 8 * len)) | (len as u64) << 56
        }
        None => pack_with_len(&text[at..at + len]),
    }
}
