//! The encoder's fast merges against the plain reference, and round trips.

use crate::text::text;
use bpe_core::encode::{reference_encode_chunk, reference_special_tokens};
use bpe_core::{
    Allowed, Encoder, Pretokenizer, Trainer, Vocabulary, CL100K_TIKTOKEN_PATTERN, GPT2_PATTERN,
    GPT4_PATTERN, NANOCHAT_PATTERN, O200K_PATTERN, R50K_TIKTOKEN_PATTERN,
};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::OnceLock;

/// A small vocabulary trained on generated and repetitive text, shared by the tests.
fn vocab() -> &'static Vocabulary {
    static V: OnceLock<Vocabulary> = OnceLock::new();
    V.get_or_init(|| {
        let mut t = Trainer::new(GPT4_PATTERN, 0).unwrap();
        let docs = [
            "the quick brown fox jumps over the lazy dog; the dog sleeps.".repeat(20),
            "    indented code:\n        return x + 1\n".repeat(10),
            "aaaaaaaaaaaaaaaa bbbbbbbbbb 1234567890 1234567890".repeat(5),
            "中文 日本語 😀😀😀 é é é".repeat(5),
            " ".repeat(300),
        ];
        let docs: Vec<&[u8]> = docs.iter().map(|d| d.as_bytes()).collect();
        t.feed(&docs).unwrap();
        t.train(600, &["<|endoftext|>", "<|bos|>"], &mut |_| true)
            .unwrap()
    })
}

fn ranks() -> HashMap<Vec<u8>, u32> {
    vocab()
        .tokens()
        .iter()
        .enumerate()
        .map(|(r, t)| (t.clone(), r as u32))
        .collect()
}

fn reference_encode(s: &str) -> Vec<u32> {
    let ranks = ranks();
    let p = Pretokenizer::new(GPT4_PATTERN).unwrap();
    p.chunks(s)
        .unwrap()
        .iter()
        .flat_map(|c| reference_encode_chunk(&ranks, c.as_bytes()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn fast_equals_reference(s in text(60)) {
        let e = Encoder::new(vocab()).unwrap();
        let ids = e.encode_ordinary(&s).unwrap();
        prop_assert_eq!(&ids, &reference_encode(&s));
        prop_assert_eq!(e.decode(&ids).unwrap(), s.as_bytes());
    }

    #[test]
    fn long_chunks_use_the_heap_and_agree(c in proptest::sample::select(&['a', 'b', ' ', '1', 'é', '😀'][..]), n in 100usize..600, tail in "[ab ]{0,20}") {
        let s: String = std::iter::repeat_n(c, n).collect::<String>() + &tail;
        let e = Encoder::new(vocab()).unwrap();
        prop_assert_eq!(e.encode_ordinary(&s).unwrap(), reference_encode(&s));
    }
}

#[test]
fn special_tokens_are_recognised_only_when_allowed() {
    let e = Encoder::new(vocab()).unwrap();
    let eot = vocab().special_token("<|endoftext|>").unwrap();
    let bos = vocab().special_token("<|bos|>").unwrap();
    let text = "<|bos|>hello<|endoftext|> world<|endoftext|>";
    let all = e.encode(text, Allowed::All).unwrap();
    assert_eq!(all[0], bos);
    assert_eq!(all.iter().filter(|&&i| i == eot).count(), 2);
    let only = e.encode(text, Allowed::Only(&["<|endoftext|>"])).unwrap();
    assert_ne!(only[0], bos);
    assert_eq!(only.iter().filter(|&&i| i == eot).count(), 2);
    assert_eq!(
        e.encode(text, Allowed::Only(&[])).unwrap(),
        e.encode_ordinary(text).unwrap()
    );
    assert_eq!(e.decode(&all).unwrap(), text.as_bytes());
}

#[test]
fn batch_equals_one_by_one() {
    let e = Encoder::new(vocab()).unwrap();
    let texts: Vec<String> = (0..200)
        .map(|i| format!("document {i}: the dog {}", "x".repeat(i % 17)))
        .collect();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let batch = e.encode_ordinary_batch(&refs, 2).unwrap();
    for (t, ids) in refs.iter().zip(&batch) {
        assert_eq!(&e.encode_ordinary(t).unwrap(), ids);
    }
    // The same, handed over text by text as each is ready.
    let each = std::sync::Mutex::new(vec![None; refs.len()]);
    e.encode_ordinary_each(&refs, 2, |i, ids| {
        let old = each.lock().unwrap()[i].replace(ids.unwrap());
        assert!(old.is_none(), "text {i} handed over twice");
        true
    })
    .unwrap();
    let each: Vec<Vec<u32>> = each.into_inner().unwrap().into_iter().flatten().collect();
    assert_eq!(each, batch);
    // With special tokens: as `encode` gives them, text by text.
    let texts: Vec<String> = (0..200)
        .map(|i| format!("<|bos|>doc {i}<|endoftext|> the dog {}", "x".repeat(i % 5)))
        .collect();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    for allowed in [Allowed::All, Allowed::Only(&["<|endoftext|>"])] {
        let each = std::sync::Mutex::new(vec![None; refs.len()]);
        e.encode_each(&refs, allowed, 2, |i, ids| {
            let old = each.lock().unwrap()[i].replace(ids.unwrap());
            assert!(old.is_none(), "text {i} handed over twice");
            true
        })
        .unwrap();
        let each: Vec<Vec<u32>> = each.into_inner().unwrap().into_iter().flatten().collect();
        let one_by_one: Vec<Vec<u32>> =
            refs.iter().map(|t| e.encode(t, allowed).unwrap()).collect();
        assert_eq!(each, one_by_one);
        assert_eq!(e.encode_batch(&refs, allowed, 2).unwrap(), one_by_one);
    }
}

#[test]
fn a_batch_stops_soon_after_each_says_so() {
    let e = Encoder::new(vocab()).unwrap();
    let texts: Vec<String> = (0..10_000).map(|i| format!("document {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    for threads in [1, 2] {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let stop_after = 10;
        let go_on = |_: usize, _: bpe_core::Result<Vec<u32>>| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 < stop_after
        };
        e.encode_ordinary_each(&refs, threads, go_on).unwrap();
        // Each thread finishes the text it has started, and starts no other.
        let made = calls.into_inner();
        assert!(
            (stop_after..stop_after + 2 * threads).contains(&made),
            "{made} texts handed over after asking to stop at {stop_after} ({threads} threads)"
        );
    }
}

#[test]
fn a_regex_failure_in_a_batch_names_its_document() {
    // A repeated choice of two ways to match `a`, with a lookahead that keeps fancy-regex
    // backtracking through every combination until it gives up.
    let v = vocab_with(r"(?:(?=a)a|a)+b|\s+|[^a\s]+|a", false);
    let e = Encoder::new(&v).unwrap();
    let bad = "a".repeat(40) + "c";
    for (texts, document) in [(["fine", &bad, "fine"], 1), ([&bad, "fine", "fine"], 0)] {
        match e.encode_ordinary_batch(&texts, 2) {
            Err(bpe_core::Error::RegexRuntime { document: d, .. }) => assert_eq!(d, document),
            other => panic!("expected a regex failure in document {document}: {other:?}"),
        }
    }
}

#[test]
fn decode_rejects_unknown_ids() {
    let e = Encoder::new(vocab()).unwrap();
    let n = e.n_vocab();
    assert_eq!(e.decode(&[1, n]), Err(bpe_core::Error::UnknownId(n)));
}

/// Every pattern with a scanner of its own.
const SCANNED: [&str; 6] = [
    GPT4_PATTERN,
    NANOCHAT_PATTERN,
    GPT2_PATTERN,
    O200K_PATTERN,
    CL100K_TIKTOKEN_PATTERN,
    R50K_TIKTOKEN_PATTERN,
];

/// The test vocabulary's tokens under another pattern, with ranks reversed when `reverse`
/// (so single bytes are not ranks 0..255 and the merges run in another order, as in
/// tiktoken's own files).
fn vocab_with(pattern: &str, reverse: bool) -> Vocabulary {
    let mut tokens = vocab().tokens().to_vec();
    if reverse {
        tokens.reverse();
    }
    Vocabulary::new(tokens, pattern, vec![]).unwrap()
}

/// The plain encoder: fancy-regex chunks, each merged by `reference_encode_chunk`.
fn reference_with(v: &Vocabulary, s: &str) -> Vec<u32> {
    let ranks: HashMap<Vec<u8>, u32> = v
        .tokens()
        .iter()
        .enumerate()
        .map(|(r, t)| (t.clone(), r as u32))
        .collect();
    Pretokenizer::with_regex(v.pattern())
        .unwrap()
        .chunks(s)
        .unwrap()
        .iter()
        .flat_map(|c| reference_encode_chunk(&ranks, c.as_bytes()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn fast_equals_reference_with_every_scanner(
        s in text(60),
        pattern in proptest::sample::select(&SCANNED[..]),
        reverse in any::<bool>(),
    ) {
        let v = vocab_with(pattern, reverse);
        let e = Encoder::new(&v).unwrap();
        prop_assert_eq!(e.encode_ordinary(&s).unwrap(), reference_with(&v, &s));
    }
}

#[test]
fn encoders_on_one_thread_never_see_each_others_cached_chunks() {
    // The same chunks get other ids under the reversed ranks; alternating the two encoders
    // on one thread must give each its own ids every time.
    let text = "the quick brown fox jumps; indented code: return x + 1 aaaaaaaaaaaa 1234567890";
    let (a, b) = (
        vocab_with(GPT4_PATTERN, false),
        vocab_with(GPT4_PATTERN, true),
    );
    let (ea, eb) = (Encoder::new(&a).unwrap(), Encoder::new(&b).unwrap());
    let (ra, rb) = (reference_with(&a, text), reference_with(&b, text));
    assert_ne!(ra, rb);
    for _ in 0..3 {
        assert_eq!(ea.encode_ordinary(text).unwrap(), ra);
        assert_eq!(eb.encode_ordinary(text).unwrap(), rb);
    }
    // A new encoder of the same vocabulary starts from nothing and agrees too.
    drop(ea);
    assert_eq!(Encoder::new(&a).unwrap().encode_ordinary(text).unwrap(), ra);
}

#[test]
fn decode_of_encode_is_the_text_for_every_scanner() {
    let text = "Ünïcödé 'S HTTPServer\u{301} 😀😀 12345\r\n\n  \t x/y // z   ";
    for pattern in SCANNED {
        for reverse in [false, true] {
            let e = Encoder::new(&vocab_with(pattern, reverse)).unwrap();
            let ids = e.encode_ordinary(text).unwrap();
            assert_eq!(e.decode(&ids).unwrap(), text.as_bytes(), "{pattern}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// What `encode_with_unstable` promises whatever the text: the stable ids are the
    /// text's own up to a point, and every completion goes on from there.
    #[test]
    fn unstable_completions_go_on_from_the_stable_ids(s in text(30), special in any::<bool>()) {
        let e = Encoder::new(vocab()).unwrap();
        let s = if special { s + "<|bos|>" } else { s };
        let (ids, completions) = e.encode_with_unstable(&s, Allowed::All).unwrap();
        let stable = e.decode(&ids).unwrap();
        prop_assert!(s.as_bytes().starts_with(&stable));
        let unstable = &s.as_bytes()[stable.len()..];
        prop_assert_eq!(&ids[..], &e.encode(&s, Allowed::All).unwrap()[..ids.len()]);
        if special {
            prop_assert!(unstable.is_empty() && completions.is_empty());
        }
        for c in &completions {
            prop_assert!(e.decode(c).unwrap().starts_with(unstable));
        }
        prop_assert!(completions.windows(2).all(|w| w[0] < w[1]), "sorted, each once");
    }
}

#[test]
fn unstable_ends_as_tiktoken_finds_them() {
    // "hi he": the last chunk " he" can go on as " he" or " hel", and nothing else does.
    let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    tokens.extend([b"he".to_vec(), b"hel".to_vec()]);
    let v = Vocabulary::new(tokens, GPT4_PATTERN, vec![]).unwrap();
    let e = Encoder::new(&v).unwrap();
    let (ids, completions) = e.encode_with_unstable("hi he", Allowed::All).unwrap();
    assert_eq!(ids, b"hi".map(u32::from));
    assert_eq!(completions, [vec![32, 256], vec![32, 257]]);
    // A last chunk of spaces takes the chunks of spaces before it along: "\n" + " " could
    // become one chunk once more text comes.
    let (ids, completions) = e.encode_with_unstable("x\n ", Allowed::All).unwrap();
    assert_eq!(ids, [u32::from(b'x')]);
    assert!(completions.contains(&vec![10, 32]));
}

/// Special tokens that overlap: two start the same way, one starts inside another.
const OVERLAPPING: [&str; 4] = ["<|e|>", "<|e|>x", "<|", "e|>"];

/// `s` encoded by the plain route: the special tokens that [`reference_special_tokens`]
/// finds, the text between them encoded by [`reference_encode`].
fn reference_with_specials(v: &Vocabulary, s: &str, allowed: &[&str]) -> Vec<u32> {
    let (mut out, mut from) = (Vec::new(), 0);
    for (at, name) in reference_special_tokens(s, allowed) {
        out.extend(reference_encode(&s[from..at]));
        out.push(v.special_token(name).unwrap());
        from = at + name.len();
    }
    out.extend(reference_encode(&s[from..]));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn special_tokens_split_the_text_as_the_plain_route_does(
        pieces in proptest::collection::vec((text(6), proptest::option::of(0..OVERLAPPING.len())), 0..8),
        some in proptest::sample::subsequence(OVERLAPPING.to_vec(), 0..=OVERLAPPING.len()),
    ) {
        let n = vocab().len() as u32;
        let specials = OVERLAPPING.iter().enumerate().map(|(i, s)| (s.to_string(), n + i as u32)).collect();
        let v = Vocabulary::new(vocab().tokens().to_vec(), GPT4_PATTERN, specials).unwrap();
        let e = Encoder::new(&v).unwrap();
        let s: String = pieces
            .iter()
            .map(|(t, special)| t.clone() + special.map_or("", |i| OVERLAPPING[i]))
            .collect();
        prop_assert_eq!(e.encode(&s, Allowed::All).unwrap(), reference_with_specials(&v, &s, &OVERLAPPING));
        prop_assert_eq!(e.encode(&s, Allowed::Only(&some)).unwrap(), reference_with_specials(&v, &s, &some));
    }
}
