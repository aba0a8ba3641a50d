//! `bpe train`: inputs → batches → [`bpe_core::Trainer`] → a tiktoken file.
//!
//! Everything that can be checked before reading is checked first (vocab size, special
//! tokens, pattern, input files, the output's directory), so a mistake costs no counting.
//! Reading runs on its own thread one batch ahead of counting. The vocabulary is written to
//! a temporary file beside the output and renamed over it only once complete, so a failure
//! never leaves a partial output.

use crate::args::TrainArgs;
use crate::input::{self, Batch, FeedError, Lines, Reader};
use crate::progress::{mb, thousands, Progress};
use crate::CliError;
use bpe_core::{threads, Trainer, Vocabulary};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};
use std::time::{Duration, Instant};

/// Runs `bpe train`.
pub fn run(args: TrainArgs) -> Result<(), CliError> {
    let start = Instant::now();
    let specials: Vec<&str> = args.special_tokens.iter().map(String::as_str).collect();
    let minimum = 256 + specials.len() as u64;
    if (args.vocab_size as u64) < minimum {
        return Err(CliError::failed(format!(
            "vocab size {} is too small: the minimum is {minimum} (256 byte tokens + {} special tokens)",
            args.vocab_size,
            specials.len()
        )));
    }
    // An empty vocabulary with these special tokens validates them now rather than after
    // training (empty or repeated tokens).
    Vocabulary::from_merges(&[], &args.pattern, &specials)?;
    // The trainer uses the current rayon pool, so that decoding JSONL shares `--threads`
    // with counting and merging: this one, or rayon's global pool (one thread per core).
    let pool = threads::pool(args.threads)?;
    let mut trainer = Trainer::new(&args.pattern, 0)?;
    input::check_readable(&args.inputs)?;
    let output = Output::prepare(&args.output)?;

    let progress = Progress::start();
    let counters = progress.counters.clone();
    threads::install(pool.as_ref(), || feed(&mut trainer, &args, &progress))?;
    let counted = start.elapsed();

    let n_merges = args.vocab_size - minimum as u32;
    counters.start_merging(trainer.counts().len() as u64, n_merges);
    let merge_start = Instant::now();
    let vocab = threads::install(pool.as_ref(), || {
        trainer.train(args.vocab_size, &specials, &mut |p| {
            counters.merged(p.done);
            true
        })
    })?;
    let merged = merge_start.elapsed();
    drop(progress);

    output.commit(&vocab)?;
    if !args.quiet {
        let summary = Summary {
            trainer: &trainer,
            vocab: &vocab,
            requested_merges: n_merges,
            counted,
            merged,
            total: start.elapsed(),
            output: &args.output,
        };
        eprint!("{summary}");
    }
    std::mem::forget(trainer);
    std::mem::forget(vocab);
    Ok(())
}

/// Reads every input and feeds the trainer, one batch behind the reader.
fn feed(trainer: &mut Trainer, args: &TrainArgs, progress: &Progress) -> Result<(), CliError> {
    let counters = &progress.counters;
    let abandoned = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // A channel of one: while a batch is counted, the next waits in the channel and the
        // reader fills the one after, and goes no further, so at most four batches exist at
        // a time (one of them spent, on its way back to the reader).
        let (batches_tx, batches) = sync_channel(1);
        let (spent, spent_rx) = channel::<Batch>();
        let reader = Reader {
            inputs: &args.inputs,
            batch_bytes: args.batch_bytes,
            batches: batches_tx,
            spent: spent_rx,
            bytes_read: &counters.bytes_read,
            abandoned: &abandoned,
        };
        let reading = std::thread::Builder::new()
            .name("bpe-reader".into())
            .spawn_scoped(scope, move || input::read_all(reader))
            .map_err(|e| CliError::failed(format!("cannot start the reader thread: {e}")))?;
        let result = (|| {
            while let Ok(batch) = batches.recv() {
                let batch = batch?;
                let (documents, lines) = batch.parts(&args.text_field);
                let before = trainer.counts().documents();
                trainer
                    .feed_parts(&documents, &lines)
                    .map_err(|e| feed_error(e, &lines, args))?;
                counters
                    .bytes_counted
                    .fetch_add(batch.bytes() as u64, Ordering::Relaxed);
                counters
                    .documents
                    .fetch_add(trainer.counts().documents() - before, Ordering::Relaxed);
                drop((documents, lines));
                let _ = spent.send(batch);
            }
            Ok(())
        })();
        if result.is_err() {
            abandoned.store(true, Ordering::Relaxed);
        }
        // Dropping the receiver wakes a reader blocked on a full channel.
        drop(batches);
        if reading.join().is_err() {
            return Err(CliError::failed("the reader thread panicked"));
        }
        result
    })
}

/// Says what is wrong with a batch, naming the line or file at fault.
fn feed_error(e: FeedError, lines: &Lines, args: &TrainArgs) -> CliError {
    let (input, line, error) = match e {
        FeedError::BadLine(bad) => {
            let name = args.inputs[bad.input].name();
            return CliError::failed(format!("{name}: line {}: {}", bad.line, bad.problem));
        }
        FeedError::Text { input, line, error } => (input, line, error),
        // The whole documents are the batch's documents in memory.
        FeedError::Batch(
            error @ (bpe_core::Error::RegexRuntime { document, .. }
            | bpe_core::Error::InvalidUtf8 { document, .. }),
        ) => {
            let (input, line) = lines.whole_origin(document);
            (input, line, error)
        }
        FeedError::Batch(error) => return error.into(),
    };
    let name = args.inputs[input].name();
    let place = match line {
        0 => name,
        n => format!("{name}: line {n}"),
    };
    match error {
        bpe_core::Error::RegexRuntime { message, .. } => {
            CliError::failed(format!("{place}: the split pattern failed: {message}"))
        }
        bpe_core::Error::InvalidUtf8 { offset, .. } => CliError::failed(format!(
            "{place}: not valid UTF-8 (first bad byte at offset {offset})"
        )),
        e => e.into(),
    }
}

/// The output file, written under a temporary name in the same directory (so the rename is
/// atomic) and renamed at the end.
struct Output {
    path: PathBuf,
    temp: PathBuf,
}

impl Output {
    /// Checks that the output can be written by creating and removing the temporary file.
    fn prepare(path: &Path) -> Result<Self, CliError> {
        let cannot = |why: &dyn std::fmt::Display| {
            CliError::failed(format!("cannot write {}: {why}", path.display()))
        };
        if path.is_dir() {
            return Err(cannot(&"it is a directory"));
        }
        let names_a_directory = path.as_os_str().as_encoded_bytes().ends_with(b"/");
        let Some(name) = path.file_name().filter(|_| !names_a_directory) else {
            return Err(cannot(&"it names no file"));
        };
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = path.with_file_name(temp_name);
        std::fs::File::create(&temp).map_err(|e| cannot(&e))?;
        let _ = std::fs::remove_file(&temp);
        Ok(Output {
            path: path.to_path_buf(),
            temp,
        })
    }

    fn commit(&self, vocab: &Vocabulary) -> Result<(), CliError> {
        let written = vocab
            .save_tiktoken(&self.temp)
            .map_err(CliError::from)
            .and_then(|()| {
                std::fs::rename(&self.temp, &self.path).map_err(|e| {
                    CliError::failed(format!("cannot write {}: {e}", self.path.display()))
                })
            });
        if written.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        written
    }
}

struct Summary<'a> {
    trainer: &'a Trainer,
    vocab: &'a Vocabulary,
    requested_merges: u32,
    counted: Duration,
    merged: Duration,
    total: Duration,
    output: &'a Path,
}

impl std::fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts = self.trainer.counts();
        let learned = self.vocab.len() as u32 - 256;
        let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
        writeln!(f, "documents      {}", thousands(counts.documents()))?;
        writeln!(
            f,
            "bytes          {} ({})",
            thousands(counts.bytes()),
            mb(counts.bytes())
        )?;
        writeln!(f, "unique chunks  {}", thousands(counts.len() as u64))?;
        write!(
            f,
            "merges         {} of {}",
            thousands(learned as u64),
            thousands(self.requested_merges as u64)
        )?;
        if learned < self.requested_merges {
            write!(f, " (stopped early: no pair left to merge)")?;
        }
        writeln!(f)?;
        write!(
            f,
            "vocab size     {}",
            thousands(self.vocab.n_vocab() as u64)
        )?;
        let specials = self.vocab.special_tokens();
        if !specials.is_empty() {
            let list: Vec<String> = specials
                .iter()
                .map(|(s, id)| format!("{s} = {id}"))
                .collect();
            write!(
                f,
                " ({} ranks in the file; special tokens, not stored in it: {})",
                thousands(self.vocab.len() as u64),
                list.join(", ")
            )?;
        }
        writeln!(f)?;
        let rate = counts.bytes() as f64 / 1e6 / self.counted.as_secs_f64().max(1e-9);
        writeln!(f, "counting       {} ({rate:.1} MB/s)", secs(self.counted))?;
        writeln!(f, "merging        {}", secs(self.merged))?;
        writeln!(f, "total          {}", secs(self.total))?;
        writeln!(f, "output         {}", self.output.display())
    }
}
