//! A hand-written scanner for the GPT-4 family of split patterns:
//!
//! ```text
//! '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+
//! ```
//!
//! with `D = 3` (cl100k, GPT-4) or `D = 2` (nanochat), and for GPT-2's pattern:
//!
//! ```text
//! 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//! ```
//!
//! It returns exactly the chunks that
//! fancy-regex finds with that pattern: the alternatives are tried in the same order and each
//! is resolved the way the backtracking engine resolves it (see the comments below). The
//! differential tests in `tests/` and the `pretokenize` fuzz target hold it to that.

use super::unicode::{table, Table, LETTER, LOWER, NUMBER, SPACE, UPPER};

/// The scanner for one member of the family.
#[derive(Clone, Copy, Debug)]
pub struct Scanner {
    max_digits: usize,
    gpt2: bool,
}

/// Decode the char starting at byte `i` of valid UTF-8.
#[inline(always)]
pub(crate) fn decode(s: &[u8], i: usize) -> (char, usize) {
    let b0 = s[i] as u32;
    if b0 < 0x80 {
        return (b0 as u8 as char, 1);
    }
    let (cp, n) = if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | (s[i + 1] as u32 & 0x3F), 2)
    } else if b0 < 0xF0 {
        (
            ((b0 & 0x0F) << 12) | ((s[i + 1] as u32 & 0x3F) << 6) | (s[i + 2] as u32 & 0x3F),
            3,
        )
    } else {
        (
            ((b0 & 0x07) << 18)
                | ((s[i + 1] as u32 & 0x3F) << 12)
                | ((s[i + 2] as u32 & 0x3F) << 6)
                | (s[i + 3] as u32 & 0x3F),
            4,
        )
    };
    // SAFETY: the caller passes valid UTF-8 (it comes from a `&str`), so `cp` is a scalar value.
    (unsafe { char::from_u32_unchecked(cp) }, n)
}

/// Class bits of the char at byte `i` of valid UTF-8, the char, and its length.
#[inline(always)]
pub(crate) fn flags(t: &Table, s: &[u8], i: usize) -> (u8, char, usize) {
    let b = s[i];
    if b < 0x80 {
        return (ASCII[b as usize], b as char, 1);
    }
    let (c, n) = decode(s, i);
    (t.flags(c), c, n)
}

/// End of the run of chars that have any of the `class` bits, from byte `j`.
#[inline(always)]
pub(crate) fn run(t: &Table, s: &[u8], mut j: usize, class: u8) -> usize {
    while j < s.len() {
        let (f, _, n) = flags(t, s, j);
        if f & class == 0 {
            break;
        }
        j += n;
    }
    j
}

/// End of the run of chars with none of the `class` bits, from byte `j`.
#[inline(always)]
pub(crate) fn run_not(t: &Table, s: &[u8], mut j: usize, class: u8) -> usize {
    while j < s.len() {
        let (f, _, n) = flags(t, s, j);
        if f & class != 0 {
            break;
        }
        j += n;
    }
    j
}

/// `\p{N}{1,max}` after its first digit, which ends at byte `j`.
#[inline(always)]
pub(crate) fn digits_end(t: &Table, s: &[u8], mut j: usize, max: usize) -> usize {
    let mut k = 1;
    while k < max && j < s.len() {
        let (f, _, n) = flags(t, s, j);
        if f & NUMBER == 0 {
            break;
        }
        j += n;
        k += 1;
    }
    j
}

/// ` ?[^\s\p{L}\p{N}]+` followed by any of the bytes of `tail`, from byte `i` (whose char
/// is `c`), or `None` when it does not match. The optional space is a plain `?`, so when
/// the char after a space is not punctuation the engine retries without it, and then the
/// space itself is not punctuation: either way the alternative fails. (Possessive `++`
/// changes nothing: the run is maximal either way.)
#[inline(always)]
pub(crate) fn punctuation_end(
    t: &Table,
    s: &[u8],
    i: usize,
    c: char,
    tail: &[u8],
) -> Option<usize> {
    let start = if c == ' ' { i + 1 } else { i };
    if start >= s.len() || flags(t, s, start).0 & (SPACE | LETTER | NUMBER) != 0 {
        return None;
    }
    let mut j = run_not(t, s, start, SPACE | LETTER | NUMBER);
    while j < s.len() && tail.contains(&s[j]) {
        j += 1;
    }
    Some(j)
}

/// The end of the whitespace chunk starting at byte `i` (whose char is `c`, `n` bytes
/// long), once no other alternative matched: the patterns' tails
/// `\s*[\r\n]|\s+(?!\S)|\s+` (with `newlines`; o200k's `\s*[\r\n]+` ends at the same
/// place) or GPT-2's `\s+(?!\S)|\s+`.
#[inline(always)]
pub(crate) fn whitespace_end(
    t: &Table,
    s: &[u8],
    i: usize,
    c: char,
    n: usize,
    newlines: bool,
) -> usize {
    // Take the maximal run, noting the end of its last CR/LF and the start of its last char.
    let len = s.len();
    let mut j = i + n;
    let mut after_newline = if c == '\r' || c == '\n' { i + 1 } else { 0 };
    let mut last_start = i;
    while j < len {
        let (f1, c1, n1) = flags(t, s, j);
        if f1 & SPACE == 0 {
            break;
        }
        if c1 == '\r' || c1 == '\n' {
            after_newline = j + 1;
        }
        last_start = j;
        j += n1;
    }
    // \s*[\r\n] : greedy `\s*` backs off to the last CR/LF of the run.
    if newlines && after_newline != 0 {
        return after_newline;
    }
    // \s+(?!\S) : the whole run at the end of the text, else the run minus its last char
    // (which is whitespace, so the lookahead holds), if that leaves anything.
    if j == len {
        return j;
    }
    if last_start > i {
        return last_start;
    }
    // \s+
    j
}

impl Scanner {
    /// A scanner for the GPT-4 pattern with numbers split in runs of at most `max_digits`.
    pub fn new(max_digits: usize) -> Self {
        Scanner {
            max_digits,
            gpt2: false,
        }
    }

    /// A scanner for GPT-2's pattern.
    pub fn gpt2() -> Self {
        Scanner {
            max_digits: usize::MAX,
            gpt2: true,
        }
    }

    /// Calls `f` with every chunk of `text`, in order. The chunks tile `text` exactly.
    #[inline]
    pub fn split<'t>(&self, text: &'t str, mut f: impl FnMut(&'t str)) {
        let t = table();
        let s = text.as_bytes();
        let mut i = 0;
        while i < s.len() {
            let end = if self.gpt2 {
                Self::chunk_end_gpt2(t, s, i)
            } else {
                self.chunk_end(t, s, i)
            };
            // SAFETY: chunk ends always fall on char boundaries (they are sums of char lengths).
            f(unsafe { text.get_unchecked(i..end) });
            i = end;
        }
    }

    /// End of the run of letters starting at `j`.
    #[inline(always)]
    fn letters(t: &Table, s: &[u8], mut j: usize) -> usize {
        while j < s.len() {
            // Eight bytes at a time while they are ASCII letters (most text): a byte is one
            // when, with its top bit cleared and lowercased, it lies in 0x61..=0x7a. With
            // the top bits cleared, the additions cannot carry from one byte into the next.
            if let Some(bytes) = s.get(j..j + 8) {
                const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
                const TOP: u64 = 0x8080_8080_8080_8080;
                let x = u64::from_le_bytes(bytes.try_into().unwrap());
                let y = (x & LOW7) | 0x2020_2020_2020_2020;
                let from_a = y.wrapping_add(0x1f1f_1f1f_1f1f_1f1f);
                let past_z = y.wrapping_add(0x0505_0505_0505_0505);
                let letter = from_a & !past_z & !x & TOP;
                let other = !letter & TOP;
                if other == 0 {
                    j += 8;
                    continue;
                }
                j += (other.trailing_zeros() / 8) as usize;
                if s[j] < 0x80 {
                    break;
                }
            }
            let b = s[j];
            if b < 0x80 {
                if ASCII[b as usize] & LETTER == 0 {
                    break;
                }
                j += 1;
            } else {
                let (c, n) = decode(s, j);
                if t.flags(c) & LETTER == 0 {
                    break;
                }
                j += n;
            }
        }
        j
    }

    /// The end of the chunk that starts at byte `i`.
    #[inline(always)]
    fn chunk_end(&self, t: &Table, s: &[u8], i: usize) -> usize {
        let len = s.len();
        let (f, c, n) = flags(t, s, i);

        // '(?i:[sdmt]|ll|ve|re)
        if c == '\'' && i + 1 < len {
            let (c1, n1) = decode(s, i + 1);
            if ['s', 'd', 'm', 't'].iter().any(|&l| t.folds_to(c1, l)) {
                return i + 1 + n1;
            }
            if i + 1 + n1 < len {
                let (c2, n2) = decode(s, i + 1 + n1);
                let pair = |a, b| t.folds_to(c1, a) && t.folds_to(c2, b);
                if pair('l', 'l') || pair('v', 'e') || pair('r', 'e') {
                    return i + 1 + n1 + n2;
                }
            }
        }

        // [^\r\n\p{L}\p{N}]?+\p{L}+ : the optional prefix is possessive, but giving it back
        // could only help if `c` were a letter, and then the prefix class never took it.
        if f & LETTER != 0 {
            return Self::letters(t, s, i + n);
        }
        if f & NUMBER == 0 && c != '\r' && c != '\n' && i + n < len {
            let (f1, _, n1) = flags(t, s, i + n);
            if f1 & LETTER != 0 {
                return Self::letters(t, s, i + n + n1);
            }
        }

        // \p{N}{1,D}
        if f & NUMBER != 0 {
            return digits_end(t, s, i + n, self.max_digits);
        }

        //  ?[^\s\p{L}\p{N}]++[\r\n]*
        if let Some(end) = punctuation_end(t, s, i, c, b"\r\n") {
            return end;
        }

        // Only whitespace is left.
        debug_assert!(f & SPACE != 0);
        whitespace_end(t, s, i, c, n, true)
    }

    /// The end of GPT-2's chunk that starts at byte `i`.
    #[inline(always)]
    fn chunk_end_gpt2(t: &Table, s: &[u8], i: usize) -> usize {
        let len = s.len();
        let (f, c, n) = flags(t, s, i);

        // 's|'t|'re|'ve|'m|'ll|'d : case-sensitive, ASCII only.
        if c == '\'' && i + 1 < len {
            match s[i + 1] {
                b's' | b't' | b'm' | b'd' => return i + 2,
                b'r' | b'v' if s.get(i + 2) == Some(&b'e') => return i + 3,
                b'l' if s.get(i + 2) == Some(&b'l') => return i + 3,
                _ => {}
            }
        }

        //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+ : an optional space, then a run of one class.
        // When a space is followed by none of them, retrying without it fails too (a space
        // is in none of the three classes), so only whitespace is left.
        let start = if c == ' ' && i + 1 < len { i + 1 } else { i };
        let (f0, _, n0) = if start == i {
            (f, c, n)
        } else {
            flags(t, s, start)
        };
        let class = if f0 & LETTER != 0 {
            Some(LETTER)
        } else if f0 & NUMBER != 0 {
            Some(NUMBER)
        } else if f0 & SPACE == 0 {
            Some(0)
        } else {
            None
        };
        if let Some(class) = class {
            return if class == 0 {
                run_not(t, s, start + n0, LETTER | NUMBER | SPACE)
            } else {
                run(t, s, start + n0, class)
            };
        }

        // \s+(?!\S) | \s+ : as in the GPT-4 family, without the CR/LF alternative.
        debug_assert!(f0 & SPACE != 0);
        whitespace_end(t, s, i, c, n, false)
    }

    /// Byte offsets, in increasing order, at which `text` can be cut into pieces that split
    /// into exactly the chunks of the whole: each is a position just after a letter and
    /// just before a non-letter. No alternative of the pattern puts a non-letter after a
    /// letter inside one chunk (the letter alternatives end with their letters), so a chunk
    /// always ends there; and what the scanner does from a chunk start depends only on the
    /// text after it. The last chunk of a piece ends with a letter that the full text
    /// follows with a non-letter, so the cut cannot change how it ends either.
    /// Cuts are at least `min_piece` bytes apart.
    pub fn cut_points(&self, text: &str, min_piece: usize) -> Vec<usize> {
        let t = table();
        let s = text.as_bytes();
        let mut cuts = Vec::new();
        let mut target = min_piece;
        while target < s.len() {
            // Move to a char boundary, then look for letter → non-letter.
            let mut j = target;
            while j < s.len() && !text.is_char_boundary(j) {
                j += 1;
            }
            let mut prev_letter = false;
            let mut found = None;
            while j < s.len() {
                let (f, _, n) = flags(t, s, j);
                let letter = f & LETTER != 0;
                if prev_letter && !letter {
                    found = Some(j);
                    break;
                }
                prev_letter = letter;
                j += n;
            }
            match found {
                Some(p) => {
                    cuts.push(p);
                    target = p + min_piece;
                }
                None => break,
            }
        }
        cuts
    }
}

/// Class bits of the ASCII chars, the same as the Unicode table gives them (a static the
/// compiler can index without going through the table).
pub(crate) static ASCII: [u8; 128] = {
    let mut a = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        a[i] = if c.is_ascii_uppercase() {
            LETTER | UPPER
        } else if c.is_ascii_lowercase() {
            LETTER | LOWER
        } else if c.is_ascii_digit() {
            NUMBER
        } else if matches!(c, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ') {
            SPACE
        } else {
            0
        };
        i += 1;
    }
    a
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_table_agrees_with_unicode_table() {
        let t = table();
        for b in 0u8..128 {
            let c = b as char;
            assert_eq!(ASCII[b as usize], t.flags(c), "{c:?}");
        }
    }
}
