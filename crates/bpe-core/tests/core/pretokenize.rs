//! The hand-written scanner against fancy-regex, its twin, chunk for chunk.

use crate::text::{ascii_text, text};
use bpe_core::{
    Pretokenizer, CL100K_TIKTOKEN_PATTERN, GPT2_PATTERN, GPT4_PATTERN, NANOCHAT_PATTERN,
    O200K_PATTERN, R50K_TIKTOKEN_PATTERN,
};
use proptest::prelude::*;

fn same_chunks(pattern: &str, s: &str) {
    let fast = Pretokenizer::new(pattern).unwrap();
    let slow = Pretokenizer::with_regex(pattern).unwrap();
    assert!(fast.uses_scanner());
    assert_eq!(
        fast.chunks(s).unwrap(),
        slow.chunks(s).unwrap(),
        "text {s:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn scanner_equals_regex_gpt4(s in text(40)) {
        same_chunks(GPT4_PATTERN, &s);
    }

    #[test]
    fn scanner_equals_regex_nanochat(s in text(40)) {
        same_chunks(NANOCHAT_PATTERN, &s);
    }

    #[test]
    fn scanner_equals_regex_on_long_ascii_gpt4(s in ascii_text(200)) {
        same_chunks(GPT4_PATTERN, &s);
    }

    #[test]
    fn scanner_equals_regex_on_long_ascii_nanochat(s in ascii_text(200)) {
        same_chunks(NANOCHAT_PATTERN, &s);
    }

    #[test]
    fn scanner_equals_regex_on_long_ascii_cl100k_tiktoken(s in ascii_text(200)) {
        same_chunks(CL100K_TIKTOKEN_PATTERN, &s);
    }

    #[test]
    fn scanner_equals_regex_on_long_ascii_gpt2(s in ascii_text(200)) {
        same_chunks(GPT2_PATTERN, &s);
    }

    #[test]
    fn scanner_equals_regex_on_long_ascii_r50k_tiktoken(s in ascii_text(200)) {
        same_chunks(R50K_TIKTOKEN_PATTERN, &s);
    }

    #[test]
    fn scanner_equals_regex_on_long_ascii_o200k(s in ascii_text(200)) {
        same_chunks(O200K_PATTERN, &s);
    }

    #[test]
    fn scanner_equals_regex_gpt2(s in text(40)) {
        same_chunks(GPT2_PATTERN, &s);
    }

    #[test]
    fn scanner_equals_regex_o200k(s in text(40)) {
        same_chunks(O200K_PATTERN, &s);
    }

    #[test]
    fn scanner_equals_regex_cl100k_tiktoken(s in text(40)) {
        same_chunks(CL100K_TIKTOKEN_PATTERN, &s);
    }

    #[test]
    fn scanner_equals_regex_r50k_tiktoken(s in text(40)) {
        same_chunks(R50K_TIKTOKEN_PATTERN, &s);
    }

    #[test]
    fn pieces_split_like_the_whole(s in prop_oneof![text(200), ascii_text(200)], min in 1usize..200, pattern in proptest::sample::select(vec![GPT4_PATTERN, GPT2_PATTERN])) {
        let p = Pretokenizer::new(pattern).unwrap();
        let whole = p.chunks(&s).unwrap();
        let mut pieces = Vec::new();
        p.pieces(&s, min, |piece| pieces.push(piece));
        prop_assert_eq!(pieces.concat(), s.clone());
        let joined: Vec<&str> = pieces.iter().flat_map(|piece| p.chunks(piece).unwrap()).collect();
        prop_assert_eq!(joined, whole);
    }

    #[test]
    fn a_cut_splits_like_the_whole(s in prop_oneof![text(200), ascii_text(200)], from in 0usize..400, pattern in proptest::sample::select(vec![GPT4_PATTERN, GPT2_PATTERN, NANOCHAT_PATTERN])) {
        let p = Pretokenizer::new(pattern).unwrap();
        prop_assert!(p.can_cut());
        if let Some(cut) = p.cut_after(&s, from) {
            prop_assert!(cut >= from && cut < s.len());
            let mut joined = p.chunks(&s[..cut]).unwrap();
            joined.extend(p.chunks(&s[cut..]).unwrap());
            prop_assert_eq!(joined, p.chunks(&s).unwrap());
        }
    }
}

#[test]
fn cuts_are_found_only_where_the_engine_knows_them() {
    let text = "some words, then more words";
    let scanner = Pretokenizer::new(GPT4_PATTERN).unwrap();
    assert_eq!(scanner.cut_after(text, 0), Some(4));
    assert_eq!(scanner.cut_after(text, 5), Some(10));
    assert_eq!(scanner.cut_after(text, 24), None);
    let regex = Pretokenizer::with_regex(GPT4_PATTERN).unwrap();
    assert!(!regex.can_cut());
    assert_eq!(regex.cut_after(text, 0), None);
}

#[test]
fn handpicked_cases() {
    for s in [
        "",
        "Hello world",
        "it's we'LL they'Re I'ſ don't",
        "   leading and trailing   ",
        "a\r\n\r\nb \n c\t\td",
        "12345 1234567 ١٢٣٤",
        "?!... ...\n\n x",
        "'hello 'S'",
        "中文 日本語のテキスト 한국어",
        "e\u{301}\u{301}tude",
        "😀😀 👍🏽",
        "HTTPServer's JSONParser'LL camelCase ǅungla ʰʰa 中文's x\u{301}Y\u{301}",
        "a/b.\n/\r\n// x  \n  \t\n\n  ",
        "trailing \n \t ",
    ] {
        for pattern in [
            GPT4_PATTERN,
            NANOCHAT_PATTERN,
            GPT2_PATTERN,
            O200K_PATTERN,
            CL100K_TIKTOKEN_PATTERN,
            R50K_TIKTOKEN_PATTERN,
        ] {
            same_chunks(pattern, s);
        }
    }
}

#[test]
fn a_million_spaces_is_split_without_loss() {
    let s = " ".repeat(1_000_000) + "x" + &"\n".repeat(1000);
    let p = Pretokenizer::new(GPT4_PATTERN).unwrap();
    let chunks = p.chunks(&s).unwrap();
    assert_eq!(chunks.concat(), s);
    assert_eq!(chunks.len(), 3);
}

#[test]
fn other_patterns_use_the_regex_engine() {
    let p = Pretokenizer::new(r"\w+|\W").unwrap();
    assert!(!p.uses_scanner());
    assert_eq!(p.chunks("ab, c").unwrap(), vec!["ab", ",", " ", "c"]);
}

#[test]
fn a_bad_pattern_is_an_error() {
    let e = Pretokenizer::new("(unclosed").unwrap_err();
    assert!(e.to_string().contains("invalid split pattern"), "{e}");
}
