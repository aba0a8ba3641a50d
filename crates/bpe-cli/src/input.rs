//! Reading the inputs of `bpe train` into batches of documents.
//!
//! A reader thread fills one batch (documents laid end to end in one buffer) until it holds
//! about `batch_bytes`, hands it over a channel, and starts on the next while the trainer
//! counts the previous one. Spent batches come back on a second channel so their buffers
//! are reused. JSONL files are read in large blocks and split into lines in place.

use crate::args::{Input, Source};
use crate::jsonl::{self, Line};
use crate::CliError;
use std::fs::File;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

/// JSONL is read this many bytes at a time; a longer line grows the block.
const BLOCK: usize = 4 << 20;

/// Documents laid end to end, with where each ends and where it came from.
#[derive(Default)]
pub struct Batch {
    text: Vec<u8>,
    ends: Vec<usize>,
    /// For each document, its input (index into the inputs) and JSONL line (0: whole file).
    origins: Vec<(usize, u64)>,
}

impl Batch {
    /// The documents, as the trainer takes them.
    pub fn documents(&self) -> Vec<&[u8]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let d = &self.text[start..end];
                start = end;
                d
            })
            .collect()
    }

    /// Bytes of text in the batch.
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    /// Where document `i` came from: input index and line (0 for a whole-file document).
    pub fn origin(&self, i: usize) -> (usize, u64) {
        self.origins[i]
    }

    fn end_document(&mut self, input: usize, line: u64) {
        self.ends.push(self.text.len());
        self.origins.push((input, line));
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.origins.clear();
    }
}

/// Why reading stopped early.
enum Stop {
    Failed(CliError),
    /// The trainer side has gone (it failed): nothing more to do.
    Abandoned,
}

impl From<CliError> for Stop {
    fn from(e: CliError) -> Self {
        Stop::Failed(e)
    }
}

/// What the reader is given.
pub struct Reader<'a> {
    /// The inputs, read in order.
    pub inputs: &'a [Input],
    /// The JSONL field holding a document.
    pub text_field: &'a str,
    /// A batch is sent once it holds at least this many bytes of text.
    pub batch_bytes: usize,
    /// Where full batches go; an error is the last message.
    pub batches: SyncSender<Result<Batch, CliError>>,
    /// Batches the trainer is done with, to reuse their buffers.
    pub spent: Receiver<Batch>,
    /// Bytes read so far, for the progress line.
    pub bytes_read: &'a AtomicU64,
    /// Set by the trainer side when it gives up, so a long read stops promptly.
    pub abandoned: &'a AtomicBool,
}

struct State<'a> {
    r: Reader<'a>,
    batch: Batch,
}

/// Reads every input in order and sends the batches; an error is sent as the last message.
pub fn read_all(r: Reader) {
    let mut s = State {
        r,
        batch: Batch::default(),
    };
    let result = s.read_inputs();
    if let Err(Stop::Failed(e)) = result {
        let _ = s.r.batches.send(Err(e));
    }
}

/// Checks before any work is done that every input file exists and that regular files can
/// be opened, so a typo in the last path does not surface after an hour of counting. Pipes
/// and devices are not opened here: opening a named pipe would wait for a writer.
pub fn check_readable(inputs: &[Input]) -> Result<(), CliError> {
    for input in inputs {
        if let Source::File(path) = &input.source {
            let name = input.name();
            let meta = std::fs::metadata(path)
                .map_err(|e| CliError::failed(format!("cannot read {name}: {e}")))?;
            if meta.is_file() || meta.is_dir() {
                open(path, &name)?;
            }
        }
    }
    Ok(())
}

fn open(path: &std::path::Path, name: &str) -> Result<File, CliError> {
    let cannot = |e: &dyn std::fmt::Display| CliError::failed(format!("cannot read {name}: {e}"));
    let file = File::open(path).map_err(|e| cannot(&e))?;
    if file.metadata().map_err(|e| cannot(&e))?.is_dir() {
        return Err(cannot(&"it is a directory"));
    }
    Ok(file)
}

impl State<'_> {
    fn read_inputs(&mut self) -> Result<(), Stop> {
        for (index, input) in self.r.inputs.iter().enumerate() {
            let name = input.name();
            let mut reader: Box<dyn Read> = match &input.source {
                Source::Stdin => Box::new(std::io::stdin().lock()),
                Source::File(path) => Box::new(open(path, &name)?),
            };
            if input.jsonl {
                self.read_jsonl(index, &name, &mut reader)?;
            } else {
                self.read_whole(index, &name, &mut reader)?;
            }
        }
        self.send()
    }

    /// Hands the batch over if it has any document, and takes a spent one to fill next.
    fn send(&mut self) -> Result<(), Stop> {
        if self.batch.ends.is_empty() {
            return Ok(());
        }
        let mut next = self.r.spent.try_recv().unwrap_or_default();
        next.clear();
        let full = std::mem::replace(&mut self.batch, next);
        self.r.batches.send(Ok(full)).map_err(|_| Stop::Abandoned)
    }

    fn send_if_full(&mut self) -> Result<(), Stop> {
        if self.batch.text.len() >= self.r.batch_bytes {
            self.send()?;
        }
        Ok(())
    }

    fn check_abandoned(&self) -> Result<(), Stop> {
        if self.r.abandoned.load(Ordering::Relaxed) {
            return Err(Stop::Abandoned);
        }
        Ok(())
    }

    /// A whole file (or standard input) as one document, which must be UTF-8.
    fn read_whole(&mut self, index: usize, name: &str, reader: &mut dyn Read) -> Result<(), Stop> {
        let start = self.batch.text.len();
        loop {
            self.check_abandoned()?;
            // Reading in blocks keeps the progress line moving on a large file.
            let n = reader
                .take(BLOCK as u64)
                .read_to_end(&mut self.batch.text)
                .map_err(|e| CliError::failed(format!("cannot read {name}: {e}")))?;
            if n == 0 {
                break;
            }
            self.r.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        }
        if let Err(e) = std::str::from_utf8(&self.batch.text[start..]) {
            return Err(CliError::failed(format!(
                "{name}: not valid UTF-8 (first bad byte at offset {})",
                e.valid_up_to()
            ))
            .into());
        }
        self.batch.end_document(index, 0);
        self.send_if_full()
    }

    /// JSONL: one document per line, read in large blocks. A line never straddles a block
    /// boundary when parsed: the unfinished tail of a block moves to the front of the buffer
    /// and the next read completes it.
    fn read_jsonl(&mut self, index: usize, name: &str, reader: &mut dyn Read) -> Result<(), Stop> {
        let mut buf = vec![0u8; BLOCK];
        let mut filled = 0;
        let mut line_no = 0u64;
        loop {
            self.check_abandoned()?;
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = loop {
                match reader.read(&mut buf[filled..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(CliError::failed(format!("cannot read {name}: {e}")).into())
                    }
                }
            };
            self.r.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
            // The carried-over tail has no newline, so only the new bytes are searched.
            let mut search = filled;
            filled += n;
            let mut line_start = 0;
            while let Some(i) = memchr::memchr(b'\n', &buf[search..filled]) {
                let end = search + i;
                line_no += 1;
                self.jsonl_line(index, name, line_no, &buf[line_start..end])?;
                line_start = end + 1;
                search = line_start;
            }
            if n == 0 {
                if line_start < filled {
                    line_no += 1;
                    self.jsonl_line(index, name, line_no, &buf[line_start..filled])?;
                }
                return Ok(());
            }
            buf.copy_within(line_start..filled, 0);
            filled -= line_start;
        }
    }

    fn jsonl_line(
        &mut self,
        index: usize,
        name: &str,
        line_no: u64,
        line: &[u8],
    ) -> Result<(), Stop> {
        // A byte-order mark may open a file written on Windows.
        let line = match line_no {
            1 => line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line),
            _ => line,
        };
        let start = self.batch.text.len();
        let field = self.r.text_field;
        let found = jsonl::parse_line(line, field, &mut self.batch.text);
        let problem = match found {
            Ok(Line::Text) => {
                self.batch.end_document(index, line_no);
                return self.send_if_full();
            }
            Ok(Line::Blank) => return Ok(()),
            Ok(Line::Missing) => format!("no field {field:?}"),
            Ok(Line::NotString(kind)) => format!("field {field:?} is not a string (it is {kind})"),
            Ok(Line::NotObject(kind)) => format!("not a JSON object (it is {kind})"),
            Err(e) => format!("invalid JSON: {}", jsonl::describe(&e)),
        };
        self.batch.text.truncate(start);
        Err(CliError::failed(format!("{name}: line {line_no}: {problem}")).into())
    }
}
