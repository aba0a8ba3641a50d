//! Every hand-written scanner against fancy-regex running the same pattern: the first byte
//! picks the pattern, the rest (as UTF-8, invalid sequences replaced) is the text.

#![no_main]

use bpe_core::{
    Pretokenizer, CL100K_TIKTOKEN_PATTERN, GPT2_PATTERN, GPT4_PATTERN, NANOCHAT_PATTERN,
    O200K_PATTERN, R50K_TIKTOKEN_PATTERN,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const PATTERNS: [&str; 6] = [
    GPT4_PATTERN,
    NANOCHAT_PATTERN,
    GPT2_PATTERN,
    O200K_PATTERN,
    CL100K_TIKTOKEN_PATTERN,
    R50K_TIKTOKEN_PATTERN,
];

/// (scanner, regex) for each pattern, compiled once.
fn engines() -> &'static Vec<(Pretokenizer, Pretokenizer)> {
    static E: OnceLock<Vec<(Pretokenizer, Pretokenizer)>> = OnceLock::new();
    E.get_or_init(|| {
        PATTERNS
            .iter()
            .map(|p| {
                let fast = Pretokenizer::new(p).unwrap();
                assert!(fast.uses_scanner(), "{p}");
                (fast, Pretokenizer::with_regex(p).unwrap())
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (fast, slow) = &engines()[which as usize % PATTERNS.len()];
    let expected = slow.chunks(&text).unwrap();
    assert_eq!(
        fast.chunks(&text).unwrap(),
        expected,
        "{:?}: {text:?}",
        fast.pattern()
    );
});
