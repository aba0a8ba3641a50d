//! Times the stages of training on a JSONL corpus: read, split + count, merge loop.
//!
//! Usage: bench_train [CORPUS.jsonl] [VOCAB] [PATTERN: gpt4|nanochat|gpt2] [OUT.tiktoken]
//! With MARKS=1, also prints when each power-of-two number of merges was reached.

use bpe_core::{preset, Trainer};
use std::io::BufRead;
use std::time::Instant;

/// CPU seconds this process has used (user + system), from /proc: under load from other
/// processes it moves less than the wall clock.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(") ").next().unwrap_or("").split(' ').collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().map(|x| x.parse::<f64>().unwrap_or(0.0)).sum()
    });
    ticks / 100.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        format!(
            "{}/.cache/bpe-corpus/docs.jsonl",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let vocab: u32 = args.next().map_or(32768, |s| s.parse().expect("VOCAB"));
    let pattern = preset(&args.next().unwrap_or_else(|| "nanochat".into())).expect("pattern");
    let output = args.next();
    let t = Instant::now();
    let file = std::fs::File::open(&path).unwrap();
    let docs: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let read = t.elapsed();
    let (t, c0) = (Instant::now(), cpu());
    let mut trainer = Trainer::new(pattern, 0).unwrap();
    // BATCH_MB: feed in batches of about this many MB, as the Python binding does.
    let batch_mb: f64 = std::env::var("BATCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::INFINITY);
    let mut batch: Vec<&[u8]> = Vec::new();
    let mut size = 0usize;
    for d in &docs {
        batch.push(d.as_bytes());
        size += d.len();
        if size as f64 >= batch_mb * 1e6 {
            trainer.feed(&batch).unwrap();
            batch.clear();
            size = 0;
        }
    }
    trainer.feed(&batch).unwrap();
    let count = t.elapsed();
    let (t, c1) = (Instant::now(), cpu());
    let mut marks = Vec::new();
    let v = trainer
        .train(vocab, &[], &mut |p| {
            if p.done.is_power_of_two() || p.done == p.total {
                marks.push((p.done, t.elapsed()));
            }
            true
        })
        .unwrap();
    let merge = t.elapsed();
    if std::env::var_os("MARKS").is_some() {
        let mut last = std::time::Duration::ZERO;
        for (done, at) in &marks {
            println!("merges up to {done:>6}: {:>7.1?} (+{:.1?})", at, *at - last);
            last = *at;
        }
    }
    let c2 = cpu();
    println!(
        "read {read:.2?}, split + count {count:.2?} (cpu {:.2}s, {} distinct chunks), merge loop {merge:.2?} (cpu {:.2}s, {} tokens)",
        c1 - c0,
        trainer.counts().len(),
        c2 - c1,
        v.len()
    );
    if let Some(out) = output {
        v.save_tiktoken(std::path::Path::new(&out)).unwrap();
    }
}
