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

use super::masks::Block;
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
    pub fn split<'t>(&self, text: &'t str, f: impl FnMut(&'t str)) {
        let t = table();
        let s = text.as_bytes();
        if self.gpt2 {
            split_blocks(
                text,
                f,
                |b, i| Self::block_starts_gpt2(b, s, i),
                |i| Self::chunk_end_gpt2(t, s, i),
            );
        } else {
            split_blocks(
                text,
                f,
                |b, i| block_starts(b, s, i, self.max_digits, false),
                |i| self.chunk_end(t, s, i),
            );
        }
    }

    /// [`block_starts`] for GPT-2's pattern, whose rules are fewer: a run of letters,
    /// digits or other chars takes one space before it, contractions are lowercase, and
    /// CR/LF are whitespace like any other.
    #[inline(always)]
    fn block_starts_gpt2(b: &Block, s: &[u8], i: usize) -> (u64, u32) {
        let b = b.known();
        let (letter, digit, space, other) = (b.letter, b.digit, b.space, b.other());
        let after_blank = b.blank << 1;
        let after_letter = letter << 1;

        //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+ : a run starts a chunk, or its space does.
        let run_start = |m: u64| m & !(m << 1);
        let class_start = run_start(letter) | run_start(digit) | run_start(other);
        let mut starts = 1 | (class_start & !after_blank);
        // \s+(?!\S) | \s+ : a whitespace run starts a chunk; one of two or more chars leaves
        // its last char to the next chunk (which takes it if it is a space; the class run
        // after a tab or CR/LF starts a chunk by the rule above).
        let space_end = (space << 1) & !space;
        starts |= run_start(space) | (space_end >> 1) & space & (space << 1);

        let candidates = after_letter & !letter & b.ascii & !1;
        if candidates == 0 {
            return (starts, 0);
        }
        let safe = 63 - candidates.leading_zeros();
        // 's|'t|'re|'ve|'m|'ll|'d : tried first, at an apostrophe that starts a chunk and is
        // followed by a letter (both bytes before `safe`, as in `block_starts`).
        let mut quotes = b.quote & starts & (letter >> 1) & ((1u64 << safe) - 1);
        while quotes != 0 {
            let k = quotes.trailing_zeros();
            quotes &= quotes - 1;
            let at = i + k as usize;
            let len = match (s[at + 1], s[at + 2]) {
                (b's' | b't' | b'm' | b'd', _) => 2,
                (b'r' | b'v', b'e') | (b'l', b'l') => 3,
                _ => continue,
            };
            starts &= !(1u64 << (k + 1));
            starts |= 1u64 << (k + len) & letter;
        }
        (starts, safe)
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
        let mut cuts = Vec::new();
        let mut target = min_piece;
        while let Some(cut) = first_cut(text, target) {
            cuts.push(cut);
            target = cut + min_piece;
        }
        cuts
    }
}

/// The first place in `text` at or after `from` where it can be cut (see
/// [`Scanner::cut_points`]): just after a letter and just before a non-letter, the letter
/// starting at or after `from` (moved to a char boundary).
pub(crate) fn first_cut(text: &str, from: usize) -> Option<usize> {
    let t = table();
    let s = text.as_bytes();
    let mut j = from;
    while j < s.len() && !text.is_char_boundary(j) {
        j += 1;
    }
    let mut prev_letter = false;
    while j < s.len() {
        let (f, _, n) = flags(t, s, j);
        let letter = f & LETTER != 0;
        if prev_letter && !letter {
            return Some(j);
        }
        prev_letter = letter;
        j += n;
    }
    None
}

/// Calls `f` with every chunk of `text`, in order: those that `starts` finds in each block
/// of 64 bytes from a chunk start (see [`block_starts`]), and where it finds nothing certain,
/// those that `chunk_end` (the char-by-char scanner) finds.
#[inline(always)]
pub(crate) fn split_blocks<'t>(
    text: &'t str,
    mut f: impl FnMut(&'t str),
    starts: impl Fn(&Block, usize) -> (u64, u32),
    chunk_end: impl Fn(usize) -> usize,
) {
    let s = text.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let block = Block::of(s, i);
        let (starts, safe) = starts(&block, i);
        if safe == 0 {
            // Nothing certain in these 64 bytes (non-ASCII text, or one long run): char by
            // char past what the masks knew.
            let until = i + (block.ascii.trailing_ones() as usize).max(16);
            while i < until.min(s.len()) {
                let end = chunk_end(i);
                // SAFETY: chunk ends always fall on char boundaries (they are sums of char
                // lengths).
                f(unsafe { text.get_unchecked(i..end) });
                i = end;
            }
            continue;
        }
        let mut rest = starts & ((1u64 << safe) - 1) & !1;
        let mut from = i;
        while rest != 0 {
            let to = i + rest.trailing_zeros() as usize;
            // SAFETY: chunk starts before `safe` are ASCII bytes, so char boundaries.
            f(unsafe { text.get_unchecked(from..to) });
            from = to;
            rest &= rest - 1;
        }
        i += safe as usize;
        // SAFETY: as above.
        f(unsafe { text.get_unchecked(from..i) });
    }
}

/// Where chunks start in the 64 bytes from `i`, a chunk start, from their class masks:
/// bit `k` set when a chunk starts at `i + k`. Every alternative of the pattern is
/// turned into a rule on neighbouring bits (the comments name them); [`Scanner::chunk_end`]
/// is the char-by-char twin that the differential tests hold this to.
///
/// The bits are certain below the returned `safe` (0 when nothing is): the last position
/// where an ASCII non-letter follows a letter. A chunk always starts there
/// (see [`Scanner::cut_points`]), and no chunk before it depends on bytes after it.
///
/// With `o200k`, the rules of o200k_base's pattern, which differs on ASCII text in two
/// ways: a letter run also splits where an uppercase letter follows a lowercase one, and a
/// contraction is the end of the word before it, not a chunk of its own.
#[inline(always)]
pub(crate) fn block_starts(
    b: &Block,
    s: &[u8],
    i: usize,
    max_digits: usize,
    o200k: bool,
) -> (u64, u32) {
    let b = b.known();
    let (letter, digit, newline, blank, other) = (b.letter, b.digit, b.newline, b.blank, b.other());
    // Bit k of `x << 1` says what byte k - 1 is; byte -1 (before `i`) is in no class.
    let after_letter = letter << 1;
    let after_blank = blank << 1;

    // A letter run always ends a chunk: no alternative puts a non-letter after a letter.
    let letter_ends = after_letter & !letter & b.ascii;

    //  ?[^\s\p{L}\p{N}]++[\r\n]* : an "other" run takes the CR/LFs right after it.
    let other_start = other & !(other << 1);
    let swallowed_start = newline & (other << 1);
    let swallowed_end = swallowed_start.wrapping_add(newline) & !newline;
    let swallowed = swallowed_end.wrapping_sub(swallowed_start) & newline;
    // What is left of the whitespace runs, and its non-CR/LF part.
    let space = b.space & !swallowed;
    let spaces = space & !newline;
    let after_spaces = spaces << 1;
    let space_end = (space << 1) & !space;

    // \s*[\r\n] : a run with CR/LFs gives them, up to its last one, to one chunk; what
    // follows the last one starts a chunk. A candidate is a space after a CR/LF; it is
    // the last one's only when its run of spaces ends the whitespace run.
    let after_newline = spaces & (newline << 1);
    let tail_end = after_newline.wrapping_add(spaces) & !spaces;
    let mut safe_mask = b.ascii;
    let not_last = tail_end & newline;
    if not_last != 0 {
        // A run with spaces between its CR/LFs (rare): trust nothing from there on.
        safe_mask &= (1u64 << not_last.trailing_zeros()) - 1;
    }
    // o200k's `[\r\n/]*` also takes slashes mixed with those CR/LFs, which these rules do
    // not follow: trust nothing from a slash next to a CR/LF on.
    let mixed = b.slash & ((newline << 1) | (newline >> 1));
    if o200k && mixed != 0 {
        safe_mask &= (1u64 << mixed.trailing_zeros()) - 1;
    }

    // [^\r\n\p{L}\p{N}]?+\p{L}+ : a letter run takes the byte before it when that byte
    // starts a chunk and is a space (not CR/LF) or a lone "other" byte not after a blank
    // (after a blank, the blank and that byte are one chunk of the alternative above).
    let lone_other = other_start & !(other >> 1) & !after_blank;
    let prefix = lone_other & (letter >> 1);
    let letter_start = letter & !after_letter;

    let mut starts = 1 | letter_ends;
    starts |= other_start & !after_blank | (other_start & after_blank) >> 1;
    starts |= letter_start & !after_spaces & !(prefix << 1);
    // \s+(?!\S) : a whitespace run of two or more (after its last CR/LF) leaves its last
    // char to the next chunk, which takes it as a prefix when it can.
    starts |= space & !(space << 1);
    starts |= after_newline;
    starts |= (space_end >> 1) & spaces & after_spaces;
    starts |= space_end & !((letter & after_spaces) | (other & after_blank));
    // \p{N}{1,D} : a digit run starts a chunk, and so does every D-th digit after.
    let digit_start = digit & !(digit << 1);
    starts |= digit_start;
    let max = max_digits.min(64) as u32;
    let mut full = digit;
    for k in 1..max {
        full &= digit << k;
    }
    let mut group = digit_start;
    while group != 0 {
        group = group.checked_shl(max).unwrap_or(0) & full;
        starts |= group;
    }

    // A letter run ends a chunk where a non-letter follows, except that o200k's words take
    // a contraction after them: there, an apostrophe after a letter is not a safe point.
    let quote = b.quote;
    let mut candidates = letter_ends & safe_mask & !1;
    if o200k {
        candidates &= !quote;
    }
    if candidates == 0 {
        return (starts, 0);
    }
    let safe = 63 - candidates.leading_zeros();
    if o200k {
        // [upper]*[lower]+ | [upper]+[lower]* : on ASCII letters, a word ends where an
        // uppercase letter follows a lowercase one.
        let upper = b.upper;
        starts |= upper & ((letter & !upper) << 1);
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)? after a word: the word takes it whole. Its letters
        // are read only when the masks say they are letters, so before `safe`.
        let mut quotes = letter_ends & quote & ((1u64 << safe) - 1);
        // Where the chunk after the last contraction taken starts: a word takes only one.
        let mut after = 0;
        while quotes != 0 {
            let k = quotes.trailing_zeros();
            quotes &= quotes - 1;
            let at = i + k as usize;
            if letter >> (k + 1) & 1 == 0 || k == after {
                continue;
            }
            let c1 = s[at + 1] | 0x20;
            let len = if matches!(c1, b's' | b'd' | b'm' | b't') {
                1
            } else if letter >> (k + 2) & 1 == 0 {
                continue;
            } else {
                match (c1, s[at + 2] | 0x20) {
                    (b'l', b'l') | (b'v', b'e') | (b'r', b'e') => 2,
                    _ => continue,
                }
            };
            // No chunk starts from the apostrophe to the contraction's last letter; one
            // starts after it if a letter follows (else a letter run ends there anyway).
            starts &= !(((1u64 << (len + 1)) - 1) << k);
            starts |= 1u64 << (k + len + 1) & letter;
            after = k + len + 1;
        }
        return (starts, safe);
    }
    // '(?i:[sdmt]|ll|ve|re) : tried first, at an apostrophe that starts a chunk and is
    // followed by a letter (it would otherwise be that letter run's prefix).
    let mut quotes = prefix & b.quote & ((1u64 << safe) - 1);
    while quotes != 0 {
        let k = quotes.trailing_zeros();
        quotes &= quotes - 1;
        // Both bytes are before `safe`: the letter run after the quote ends by then.
        let at = i + k as usize;
        let c1 = s[at + 1] | 0x20;
        let len = if matches!(c1, b's' | b'd' | b'm' | b't') {
            2
        } else {
            match (c1, s[at + 2] | 0x20) {
                (b'l', b'l') | (b'v', b'e') | (b'r', b'e') => 3,
                _ => continue,
            }
        };
        starts |= 1u64 << (k + len) & letter;
    }
    (starts, safe)
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
