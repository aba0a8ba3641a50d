//! The progress line on stderr: bytes read and counted while feeding, then merges done.
//!
//! The workers only store numbers in atomics (a merge costs one relaxed store); a separate
//! thread redraws the line from them ten times a second with `\r`, and only when stderr is
//! a terminal. Dropping the [`Progress`] stops that thread and erases the line, so the
//! summary or an error message starts on a clean line.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const FEEDING: u8 = 0;
const MERGING: u8 = 1;

/// The numbers the line shows.
#[derive(Default)]
pub struct Counters {
    phase: AtomicU8,
    /// Bytes read from the inputs.
    pub bytes_read: AtomicU64,
    /// Bytes counted by the trainer.
    pub bytes_counted: AtomicU64,
    /// Documents counted by the trainer.
    pub documents: AtomicU64,
    /// Distinct chunks, known once feeding is over.
    chunks: AtomicU64,
    merges_done: AtomicU32,
    merges_total: AtomicU32,
}

impl Counters {
    /// Switches the line to the merge phase.
    pub fn start_merging(&self, chunks: u64, total: u32) {
        self.chunks.store(chunks, Ordering::Relaxed);
        self.merges_total.store(total, Ordering::Relaxed);
        self.phase.store(MERGING, Ordering::Relaxed);
    }

    /// Records the merges done so far.
    pub fn merged(&self, done: u32) {
        self.merges_done.store(done, Ordering::Relaxed);
    }
}

/// The progress display; inert when stderr is not a terminal.
pub struct Progress {
    pub counters: Arc<Counters>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts redrawing if stderr is a terminal.
    pub fn start() -> Self {
        let counters = Arc::new(Counters::default());
        if !std::io::stderr().is_terminal() {
            return Progress {
                counters,
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = channel::<()>();
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("bpe-progress".into())
            .spawn(move || {
                let start = Instant::now();
                let mut stderr = std::io::stderr();
                // Dropping the sender wakes this thread at once rather than at the next tick.
                while let Err(RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(Duration::from_millis(100))
                {
                    let line = render(&c, start.elapsed());
                    let _ = write!(stderr, "\r{line}\x1b[K");
                }
                let _ = write!(stderr, "\r\x1b[K");
            })
            .ok();
        Progress {
            counters,
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn render(c: &Counters, elapsed: Duration) -> String {
    let read = c.bytes_read.load(Ordering::Relaxed);
    if c.phase.load(Ordering::Relaxed) == FEEDING {
        let rate = read as f64 / 1e6 / elapsed.as_secs_f64().max(1e-3);
        return format!(
            "bpe: read {} ({rate:.1} MB/s), counted {} in {} documents",
            mb(read),
            mb(c.bytes_counted.load(Ordering::Relaxed)),
            thousands(c.documents.load(Ordering::Relaxed)),
        );
    }
    let done = c.merges_done.load(Ordering::Relaxed);
    let total = c.merges_total.load(Ordering::Relaxed);
    if done == 0 {
        return format!(
            "bpe: indexing the pairs of {} unique chunks",
            thousands(c.chunks.load(Ordering::Relaxed))
        );
    }
    format!(
        "bpe: merged {} of {} ({:.0}%)",
        thousands(done as u64),
        thousands(total as u64),
        100.0 * done as f64 / total.max(1) as f64
    )
}

/// Bytes in megabytes (10^6), one decimal.
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let head = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        r => r,
    };
    let mut out = digits[..head].to_string();
    for group in digits.as_bytes()[head..].chunks(3) {
        out.push(',');
        out.extend(group.iter().map(|&b| b as char));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(mb(61_400_000), "61.4 MB");
    }

    #[test]
    fn renders_each_phase() {
        let c = Counters::default();
        c.bytes_read.store(2_000_000, Ordering::Relaxed);
        assert!(render(&c, Duration::from_secs(1)).starts_with("bpe: read 2.0 MB (2.0 MB/s)"));
        c.start_merging(5000, 200);
        assert_eq!(
            render(&c, Duration::from_secs(1)),
            "bpe: indexing the pairs of 5,000 unique chunks"
        );
        c.merged(50);
        assert_eq!(
            render(&c, Duration::from_secs(1)),
            "bpe: merged 50 of 200 (25%)"
        );
    }
}
