//! Character classes for the hand-written scanner, taken from `regex-syntax` itself, so the
//! scanner and fancy-regex agree on what `\p{L}`, `\p{N}`, `\s` and `(?i:s)` mean, code point
//! for code point, whatever Unicode version that crate ships.

use regex_syntax::hir::{Class, HirKind};
use std::sync::OnceLock;

/// `\p{L}`
pub const LETTER: u8 = 1;
/// `\p{N}`
pub const NUMBER: u8 = 2;
/// `\s`
pub const SPACE: u8 = 4;
/// `\p{Lu}` or `\p{Lt}`
pub const UPPER: u8 = 8;
/// `\p{Ll}`
pub const LOWER: u8 = 16;
/// `\p{Lm}` or `\p{Lo}`
pub const OTHER_LETTER: u8 = 32;
/// `\p{M}`
pub const MARK: u8 = 64;

/// Code points are looked up in two levels: a block index per 256 code points, then a
/// deduplicated 256-entry block. Most of the 4352 blocks are identical (unassigned or one
/// script), so the table stays near 100 KB.
pub struct Table {
    block_of: Vec<u16>,
    blocks: Vec<[u8; 256]>,
    /// Case-insensitive sets for the contraction letters, in order `s d m t l v e r`.
    folds: [Vec<char>; 8],
}

const FOLD_LETTERS: [char; 8] = ['s', 'd', 'm', 't', 'l', 'v', 'e', 'r'];

fn ranges(pattern: &str) -> Vec<(char, char)> {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .expect("built-in class pattern parses");
    let class = match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => c.clone(),
        HirKind::Literal(lit) => {
            let c = std::str::from_utf8(&lit.0).unwrap().chars().next().unwrap();
            return vec![(c, c)];
        }
        other => panic!("unexpected class shape for {pattern}: {other:?}"),
    };
    class
        .ranges()
        .iter()
        .map(|r| (r.start(), r.end()))
        .collect()
}

fn build() -> Table {
    let mut flags = vec![0u8; 0x110000];
    let classes: [(&str, u8); 9] = [
        (r"\p{L}", LETTER),
        (r"\p{N}", NUMBER),
        (r"\s", SPACE),
        (r"\p{Lu}", UPPER),
        (r"\p{Lt}", UPPER),
        (r"\p{Ll}", LOWER),
        (r"\p{Lm}", OTHER_LETTER),
        (r"\p{Lo}", OTHER_LETTER),
        (r"\p{M}", MARK),
    ];
    for (pattern, bit) in classes {
        for (lo, hi) in ranges(pattern) {
            for f in &mut flags[lo as usize..=hi as usize] {
                *f |= bit;
            }
        }
    }
    let mut block_of = Vec::with_capacity(0x1100);
    let mut blocks: Vec<[u8; 256]> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for chunk in flags.chunks(256) {
        let block: [u8; 256] = chunk.try_into().unwrap();
        let id = *seen.entry(block).or_insert_with(|| {
            blocks.push(block);
            blocks.len() - 1
        });
        block_of.push(id as u16);
    }
    let folds = FOLD_LETTERS.map(|c| {
        let mut set = Vec::new();
        for (lo, hi) in ranges(&format!("(?i:{c})")) {
            set.extend(lo..=hi);
        }
        set
    });
    Table {
        block_of,
        blocks,
        folds,
    }
}

/// The shared table, built once on first use (a few milliseconds).
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(build)
}

impl Table {
    /// The class bits of `c`.
    #[inline]
    pub fn flags(&self, c: char) -> u8 {
        let cp = c as usize;
        self.blocks[self.block_of[cp >> 8] as usize][cp & 0xff]
    }

    /// Whether `c` matches `(?i:letter)` for one of the contraction letters `sdmtlver`.
    #[inline]
    pub fn folds_to(&self, c: char, letter: char) -> bool {
        if c.is_ascii() {
            return c.to_ascii_lowercase() == letter;
        }
        let i = FOLD_LETTERS.iter().position(|&l| l == letter).unwrap();
        self.folds[i].contains(&c)
    }
}
