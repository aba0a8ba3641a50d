//! Hand-written scanners for tiktoken's own spellings of its split patterns.
//!
//! [`O200kScanner`] runs o200k_base's case-aware pattern (the seven alternatives below,
//! joined by `|`, exactly as `tiktoken_ext.openai_public` writes it):
//!
//! ```text
//! [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! \p{N}{1,3}
//!  ?[^\s\p{L}\p{N}]+[\r\n/]*
//! \s*[\r\n]+
//! \s+(?!\S)
//! \s+
//! ```
//!
//! [`TrailingSpace`] runs tiktoken's cl100k_base and r50k_base patterns, which differ from
//! the GPT-4 and GPT-2 patterns of [`super::scanner`] only by possessive quantifiers (which
//! change nothing there: each sits at the end of its alternative) and by `\s++$`, tried
//! before the other whitespace alternatives: whitespace that runs to the end of the text is
//! one chunk.
//!
//! Both give exactly the chunks fancy-regex finds with their pattern; the differential tests
//! in `tests/` and the `pretokenize` fuzz target hold them to that.

use super::scanner::{
    block_starts, decode, digits_end, flags, punctuation_end, run, split_blocks, whitespace_end,
    Scanner,
};
use super::unicode::{table, Table, LETTER, LOWER, MARK, NUMBER, OTHER_LETTER, SPACE, UPPER};

/// tiktoken's o200k_base split pattern, verbatim.
pub const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+(?!\S)",
    "|",
    r"\s+",
);

/// tiktoken's cl100k_base split pattern, verbatim (GPT-4's, spelled with possessive
/// quantifiers and `\s++$`).
pub const CL100K_TIKTOKEN_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// tiktoken's r50k_base (and p50k_base) split pattern, verbatim (GPT-2's, spelled the
/// same way).
pub const R50K_TIKTOKEN_PATTERN: &str =
    r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";

/// Chars in `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`, the "upper" class of o200k's pattern.
const UPPER_CLASS: u8 = UPPER | OTHER_LETTER | MARK;
/// Chars in `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`, the "lower" class.
const LOWER_CLASS: u8 = LOWER | OTHER_LETTER | MARK;
/// Chars in both classes.
const BOTH_CLASSES: u8 = OTHER_LETTER | MARK;

/// The scanner for o200k_base's pattern.
#[derive(Clone, Copy, Debug, Default)]
pub struct O200kScanner;

impl O200kScanner {
    /// Calls `f` with every chunk of `text`, in order. The chunks tile `text` exactly.
    #[inline]
    pub fn split<'t>(&self, text: &'t str, f: impl FnMut(&'t str)) {
        let t = table();
        let s = text.as_bytes();
        split_blocks(
            text,
            f,
            |b, i| block_starts(b, s, i, 3, true),
            |i| chunk_end(t, s, i),
        );
    }
}

/// `[upper]*[lower]+` from `j` as the backtracking engine resolves it, or `None` if it does
/// not match. The greedy `[upper]*` takes its whole run; if the char after the run is in the
/// lower class, `[lower]+` takes the lower run from there. Otherwise the engine gives back
/// upper-class chars one at a time until `[lower]+` can start on one, which must be a char
/// in both classes: the last such char of the run. `[lower]+` then takes only that char, as
/// the char after it is either upper-only or the one that already failed.
#[inline(always)]
fn upper_star_lower_plus(t: &Table, s: &[u8], mut j: usize) -> Option<usize> {
    let mut after_both = None;
    while j < s.len() {
        let (f, _, n) = flags(t, s, j);
        if f & UPPER_CLASS == 0 {
            if f & LOWER_CLASS != 0 {
                return Some(lower_run(t, s, j + n));
            }
            break;
        }
        if f & BOTH_CLASSES != 0 {
            after_both = Some(j + n);
        }
        j += n;
    }
    after_both
}

/// `run(t, s, j, LOWER_CLASS)`, eight bytes at a time while they are ASCII lowercase
/// letters, the class's only ASCII chars (most of a word): a byte is one when, with its top
/// bit clear, it lies in 0x61..=0x7a. With the top bits cleared, the additions cannot carry
/// from one byte into the next.
#[inline(always)]
fn lower_run(t: &Table, s: &[u8], mut j: usize) -> usize {
    while let Some(bytes) = s.get(j..j + 8) {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        const TOP: u64 = 0x8080_8080_8080_8080;
        let x = u64::from_le_bytes(bytes.try_into().unwrap());
        let y = x & LOW7;
        let from_a = y.wrapping_add(0x1f1f_1f1f_1f1f_1f1f);
        let past_z = y.wrapping_add(0x0505_0505_0505_0505);
        let other = !(from_a & !past_z & !x & TOP) & TOP;
        if other != 0 {
            j += (other.trailing_zeros() / 8) as usize;
            break;
        }
        j += 8;
    }
    run(t, s, j, LOWER_CLASS)
}

/// The end after the optional contraction `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` at `j`.
#[inline(always)]
fn contraction(t: &Table, s: &[u8], j: usize) -> usize {
    if j + 1 >= s.len() || s[j] != b'\'' {
        return j;
    }
    let (c1, n1) = decode(s, j + 1);
    if ['s', 't', 'm', 'd'].iter().any(|&l| t.folds_to(c1, l)) {
        return j + 1 + n1;
    }
    if j + 1 + n1 < s.len() {
        let (c2, n2) = decode(s, j + 1 + n1);
        let pair = |a, b| t.folds_to(c1, a) && t.folds_to(c2, b);
        if pair('r', 'e') || pair('v', 'e') || pair('l', 'l') {
            return j + 1 + n1 + n2;
        }
    }
    j
}

/// The end of o200k's chunk that starts at byte `i`.
#[inline(always)]
fn chunk_end(t: &Table, s: &[u8], i: usize) -> usize {
    let len = s.len();
    let (f, c, n) = flags(t, s, i);
    // The optional prefix `[^\r\n\p{L}\p{N}]?` is greedy: each of the two letter
    // alternatives is tried with it first, then without it, before the next alternative.
    let prefix = f & (LETTER | NUMBER) == 0 && c != '\r' && c != '\n' && i + n < len;

    // [prefix]?[upper]*[lower]+(contraction)?
    if prefix {
        if let Some(e) = upper_star_lower_plus(t, s, i + n) {
            return contraction(t, s, e);
        }
    }
    if let Some(e) = upper_star_lower_plus(t, s, i) {
        return contraction(t, s, e);
    }

    // [prefix]?[upper]+[lower]*(contraction)? : both runs are greedy and what follows is
    // optional, so nothing is ever given back.
    if prefix {
        let (f1, _, n1) = flags(t, s, i + n);
        if f1 & UPPER_CLASS != 0 {
            let e = run(t, s, i + n + n1, UPPER_CLASS);
            return contraction(t, s, lower_run(t, s, e));
        }
    }
    if f & UPPER_CLASS != 0 {
        let e = run(t, s, i + n, UPPER_CLASS);
        return contraction(t, s, lower_run(t, s, e));
    }

    // \p{N}{1,3}
    if f & NUMBER != 0 {
        return digits_end(t, s, i + n, 3);
    }

    //  ?[^\s\p{L}\p{N}]+[\r\n/]*
    if let Some(end) = punctuation_end(t, s, i, c, b"\r\n/") {
        return end;
    }

    // Only whitespace is left: the same three alternatives as in the GPT-4 scanner, as
    // `\s*[\r\n]+` ends at the last CR/LF of the run just as `\s*[\r\n]` does (the greedy
    // `\s*` backs off to the last CR/LF, and `[\r\n]+` cannot go past it).
    debug_assert!(f & SPACE != 0);
    whitespace_end(t, s, i, c, n, true)
}

/// A scanner of [`super::scanner`] under tiktoken's `\s++$`: the first chunk that would
/// start inside the whitespace that ends the text becomes the rest of the text instead.
///
/// Before that point both patterns agree: `\s++$` matches only where everything left is
/// whitespace, and the alternatives before it are the same. (The final `\s` in place of
/// `\s+` changes nothing: `\s+` is only reached for a single whitespace char followed by
/// a non-whitespace one.)
#[derive(Clone, Copy, Debug)]
pub struct TrailingSpace(pub Scanner);

impl TrailingSpace {
    /// Calls `f` with every chunk of `text`, in order. The chunks tile `text` exactly.
    #[inline]
    pub fn split<'t>(&self, text: &'t str, mut f: impl FnMut(&'t str)) {
        let tail = trailing_space(table(), text);
        if tail == text.len() {
            return self.0.split(text, f);
        }
        let base = text.as_ptr() as usize;
        let mut done = false;
        self.0.split(text, |chunk| {
            let start = chunk.as_ptr() as usize - base;
            if start < tail {
                f(chunk);
            } else if !done {
                done = true;
                f(&text[start..]);
            }
        });
    }
}

/// The start of the whitespace that ends `text` (`text.len()` if it ends otherwise).
fn trailing_space(t: &Table, text: &str) -> usize {
    let mut tail = text.len();
    for (i, c) in text.char_indices().rev() {
        if t.flags(c) & SPACE == 0 {
            break;
        }
        tail = i;
    }
    tail
}
