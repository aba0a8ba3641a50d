//! Class masks of the text, 64 bytes at a time: one bit per byte for each ASCII class the
//! split patterns test (letter, digit, whitespace, CR/LF, the space, the apostrophe). With
//! them a scanner decides where every chunk of a block starts with a few shifts and ANDs,
//! without a branch per byte or per chunk. Bytes of 0x80 and up (non-ASCII) belong to no
//! class: the scanner leaves what depends on them to its char-by-char path.

/// The masks of one 64-byte block: bit `k` describes the block's byte `k`.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    /// ASCII bytes (every class below is a subset). Past the end of the text: none.
    pub ascii: u64,
    /// `a-z`, `A-Z`
    pub letter: u64,
    /// `A-Z`
    pub upper: u64,
    /// `0-9`
    pub digit: u64,
    /// `\t \n \v \f \r` and space: ASCII `\s`
    pub space: u64,
    /// `\r \n`
    pub newline: u64,
    /// The space character alone
    pub blank: u64,
    /// `'`
    pub quote: u64,
    /// `/`
    pub slash: u64,
}

impl Block {
    /// The masks of `bytes[..64]`, the plain way: the slow twin of [`Block::classify`].
    #[cfg(any(test, not(target_arch = "x86_64")))]
    pub fn classify_bytes(bytes: &[u8; 64]) -> Block {
        let mut b = Block::default();
        for (k, &c) in bytes.iter().enumerate() {
            let bit = 1u64 << k;
            if c.is_ascii() {
                b.ascii |= bit;
            }
            if c.is_ascii_alphabetic() {
                b.letter |= bit;
            }
            if c.is_ascii_uppercase() {
                b.upper |= bit;
            }
            if c.is_ascii_digit() {
                b.digit |= bit;
            }
            if matches!(c, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ') {
                b.space |= bit;
            }
            if matches!(c, b'\r' | b'\n') {
                b.newline |= bit;
            }
            if c == b' ' {
                b.blank |= bit;
            }
            if c == b'\'' {
                b.quote |= bit;
            }
            if c == b'/' {
                b.slash |= bit;
            }
        }
        b
    }

    /// The masks of `bytes[..64]`, 16 bytes per SSE2 instruction.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub fn classify(bytes: &[u8; 64]) -> Block {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86_64; the loads read 4 x 16 bytes of a 64-byte array.
        unsafe {
            // `x - lo < n` as unsigned bytes, with a signed compare: shift both sides by 0x80.
            let in_range = |x: __m128i, lo: u8, n: u8| {
                let shifted = _mm_add_epi8(
                    _mm_sub_epi8(x, _mm_set1_epi8(lo as i8)),
                    _mm_set1_epi8(-128),
                );
                _mm_cmplt_epi8(shifted, _mm_set1_epi8((n as i8).wrapping_sub(-128i8)))
            };
            let eq = |x: __m128i, c: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8));
            let bits = |m: __m128i| _mm_movemask_epi8(m) as u16 as u64;
            let mut b = Block::default();
            for part in 0..4 {
                let x = _mm_loadu_si128(bytes.as_ptr().add(16 * part) as *const __m128i);
                let shift = 16 * part;
                // OR-ing 0x20 maps A-Z onto a-z and nothing else onto a-z.
                let lower = _mm_or_si128(x, _mm_set1_epi8(0x20));
                let newline = _mm_or_si128(eq(x, b'\n'), eq(x, b'\r'));
                b.ascii |= (!bits(x) & 0xFFFF) << shift;
                b.letter |= bits(in_range(lower, b'a', 26)) << shift;
                b.upper |= bits(in_range(x, b'A', 26)) << shift;
                b.digit |= bits(in_range(x, b'0', 10)) << shift;
                let blank = eq(x, b' ');
                b.space |= bits(_mm_or_si128(blank, in_range(x, b'\t', 5))) << shift;
                b.newline |= bits(newline) << shift;
                b.blank |= bits(blank) << shift;
                b.quote |= bits(eq(x, b'\'')) << shift;
                b.slash |= bits(eq(x, b'/')) << shift;
            }
            b
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    pub fn classify(bytes: &[u8; 64]) -> Block {
        Self::classify_bytes(bytes)
    }

    /// The masks of the bytes a scanner can trust, the ASCII ones before the first byte that
    /// is not (or the text's end): every later byte is in no class, not even `ascii`.
    #[inline(always)]
    pub fn known(&self) -> Block {
        let n = self.ascii.trailing_ones();
        let m = if n == 64 { !0 } else { (1u64 << n) - 1 };
        Block {
            ascii: m,
            letter: self.letter & m,
            upper: self.upper & m,
            digit: self.digit & m,
            space: self.space & m,
            newline: self.newline & m,
            blank: self.blank & m,
            quote: self.quote & m,
            slash: self.slash & m,
        }
    }

    /// ASCII bytes in none of the other classes: `[^\s\p{L}\p{N}]` among ASCII.
    #[inline(always)]
    pub fn other(&self) -> u64 {
        self.ascii & !(self.letter | self.digit | self.space)
    }

    /// The masks of the 64 bytes of `s` from `at`; bytes past its end are in no class.
    #[inline(always)]
    pub fn of(s: &[u8], at: usize) -> Block {
        match s.get(at..at + 64) {
            Some(bytes) => Self::classify(bytes.try_into().unwrap()),
            None => {
                let mut padded = [0x80; 64];
                let tail = &s[at.min(s.len())..];
                padded[..tail.len()].copy_from_slice(tail);
                Self::classify(&padded)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_masks_equal_plain_masks() {
        // Every byte value at every position of a block.
        for start in 0..=255u8 {
            let bytes: [u8; 64] = std::array::from_fn(|k| start.wrapping_add(k as u8 * 4));
            assert_eq!(Block::classify(&bytes), Block::classify_bytes(&bytes));
        }
    }
}
