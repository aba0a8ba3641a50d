//! The streaming trainer: batches, all-or-nothing feeding, sizes and special tokens.

use bpe_core::{Error, Trainer, GPT4_PATTERN, NANOCHAT_PATTERN};

#[test]
fn a_bad_batch_changes_nothing() {
    let mut t = Trainer::new(GPT4_PATTERN, 2).unwrap();
    t.feed(&[b"hello world".as_slice()]).unwrap();
    let before: Vec<(Vec<u8>, u64)> = {
        let mut v: Vec<_> = t.counts().iter().map(|(k, n)| (k.to_vec(), n)).collect();
        v.sort();
        v
    };
    let e = t
        .feed(&[b"fine".as_slice(), b"ok \xff\xfe bad".as_slice()])
        .unwrap_err();
    assert_eq!(
        e,
        Error::InvalidUtf8 {
            document: 1,
            offset: 3
        }
    );
    let mut after: Vec<_> = t.counts().iter().map(|(k, n)| (k.to_vec(), n)).collect();
    after.sort();
    assert_eq!(before, after);
    assert_eq!(t.counts().documents(), 1);
}

#[test]
fn vocab_size_counts_special_tokens() {
    let mut t = Trainer::new(NANOCHAT_PATTERN, 0).unwrap();
    t.feed(&["the cat and the hat ".repeat(50).as_bytes()])
        .unwrap();
    let v = t
        .train(262, &["<|bos|>", "<|eos|>"], &mut |_| true)
        .unwrap();
    assert_eq!(v.len(), 260);
    assert_eq!(v.special_token("<|bos|>"), Some(260));
    assert_eq!(v.special_token("<|eos|>"), Some(261));
    assert_eq!(v.n_vocab(), 262);
    let e = t
        .train(257, &["<|bos|>", "<|eos|>"], &mut |_| true)
        .unwrap_err();
    assert_eq!(
        e,
        Error::VocabSize {
            requested: 257,
            minimum: 258
        }
    );
    assert!(t.train(255, &[], &mut |_| true).is_err());
}

#[test]
fn train_twice_and_feed_after_train() {
    let mut t = Trainer::new(GPT4_PATTERN, 0).unwrap();
    t.feed(&[b"abab abab".as_slice()]).unwrap();
    let a = t.train(300, &[], &mut |_| true).unwrap();
    let b = t.train(300, &[], &mut |_| true).unwrap();
    assert_eq!(a, b);
    t.feed(&[b"xyxyxyxyxy xyxyxyxy xyxyxy".as_slice()]).unwrap();
    let c = t.train(300, &[], &mut |_| true).unwrap();
    assert_ne!(a, c);
    assert_eq!(t.counts().documents(), 2);
}

#[test]
fn a_huge_document_counts_like_its_sequential_split() {
    let doc = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(80_000);
    let mut t = Trainer::new(GPT4_PATTERN, 2).unwrap();
    t.feed(&[doc.as_bytes()]).unwrap();
    assert!(doc.len() > 4 << 20);
    let p = bpe_core::Pretokenizer::with_regex(GPT4_PATTERN).unwrap();
    let mut want = std::collections::HashMap::new();
    for c in p.chunks(&doc).unwrap() {
        *want.entry(c.as_bytes().to_vec()).or_insert(0u64) += 1;
    }
    assert_eq!(t.counts().len(), want.len());
    for (k, n) in &want {
        assert_eq!(t.counts().get(k), *n, "{:?}", String::from_utf8_lossy(k));
    }
}

/// Short, medium and long chunks (packed in a `u64`, a `u128`, or kept as bytes: each kind
/// has its own tables) fed over several batches count as one sequential split of them all,
/// read back by chunk and as a whole.
#[test]
fn batches_count_like_one_sequential_split() {
    let mut state = 0x853c_49e6_748f_ea9bu64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let letters = ["a", "b", "é", "ж", "語"];
    let docs: Vec<String> = (0..300)
        .map(|_| {
            (0..200)
                .map(|_| {
                    let len = 1 + next() % 40;
                    let word: String = (0..len).map(|_| letters[(next() % 5) as usize]).collect();
                    [" ", "  ", "\n"][(next() % 3) as usize].to_string() + &word
                })
                .collect()
        })
        .collect();
    let mut t = Trainer::new(GPT4_PATTERN, 2).unwrap();
    for batch in docs.chunks(70) {
        let batch: Vec<&[u8]> = batch.iter().map(|d| d.as_bytes()).collect();
        t.feed(&batch).unwrap();
    }
    let p = bpe_core::Pretokenizer::with_regex(GPT4_PATTERN).unwrap();
    let mut want = std::collections::HashMap::new();
    for d in &docs {
        for c in p.chunks(d).unwrap() {
            *want.entry(c.as_bytes().to_vec()).or_insert(0u64) += 1;
        }
    }
    assert!(want.keys().any(|k| k.len() > 15) && want.keys().any(|k| k.len() <= 7));
    for (k, n) in &want {
        assert_eq!(t.counts().get(k), *n, "{:?}", String::from_utf8_lossy(k));
    }
    let got: std::collections::HashMap<Vec<u8>, u64> =
        t.counts().iter().map(|(k, n)| (k.to_vec(), n)).collect();
    assert_eq!(got, want);
}

#[test]
fn cancel_flag_stops_training() {
    let mut t = Trainer::new(GPT4_PATTERN, 0).unwrap();
    t.feed(&["some text to learn from, again and again "
        .repeat(20)
        .as_bytes()])
        .unwrap();
    let flag = t.cancel_flag();
    let e = t.train(400, &[], &mut |p| {
        if p.done == 3 {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        true
    });
    assert_eq!(e.unwrap_err(), Error::Cancelled);
}

#[test]
fn a_million_spaces_through_the_regex_engine_is_counted_or_rejected_whole() {
    // Not one of the scanner's patterns, so fancy-regex runs it, lookahead and all.
    let pattern = r"'s|[^\r\n\p{L}\p{N}]?\p{L}+|\s+(?!\S)|\s+|\S";
    let doc = " ".repeat(1_000_000) + "end";
    let mut t = Trainer::new(pattern, 0).unwrap();
    match t.feed(&[b"before".as_slice(), doc.as_bytes()]) {
        Ok(()) => {
            // Counted: nothing dropped.
            let total: u64 = t.counts().iter().map(|(c, n)| c.len() as u64 * n).sum();
            assert_eq!(total, 6 + doc.len() as u64);
        }
        Err(e) => {
            // Rejected: the error names the document, and nothing of the batch was counted.
            assert!(matches!(e, Error::RegexRuntime { document: 1, .. }), "{e}");
            assert!(t.counts().is_empty());
        }
    }
}

#[test]
fn a_huge_vocab_size_stops_early_without_allocating_for_it() {
    let mut t = Trainer::new(GPT4_PATTERN, 0).unwrap();
    t.feed(&[b"abab cdcd abab".as_slice()]).unwrap();
    let v = t.train(u32::MAX, &[], &mut |_| true).unwrap();
    assert!(v.len() < 300);
}

#[test]
fn a_long_document_checked_in_pieces_names_its_first_bad_byte() {
    // Multi-byte chars of every length, so the piece boundaries (every 1 MB) fall inside
    // chars and move; then bytes are broken around those boundaries and far from them.
    let doc: Vec<u8> = "aé中😀".repeat(350_000).into_bytes();
    let mut t = Trainer::new(GPT4_PATTERN, 2).unwrap();
    t.feed(&[b"ok".as_slice(), &doc]).unwrap();
    for at in [
        0,
        5,
        1 << 20,
        (1 << 20) - 1,
        (1 << 20) + 1,
        (2 << 20) + 2,
        doc.len() - 1,
    ] {
        for broken in [0xFF, 0x80, b'a'] {
            let mut bad = doc.clone();
            bad[at] = broken;
            let Err(e) = std::str::from_utf8(&bad) else {
                continue;
            };
            let got = t.feed(&[b"ok".as_slice(), &bad]).unwrap_err();
            let expected = Error::InvalidUtf8 {
                document: 1,
                offset: e.valid_up_to(),
            };
            assert_eq!(got, expected, "byte {at} set to {broken:#x}");
        }
    }
    assert_eq!(t.counts().documents(), 2);
}

#[test]
fn a_regex_failure_among_many_short_documents_names_its_document() {
    // Short documents are split in jobs of many; the error must still name the one at fault.
    // A repeated choice of two ways to match `a`, with a lookahead that keeps fancy-regex
    // backtracking through every combination until it gives up.
    let bad = "a".repeat(40) + "c";
    let mut documents: Vec<&[u8]> = vec![b"fine text".as_slice(); 5000];
    documents[3217] = bad.as_bytes();
    let mut t = Trainer::new(r"(?:(?=a)a|a)+b|\s+|[^a\s]+|a", 2).unwrap();
    match t.feed(&documents) {
        Err(Error::RegexRuntime { document, .. }) => assert_eq!(document, 3217),
        other => panic!("expected a regex failure in document 3217: {other:?}"),
    }
    assert!(t.counts().is_empty(), "a rejected batch counts nothing");
}
