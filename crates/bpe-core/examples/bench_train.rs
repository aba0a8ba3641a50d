//! Times the stages of training on a JSONL corpus: read, split + count, merge loop.
//!
//! Usage: bench_train [CORPUS.jsonl] [VOCAB] [PATTERN: gpt4|nanochat|gpt2] [OUT.tiktoken]

use bpe_core::{preset, Trainer};
use std::io::BufRead;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        format!("{}/.cache/bpe-corpus/docs.jsonl", std::env::var("HOME").unwrap_or_default())
    });
    let vocab: u32 = args.next().map_or(32768, |s| s.parse().expect("VOCAB"));
    let pattern = preset(&args.next().unwrap_or_else(|| "nanochat".into())).expect("pattern");
    let output = args.next();
    let t = Instant::now();
    let file = std::fs::File::open(&path).unwrap();
    let docs: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let read = t.elapsed();
    let t = Instant::now();
    let mut trainer = Trainer::new(pattern, 0).unwrap();
    let batch: Vec<&[u8]> = docs.iter().map(|d| d.as_bytes()).collect();
    trainer.feed(&batch).unwrap();
    let count = t.elapsed();
    let t = Instant::now();
    let v = trainer.train(vocab, &[], &mut |_| true).unwrap();
    let merge = t.elapsed();
    println!(
        "read {read:.2?}, split + count {count:.2?} ({} distinct chunks), merge loop {merge:.2?} ({} tokens)",
        trainer.counts().len(),
        v.len()
    );
    if let Some(out) = output {
        v.save_tiktoken(std::path::Path::new(&out)).unwrap();
    }
}
