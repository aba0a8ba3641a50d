//! Generated text that stresses the split patterns: every kind of letter, mark, digit and
//! whitespace, CR/LF mixes, apostrophes and contraction letters (with their case folds),
//! and long runs.

use proptest::prelude::*;

/// Characters chosen to hit every branch of the GPT-4 family of patterns.
pub const ALPHABET: &[char] = &[
    'a',
    'b',
    'e',
    'l',
    'r',
    's',
    't',
    'v',
    'd',
    'm',
    'S',
    'T',
    'L',
    'E',
    'V',
    'R',
    'D',
    'M',
    '\u{17F}',
    '\u{212A}',
    'é',
    'ß',
    'Ж',
    'ж',
    'ǅ',
    'ʰ',
    '中',
    'ア',
    'ﷺ',
    '\u{301}',
    '\u{903}',
    '0',
    '7',
    '٣',
    '½',
    'Ⅻ',
    '²',
    ' ',
    ' ',
    ' ',
    '\t',
    '\n',
    '\r',
    '\u{B}',
    '\u{C}',
    '\u{85}',
    '\u{A0}',
    '\u{2003}',
    '\u{2028}',
    '\u{3000}',
    '\u{200B}',
    '\'',
    '\'',
    '’',
    '.',
    ',',
    '!',
    '-',
    '_',
    '(',
    '#',
    '$',
    '😀',
    '\u{1F3FD}',
    '\u{FE0F}',
    '\u{0}',
    '\u{7F}',
    '\u{10FFFF}',
];

/// A char: mostly from [`ALPHABET`], sometimes any scalar value.
pub fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => proptest::sample::select(ALPHABET),
        1 => any::<char>(),
    ]
}

/// Text of up to `max` pieces, each a char or a run of one char.
pub fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (any_char(), prop_oneof![6 => Just(1usize), 1 => 2usize..40]),
        0..max,
    )
    .prop_map(|pieces| {
        pieces
            .into_iter()
            .flat_map(|(c, n)| std::iter::repeat_n(c, n))
            .collect()
    })
}

/// ASCII chars that decide chunks: contraction letters in both cases, digits, every ASCII
/// whitespace char, apostrophes, punctuation and control chars.
const ASCII_ALPHABET: &[u8] = b"aeslrtvdmxSLTVREDM0179 \t\n\r\x0b\x0c''.,!-(#\x00\x7f";

/// Mostly ASCII text, long enough to span several 64-byte blocks of the scanner's fast
/// path: runs of ASCII chars, space-led words, and now and then any char of [`text`].
pub fn ascii_text(max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => (proptest::sample::select(ASCII_ALPHABET), prop_oneof![4 => Just(1usize), 1 => 2usize..12])
            .prop_map(|(c, n)| String::from(c as char).repeat(n)),
        3 => "( ?)[a-zA-Z]{1,9}",
        1 => any_char().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..max).prop_map(|pieces| pieces.concat())
}

/// Text from a tiny alphabet, so pair counts tie often.
pub fn tie_heavy(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(&['a', 'b', 'c', ' ', 'é'][..]),
        0..max,
    )
    .prop_map(|v| v.into_iter().collect())
}
