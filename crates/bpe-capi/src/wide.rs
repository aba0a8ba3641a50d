//! UTF-8 from code points as CPython keeps a `str`: one, two or four bytes each. The
//! Python package's compiled feed uses this instead of `PyUnicode_AsUTF8AndSize`, which
//! encodes on one thread with the GIL held (and keeps the copy for the string's lifetime):
//! one 100 MB document spent 0.16 s there while every other core waited. Here a long text
//! is encoded in pieces on every core: one pass sizes each piece, a second writes it. (A long
//! `str` that the split pattern can cut is not encoded whole at all: see `LongStrs` in
//! `python.rs`.)

// Without the `python` feature nothing calls this; its tests still run.
#![cfg_attr(not(feature = "python"), allow(dead_code))]

use rayon::prelude::*;

/// A code unit of a `str`: CPython stores a string with the narrowest of these that holds
/// all its code points.
pub(crate) trait CodeUnit: Copy + Sync + Into<u32> {}
impl CodeUnit for u8 {}
impl CodeUnit for u16 {}
impl CodeUnit for u32 {}

/// The text in pieces of this many code points: large enough that splitting costs nothing,
/// small enough that a long document keeps every core busy.
const PIECE: usize = 1 << 20;

/// `units` as UTF-8, a long text encoded on the current rayon pool's threads; `None` if a
/// code point is a surrogate (CPython allows lone ones in a `str`; UTF-8 does not).
pub(crate) fn to_utf8<U: CodeUnit>(units: &[U]) -> Option<Vec<u8>> {
    // Most documents are one piece: encoded here, without a round trip through the pool
    // (which, called from outside it, would wake it and wait).
    if units.len() <= PIECE {
        let mut out = Vec::new();
        append_utf8(units, &mut out)?;
        return Some(out);
    }
    let pieces: Vec<&[U]> = units.chunks(PIECE).collect();
    let sizes: Vec<usize> = pieces
        .par_iter()
        .map(|p| utf8_size(p))
        .collect::<Option<_>>()?;
    // A long text's zeroed buffer comes from the system as untouched pages: zeroing it costs
    // no pass of its own.
    let mut out = vec![0u8; sizes.iter().sum()];
    let mut outs = Vec::with_capacity(pieces.len());
    let mut rest = out.as_mut_slice();
    for &size in &sizes {
        let (piece, after) = rest.split_at_mut(size);
        outs.push(piece);
        rest = after;
    }
    pieces
        .into_par_iter()
        .zip(outs)
        .for_each(|(units, out)| write_utf8(units, out));
    Some(out)
}

/// Appends `units` to `out` as UTF-8; `None`, with `out` as it was, if one is a surrogate.
pub(crate) fn append_utf8<U: CodeUnit>(units: &[U], out: &mut Vec<u8>) -> Option<()> {
    let size = utf8_size(units)?;
    let start = out.len();
    out.resize(start + size, 0);
    write_utf8(units, &mut out[start..]);
    Some(())
}

/// The size of `units` in UTF-8, or `None` if one is a surrogate. Counted in blocks with
/// 32-bit sums and no branches, which the compiler turns into vector code (a plain fold
/// with a `usize` sum took three times as long).
fn utf8_size<U: CodeUnit>(units: &[U]) -> Option<usize> {
    let mut size = units.len();
    let mut surrogates = 0u32;
    for block in units.chunks(4096) {
        let mut extra = 0u32;
        for &u in block {
            let c: u32 = u.into();
            extra += (c >= 0x80) as u32 + (c >= 0x800) as u32 + (c >= 0x1_0000) as u32;
            surrogates |= ((c & !0x7FF) == 0xD800) as u32;
        }
        size += extra as usize;
    }
    (surrogates == 0).then_some(size)
}

/// Writes `units` (no surrogates) as UTF-8 into `out`, which is exactly their size.
fn write_utf8<U: CodeUnit>(units: &[U], out: &mut [u8]) {
    let mut at = 0;
    let mut blocks = units.chunks_exact(16);
    for block in &mut blocks {
        let block: &[U; 16] = block.try_into().unwrap();
        // Most text, even in other scripts, is mostly ASCII (spaces, digits, markup): an
        // ASCII block is narrowed with vector code.
        if block.iter().fold(0, |any: u32, &u| any | u.into()) < 0x80 {
            let to: &mut [u8; 16] = (&mut out[at..at + 16]).try_into().unwrap();
            for (to, &u) in to.iter_mut().zip(block) {
                *to = u.into() as u8;
            }
            at += 16;
        } else {
            for &u in block {
                at = put(u.into(), out, at);
            }
        }
    }
    for &u in blocks.remainder() {
        at = put(u.into(), out, at);
    }
    debug_assert_eq!(at, out.len());
}

/// Writes the code point `c` as UTF-8 at `out[at..]`; where the next one goes.
#[inline(always)]
fn put(c: u32, out: &mut [u8], at: usize) -> usize {
    if c < 0x80 {
        out[at] = c as u8;
        at + 1
    } else if c < 0x800 {
        out[at..at + 2].copy_from_slice(&[0xC0 | (c >> 6) as u8, 0x80 | (c & 0x3F) as u8]);
        at + 2
    } else if c < 0x1_0000 {
        out[at..at + 3].copy_from_slice(&[
            0xE0 | (c >> 12) as u8,
            0x80 | ((c >> 6) & 0x3F) as u8,
            0x80 | (c & 0x3F) as u8,
        ]);
        at + 3
    } else {
        out[at..at + 4].copy_from_slice(&[
            0xF0 | (c >> 18) as u8,
            0x80 | ((c >> 12) & 0x3F) as u8,
            0x80 | ((c >> 6) & 0x3F) as u8,
            0x80 | (c & 0x3F) as u8,
        ]);
        at + 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious twin: Rust's own encoder, one `char` at a time.
    fn reference(units: &[u32]) -> Option<Vec<u8>> {
        let text: Option<String> = units.iter().map(|&c| char::from_u32(c)).collect();
        text.map(String::into_bytes)
    }

    /// Code points of every UTF-8 length and both sides of each boundary, surrogates
    /// included.
    fn code_point() -> impl Strategy<Value = u32> {
        prop_oneof![
            0u32..0x80,
            0x80u32..0x800,
            0x800u32..0xD800,
            0xD800u32..0xE000,
            0xE000u32..0x1_0000,
            0x1_0000u32..0x11_0000,
            prop::sample::select(vec![
                0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x1_0000, 0x10_FFFF
            ]),
        ]
    }

    proptest! {
        #[test]
        fn four_byte_units_equal_the_reference(units in prop::collection::vec(code_point(), 0..200)) {
            prop_assert_eq!(to_utf8(&units), reference(&units));
        }

        #[test]
        fn two_byte_units_equal_the_reference(units in prop::collection::vec(any::<u16>(), 0..200)) {
            let wide: Vec<u32> = units.iter().map(|&u| u as u32).collect();
            prop_assert_eq!(to_utf8(&units), reference(&wide));
        }

        #[test]
        fn one_byte_units_equal_the_reference(units in prop::collection::vec(any::<u8>(), 0..200)) {
            let wide: Vec<u32> = units.iter().map(|&u| u as u32).collect();
            prop_assert_eq!(to_utf8(&units), reference(&wide));
        }
    }

    #[test]
    fn one_wide_code_point_in_ascii_text_is_found_at_every_position() {
        // ASCII is narrowed 16 code points at a time: a block that is ASCII but for one
        // code point (at the edge of a class, or not) must take the careful path.
        // NUL around U+80 leaves the block's bits exactly those of U+80.
        for around in [0, u32::from(b'a')] {
            for c in [0x7F, 0x80, 0xFF, 0x7FF, 0x800, 0xFFFF, 0x1_0000, 0x10_FFFF] {
                for at in 0..40 {
                    let mut units = vec![around; 40];
                    units[at] = c;
                    assert_eq!(to_utf8(&units), reference(&units), "U+{c:X} at {at}");
                }
            }
        }
    }

    #[test]
    fn a_text_of_many_pieces_is_joined_in_order() {
        // Three pieces and a bit, every piece of a different mix of lengths.
        let units: Vec<u32> = (0..3 * PIECE + 17)
            .map(|i| match (i / PIECE, i % 7) {
                (0, _) => 'a' as u32 + (i % 26) as u32,
                (1, 0) => 0x1F600,
                (2, k) if k < 3 => 0x4E00 + i as u32 % 1000,
                _ => 0xE9,
            })
            .collect();
        assert_eq!(to_utf8(&units), reference(&units));
    }

    #[test]
    fn a_surrogate_in_a_late_piece_is_refused() {
        let mut units = vec![0x41u16; 2 * PIECE + 5];
        units[2 * PIECE + 3] = 0xDC00;
        assert_eq!(to_utf8(&units), None);
    }
}
