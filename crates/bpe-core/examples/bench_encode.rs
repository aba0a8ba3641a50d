//! The native encoder alone, in MB/s, on the documents and vocabularies of
//! `anchors.py encode` (written by `scripts/bench_data.py`): one thread, document by
//! document, with a fresh encoder for every pass, and the batch call on 2 threads.
//!
//! Usage: bench_encode [DIR] [NAME...]   (default: target/bench-data; trained cl100k_base o200k_base)

use bpe_core::{Encoder, Vocabulary};
use std::path::Path;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "target/bench-data".into());
    let dir = Path::new(&dir);
    let mut names: Vec<String> = args.collect();
    if names.is_empty() {
        names = ["trained", "cl100k_base", "o200k_base"]
            .map(String::from)
            .to_vec();
    }
    let data = std::fs::read(dir.join("docs.bin"))
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/bench_data.py)", dir.display()));
    let mut docs = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let n = u64::from_le_bytes(data[at..at + 8].try_into().unwrap()) as usize;
        docs.push(std::str::from_utf8(&data[at + 8..at + 8 + n]).unwrap());
        at += 8 + n;
    }
    let mb = docs.iter().map(|d| d.len()).sum::<usize>() as f64 / 1e6;
    println!("{} documents, {mb:.1} MB", docs.len());
    println!("| vocabulary | MB/s, 1 thread | MB/s, batch on 2 threads | ids | chunks | MB/s, split only |");
    println!("|---|---|---|---|---|---|");
    for name in names {
        let pattern = std::fs::read_to_string(dir.join(format!("{name}.pattern"))).unwrap();
        let vocab =
            Vocabulary::load_tiktoken(&dir.join(format!("{name}.tiktoken")), &pattern, vec![])
                .unwrap();
        // Splitting alone, to show how much of the time is the pre-tokenizer's.
        let p = bpe_core::Pretokenizer::new(&pattern).unwrap();
        let t = Instant::now();
        let mut chunks = 0usize;
        for d in &docs {
            p.split(d, |_| chunks += 1).unwrap();
        }
        let split = mb / t.elapsed().as_secs_f64();
        let mut single = Vec::new();
        let mut batch = Vec::new();
        let mut ids = 0;
        for _ in 0..3 {
            let e = Encoder::new(&vocab).unwrap();
            let t = Instant::now();
            ids = docs
                .iter()
                .map(|d| e.encode_ordinary(d).unwrap().len())
                .sum::<usize>();
            single.push(mb / t.elapsed().as_secs_f64());
            let e = Encoder::new(&vocab).unwrap();
            let t = Instant::now();
            let out = e.encode_ordinary_batch(&docs, 2).unwrap();
            batch.push(mb / t.elapsed().as_secs_f64());
            assert_eq!(out.iter().map(Vec::len).sum::<usize>(), ids);
        }
        single.sort_by(f64::total_cmp);
        batch.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.1} | {:.1} | {ids} | {chunks} | {split:.1} |",
            single[1], batch[1]
        );
    }
}
