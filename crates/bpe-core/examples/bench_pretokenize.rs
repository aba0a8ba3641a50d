//! Splitting plus counting alone, in MB/s per core: the hand-written scanner beside
//! fancy-regex (the anchor) on the same documents in the same run.
//!
//! Usage: bench_pretokenize [CORPUS.jsonl] [MB]   (default: ~/.cache/bpe-corpus/docs.jsonl, all)

use bpe_core::count::count_batch;
use bpe_core::{Pretokenizer, GPT4_PATTERN, NANOCHAT_PATTERN};
use std::io::BufRead;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        format!(
            "{}/.cache/bpe-corpus/docs.jsonl",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let limit: f64 = args
        .next()
        .map_or(f64::INFINITY, |s| s.parse().expect("MB"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!("cannot open {path}: {e} (build it with ../shared/corpus/build-corpus)")
    });
    let mut docs = Vec::new();
    let mut bytes = 0usize;
    for line in std::io::BufReader::new(file).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let text = v["text"].as_str().unwrap().to_string();
        bytes += text.len();
        docs.push(text);
        if bytes as f64 >= limit * 1e6 {
            break;
        }
    }
    let docs: Vec<&str> = docs.iter().map(|s| s.as_str()).collect();
    let mb = bytes as f64 / 1e6;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{} documents, {mb:.1} MB; split + count, MB/s per core (1 thread) and on {cores} threads",
        docs.len()
    );
    println!("| pattern | engine | MB/s, 1 thread | MB/s, {cores} threads | distinct chunks | x fancy-regex (1 thread) |");
    println!("|---|---|---|---|---|---|");
    let cancel = AtomicBool::new(false);
    for (name, pattern) in [("gpt4", GPT4_PATTERN), ("nanochat", NANOCHAT_PATTERN)] {
        let mut regex_rate = 0.0;
        for (engine, p) in [
            ("fancy-regex", Pretokenizer::with_regex(pattern).unwrap()),
            ("scanner", Pretokenizer::new(pattern).unwrap()),
        ] {
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let best = (0..3)
                    .map(|_| {
                        let t = Instant::now();
                        let n = pool.install(|| count_batch(&p, &docs, &cancel).unwrap().len());
                        (t.elapsed().as_secs_f64(), n)
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0))
                    .unwrap();
                (mb / best.0, best.1)
            };
            let (one, chunks) = run(1);
            let (all, _) = run(cores);
            if engine == "fancy-regex" {
                regex_rate = one;
            }
            println!(
                "| {name} | {engine} | {one:.1} | {all:.1} | {chunks} | {:.1} |",
                one / regex_rate
            );
            if engine == "scanner" {
                // Splitting alone, one thread: what counting adds is the difference.
                let t = Instant::now();
                let mut n = 0usize;
                for d in &docs {
                    p.split(d, |_| n += 1).unwrap();
                }
                let rate = mb / t.elapsed().as_secs_f64();
                println!("| {name} | scanner, split only | {rate:.1} | | {n} chunks | |");
            }
        }
    }
}
