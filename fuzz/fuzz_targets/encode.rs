//! The fast encoder (rank table, cache, flat and heap merges, scanners) against the plain
//! reference (fancy-regex chunks merged by `reference_encode_chunk`), and decode(encode(x))
//! == x; and, with special tokens allowed, against the plain route of taking, from the left,
//! the longest special token that starts at each place. The first byte picks the pattern and
//! whether the ranks are reversed (so that single bytes are not ranks 0..255 and merges run
//! in another order); the rest is the text.

#![no_main]

use bpe_core::encode::{reference_encode_chunk, reference_special_tokens};
use bpe_core::{
    Allowed, Encoder, Pretokenizer, Trainer, Vocabulary, CL100K_TIKTOKEN_PATTERN, GPT2_PATTERN,
    GPT4_PATTERN, NANOCHAT_PATTERN, O200K_PATTERN, R50K_TIKTOKEN_PATTERN,
};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::OnceLock;

const PATTERNS: [&str; 6] = [
    GPT4_PATTERN,
    NANOCHAT_PATTERN,
    GPT2_PATTERN,
    O200K_PATTERN,
    CL100K_TIKTOKEN_PATTERN,
    R50K_TIKTOKEN_PATTERN,
];

/// Special tokens that overlap (two start alike, one starts inside another) and that short
/// inputs reach.
const SPECIALS: [&str; 4] = ["<|e|>", "<|e|>x", "<|", "e|>"];

struct Case {
    encoder: Encoder,
    regex: Pretokenizer,
    ranks: HashMap<Vec<u8>, u32>,
}

/// A 1000-id vocabulary trained on mixed text, under each pattern, ranks as trained and
/// reversed.
fn cases() -> &'static Vec<Case> {
    static C: OnceLock<Vec<Case>> = OnceLock::new();
    C.get_or_init(|| {
        let docs = [
            "the quick brown fox jumps over the lazy dog; The Dog's HTTPServer sleeps.".repeat(20),
            "    indented code:\n        return x + 1\n\n\t// comment\r\n".repeat(10),
            "aaaaaaaaaaaaaaaa bbbbbbbbbb 1234567890 1234567890 !!!??? ...".repeat(5),
            "中文 日本語 😀😀😀 é é é Ünïcödé e\u{301}\u{301}".repeat(5),
            " ".repeat(300),
        ];
        let docs: Vec<&[u8]> = docs.iter().map(|d| d.as_bytes()).collect();
        let mut t = Trainer::new(GPT4_PATTERN, 1).unwrap();
        t.feed(&docs).unwrap();
        let trained = t.train(1000, &SPECIALS, &mut |_| true).unwrap();
        let mut out = Vec::new();
        for pattern in PATTERNS {
            for reverse in [false, true] {
                let mut tokens = trained.tokens().to_vec();
                if reverse {
                    tokens.reverse();
                }
                let v =
                    Vocabulary::new(tokens, pattern, trained.special_tokens().to_vec()).unwrap();
                out.push(Case {
                    encoder: Encoder::new(&v).unwrap(),
                    regex: Pretokenizer::with_regex(pattern).unwrap(),
                    ranks: v
                        .tokens()
                        .iter()
                        .enumerate()
                        .map(|(r, t)| (t.clone(), r as u32))
                        .collect(),
                });
            }
        }
        out
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let cases = cases();
    let case = &cases[which as usize % cases.len()];
    let reference = |s: &str| -> Vec<u32> {
        case.regex
            .chunks(s)
            .unwrap()
            .iter()
            .flat_map(|c| reference_encode_chunk(&case.ranks, c.as_bytes()))
            .collect()
    };
    let ids = case.encoder.encode_ordinary(&text).unwrap();
    assert_eq!(
        ids,
        reference(&text),
        "{:?}: {text:?}",
        case.encoder.pattern()
    );
    assert_eq!(case.encoder.decode(&ids).unwrap(), text.as_bytes());

    let specials = case.encoder.special_tokens();
    let names: Vec<&str> = specials.iter().map(|(name, _)| name.as_str()).collect();
    let (mut expected, mut from) = (Vec::new(), 0);
    for (at, name) in reference_special_tokens(&text, &names) {
        expected.extend(reference(&text[from..at]));
        expected.extend(
            specials
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, id)| *id),
        );
        from = at + name.len();
    }
    expected.extend(reference(&text[from..]));
    let ids = case.encoder.encode(&text, Allowed::All).unwrap();
    assert_eq!(ids, expected, "{:?}: {text:?}", case.encoder.pattern());
    assert_eq!(case.encoder.decode(&ids).unwrap(), text.as_bytes());
});
