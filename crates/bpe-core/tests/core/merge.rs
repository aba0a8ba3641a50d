//! The incremental merge loop against the recount-everything reference.

use crate::text::{text, tie_heavy};
use bpe_core::merge::{learn_merges, learn_merges_in_parts, reference_merges};
use bpe_core::{Pretokenizer, GPT4_PATTERN};
use proptest::prelude::*;
use std::collections::HashMap;

fn chunk_counts(docs: &[String]) -> HashMap<Vec<u8>, u64> {
    let p = Pretokenizer::new(GPT4_PATTERN).unwrap();
    let mut counts = HashMap::new();
    for d in docs {
        for c in p.chunks(d).unwrap() {
            *counts.entry(c.as_bytes().to_vec()).or_insert(0) += 1;
        }
    }
    counts
}

fn check(docs: &[String], n: u32) {
    let counts = chunk_counts(docs);
    let iter = || counts.iter().map(|(k, &v)| (k.as_slice(), v));
    let fast = learn_merges(iter(), n, 0, &mut |_| true).unwrap();
    let slow = reference_merges(iter(), n);
    assert_eq!(fast, slow, "docs {docs:?}");
    // The same chunks in five parts, made into words in runs on pools of 2 and 3 threads.
    let all: Vec<(&[u8], u64)> = iter().collect();
    for pool in pools() {
        let parts = all.chunks(all.len().div_ceil(5).max(1));
        let parts: Vec<_> = parts.map(|part| part.iter().copied()).collect();
        let in_parts = learn_merges_in_parts(parts, n, 0, Some(pool), &mut |_| true).unwrap();
        assert_eq!(
            in_parts,
            slow,
            "docs {docs:?}, {} threads",
            pool.current_num_threads()
        );
    }
}

fn pools() -> &'static [rayon::ThreadPool] {
    static POOLS: std::sync::OnceLock<Vec<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOLS.get_or_init(|| {
        [2, 3]
            .map(|n| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .unwrap()
            })
            .into()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn incremental_equals_reference(docs in proptest::collection::vec(text(30), 1..8), n in 1u32..80) {
        check(&docs, n);
    }

    /// Asking for more than 65536 ids takes the arena of 32-bit symbols (training stops
    /// early: these texts have far fewer pairs).
    #[test]
    fn incremental_equals_reference_with_wide_ids(docs in proptest::collection::vec(text(30), 1..8), n in 65281u32..70000) {
        check(&docs, n);
    }

    #[test]
    fn incremental_equals_reference_on_ties(docs in proptest::collection::vec(tie_heavy(40), 1..10), n in 1u32..120) {
        check(&docs, n);
    }
}

#[test]
fn overlapping_runs() {
    // "aaaa" counts (a,a) three times, then merges two non-overlapping pairs.
    let docs: Vec<String> = ["aaaa", "aaa", "aaaaa aaaaaaa", "abababab"]
        .map(String::from)
        .to_vec();
    check(&docs, 20);
}

#[test]
fn stops_early_when_no_pair_is_left() {
    let counts = [(b"ab".as_slice(), 3u64), (b"c".as_slice(), 5)];
    let merges = learn_merges(counts.iter().copied(), 10, 0, &mut |_| true).unwrap();
    assert_eq!(merges, vec![(97, 98)]);
}

#[test]
fn ties_go_to_the_smallest_pair() {
    // (b,a) and (a,b)... each pair once: the smallest (left, right) wins.
    let counts = [
        (b"ba".as_slice(), 1u64),
        (b"ab".as_slice(), 1),
        (b"cd".as_slice(), 1),
    ];
    let merges = learn_merges(counts.iter().copied(), 3, 0, &mut |_| true).unwrap();
    assert_eq!(merges, vec![(97, 98), (98, 97), (99, 100)]);
}

#[test]
fn counts_beyond_u32_do_not_wrap() {
    let big = u32::MAX as u64 * 3;
    let counts = [(b"xy".as_slice(), big), (b"ab".as_slice(), big - 1)];
    // Both arenas: 16-bit symbols (two merges asked for) and 32-bit ones (70000).
    for n in [2, 70000] {
        let merges = learn_merges(counts.iter().copied(), n, 0, &mut |_| true).unwrap();
        assert_eq!(merges, vec![(120, 121), (97, 98)]);
    }
}

#[test]
fn progress_can_cancel() {
    let counts = [(b"abcdef".as_slice(), 2u64)];
    let mut calls = 0;
    let r = learn_merges(counts.iter().copied(), 5, 0, &mut |p| {
        calls += 1;
        p.done < 2
    });
    assert_eq!(r, Err(bpe_core::Error::Cancelled));
    assert_eq!(calls, 2);
}

#[test]
fn merges_of_long_word_lists_run_in_parallel_and_agree() {
    // Thousands of distinct words share the first pairs, so their merges are cut into parts
    // for the helper threads, at boundaries that move with the number of threads.
    let words: Vec<String> = (0..6000)
        .map(|i| format!("the{}then{}", i * 7919 % 100_000, "e".repeat(i % 5)))
        .collect();
    let counts: Vec<(Vec<u8>, u64)> = words
        .iter()
        .enumerate()
        .map(|(i, w)| (w.clone().into_bytes(), 1 + (i % 3) as u64))
        .collect();
    let iter = || counts.iter().map(|(k, v)| (k.as_slice(), *v));
    let slow = reference_merges(iter(), 200);
    for threads in [1, 2, 3, 4] {
        let fast = learn_merges(iter(), 200, threads, &mut |_| true).unwrap();
        assert_eq!(fast, slow, "{threads} threads");
        // Asking for more than 65536 ids takes the arena of 32-bit symbols; its first
        // merges are the same.
        let wide = learn_merges(iter(), 70_000, threads, &mut |_| true).unwrap();
        assert_eq!(wide[..200], slow, "{threads} threads, 32-bit symbols");
    }
}
