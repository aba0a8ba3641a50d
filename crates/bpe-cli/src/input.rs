//! Reading the inputs of `bpe train` into batches of documents.
//!
//! A reader thread fills one batch until it holds about `batch_bytes`, hands it over a
//! channel, and starts on the next. It copies no text out of a large regular JSONL file: it
//! maps the file into memory, and a batch is a range of whole lines of the map. Other inputs
//! (standard input, pipes, small files) are copied: whole files as they are, and JSONL files
//! line by line. The lines are not parsed here: the batch goes to the trainer as
//! [`Lines`], parts of about [`PART_BYTES`] of lines that the counting threads parse just
//! before they count them, so the decoded text goes through their cache instead of to
//! memory. The first batches are small, so that counting starts early. Spent batches come
//! back on a second channel so their buffers are reused.

use crate::args::{Input, Source};
use crate::jsonl::{self, Line};
use crate::CliError;
use bpe_core::Parts;
use memmap2::{Mmap, UncheckedAdvice};
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

/// JSONL is read this many bytes at a time; a longer line grows the block.
const BLOCK: usize = 4 << 20;

/// JSONL lines are parsed and counted in parts of about this many bytes: small enough that
/// a part's text is still in the core's cache when it is counted, and that a batch has
/// enough parts to keep every core busy to its end.
const PART_BYTES: usize = 256 << 10;

/// Regular JSONL files of at least this many bytes are mapped rather than read. Copying
/// costs more than the text's parsing (the kernel's copy, and the first touch of every page
/// of the buffers it goes to); smaller files are copied so that many of them share a batch.
const MAP_AT_LEAST: u64 = 1 << 20;

/// A batch of input: copied pieces (whole documents and JSONL lines, each with where it lies
/// in `raw` and where it came from), or whole lines of one mapped JSONL file.
#[derive(Default)]
pub struct Batch {
    /// Copied input.
    raw: Vec<u8>,
    /// Where each copied piece lies in `raw`.
    pieces: Vec<Piece>,
    /// For each copied piece, its input (index into the inputs) and JSONL line; line 0
    /// marks a whole file, which is a document as it is.
    origins: Vec<(usize, u64)>,
    /// The lines of a mapped file this batch holds instead of copied pieces.
    mapped: Option<Mapped>,
    /// Bytes of input in the batch.
    bytes: usize,
}

/// Where a piece lies: `start..end` of `raw`.
type Piece = (usize, usize);

/// Whole lines `start..end` of a mapped JSONL file, input `input`.
struct Mapped {
    map: Arc<Mmap>,
    input: usize,
    start: usize,
    end: usize,
}

/// A JSONL line that holds no document: where it is and what is wrong with it.
pub struct BadLine {
    pub input: usize,
    pub line: u64,
    pub problem: String,
}

/// Why a batch was not counted.
pub enum FeedError {
    /// A line holds no document.
    BadLine(BadLine),
    /// The trainer's error about the text of a line (`line` > 0) or of a whole file.
    Text {
        input: usize,
        line: u64,
        error: bpe_core::Error,
    },
    /// The trainer's error about the batch (it was cancelled), or about one of its whole
    /// documents (`document` is its place among them, see [`Lines::whole_origin`]).
    Batch(bpe_core::Error),
}

impl From<bpe_core::Error> for FeedError {
    fn from(e: bpe_core::Error) -> Self {
        FeedError::Batch(e)
    }
}

impl Batch {
    /// The batch as the trainer takes it: its whole documents, and its JSONL lines in
    /// parts, to be parsed where they are counted (`field` holds a line's document).
    pub fn parts<'b>(&'b self, field: &'b str) -> (Vec<&'b [u8]>, Lines<'b>) {
        let mut wholes = Vec::new();
        let mut cuts = vec![];
        let mut lines = Vec::new();
        match &self.mapped {
            Some(m) => cuts = line_groups(&m.map, m.start, m.end),
            None => {
                let mut bytes = PART_BYTES;
                for (i, &(_, line)) in self.origins.iter().enumerate() {
                    if line == 0 {
                        wholes.push(i);
                        continue;
                    }
                    if bytes >= PART_BYTES {
                        cuts.push(lines.len());
                        bytes = 0;
                    }
                    lines.push(i);
                    bytes += self.pieces[i].1 - self.pieces[i].0;
                }
                cuts.push(lines.len());
            }
        }
        let documents = (wholes.iter())
            .map(|&i| &self.raw[self.pieces[i].0..self.pieces[i].1])
            .collect();
        let parts = Lines {
            batch: self,
            field,
            cuts,
            lines,
            wholes,
        };
        (documents, parts)
    }

    /// Bytes of input in the batch.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Ends a piece of copied input that started at `start` in `raw`.
    fn end_piece(&mut self, start: usize, input: usize, line: u64) {
        self.pieces.push((start, self.raw.len()));
        self.bytes += self.raw.len() - start;
        self.origins.push((input, line));
    }

    fn is_empty(&self) -> bool {
        self.pieces.is_empty() && self.mapped.is_none()
    }

    fn clear(&mut self) {
        if let Some(m) = self.mapped.take() {
            forget_pages(&m.map, m.start, m.end);
        }
        self.raw.clear();
        self.pieces.clear();
        self.bytes = 0;
        self.origins.clear();
    }
}

/// A batch's JSONL lines in parts (see [`Parts`]): each part decodes its lines into the
/// buffer the counting thread hands it.
pub struct Lines<'b> {
    batch: &'b Batch,
    field: &'b str,
    /// Where the parts begin and end: offsets in the map of a mapped batch (each after a
    /// newline), or else indices into `lines`.
    cuts: Vec<usize>,
    /// The copied pieces that are JSONL lines.
    lines: Vec<usize>,
    /// The copied pieces that are whole documents, in the order given to the trainer.
    wholes: Vec<usize>,
}

impl Lines<'_> {
    /// The mapped lines of part `part`, blank ones left out: where each one's JSON lies.
    fn mapped_lines<'m>(
        &self,
        m: &'m Mapped,
        part: usize,
    ) -> impl Iterator<Item = Range<usize>> + 'm {
        let text: &[u8] = &m.map;
        let end = self.cuts[part + 1];
        let mut at = self.cuts[part];
        std::iter::from_fn(move || {
            while at < end {
                let line_end = memchr::memchr(b'\n', &text[at..end]).map_or(end, |i| at + i);
                let line = at..line_end;
                at = line_end + 1;
                if let Some(skip) = json_start(line.start == 0, &text[line.clone()]) {
                    return Some(line.start + skip..line.end);
                }
            }
            None
        })
    }

    /// The copied pieces of part `part`.
    fn copied_lines(&self, part: usize) -> &[usize] {
        &self.lines[self.cuts[part]..self.cuts[part + 1]]
    }

    /// Where whole document `i` (as given to the trainer) came from.
    pub fn whole_origin(&self, i: usize) -> (usize, u64) {
        self.batch.origins[self.wholes[i]]
    }
}

impl Parts for Lines<'_> {
    type Error = FeedError;

    fn len(&self) -> usize {
        self.cuts.len().saturating_sub(1)
    }

    fn bytes(&self) -> usize {
        self.batch.bytes
    }

    fn write(
        &self,
        part: usize,
        text: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<u64, FeedError> {
        let before = ends.len();
        let bad = |input, line, problem| {
            FeedError::BadLine(BadLine {
                input,
                line,
                problem,
            })
        };
        match &self.batch.mapped {
            Some(m) => {
                // A line's text is never longer than the line, so the buffer never moves.
                text.reserve(self.cuts[part + 1] - self.cuts[part]);
                for line in self.mapped_lines(m, part) {
                    decode_line(&m.map[line.clone()], self.field, text)
                        .map_err(|problem| bad(m.input, line_at(&m.map, line.start), problem))?;
                    ends.push(text.len());
                }
            }
            None => {
                let raw = &self.batch.raw;
                let lines = self.copied_lines(part);
                if let (Some(&first), Some(&last)) = (lines.first(), lines.last()) {
                    text.reserve(self.batch.pieces[last].1 - self.batch.pieces[first].0);
                }
                for &i in lines {
                    let (start, end) = self.batch.pieces[i];
                    let (input, line) = self.batch.origins[i];
                    decode_line(&raw[start..end], self.field, text)
                        .map_err(|problem| bad(input, line, problem))?;
                    ends.push(text.len());
                }
            }
        }
        Ok((ends.len() - before) as u64)
    }

    fn error(&self, part: usize, error: bpe_core::Error) -> FeedError {
        let (bpe_core::Error::InvalidUtf8 { document, .. }
        | bpe_core::Error::RegexRuntime { document, .. }) = error
        else {
            return FeedError::Batch(error);
        };
        // Each line of a part is one text: `document` is a line of the part.
        let (input, line) = match &self.batch.mapped {
            Some(m) => {
                let at = self
                    .mapped_lines(m, part)
                    .nth(document)
                    .map_or(0, |l| l.start);
                (m.input, line_at(&m.map, at))
            }
            None => {
                let lines = self.copied_lines(part);
                self.batch.origins[lines.get(document).copied().unwrap_or(lines[0])]
            }
        };
        FeedError::Text { input, line, error }
    }
}

/// Where the parts of `start..end` (whole lines of `text`) begin and end: about
/// [`PART_BYTES`] bytes each, cut after a newline.
fn line_groups(text: &[u8], start: usize, end: usize) -> Vec<usize> {
    let groups = ((end - start) / PART_BYTES).max(1);
    let mut cuts = vec![start];
    for g in 1..groups {
        let at = (start + (end - start) / groups * g).max(cuts[g - 1]);
        cuts.push(memchr::memchr(b'\n', &text[at..end]).map_or(end, |i| at + i + 1));
    }
    cuts.push(end);
    cuts
}

/// The number of the line that holds byte `offset` of `text`, counting from 1. Only errors
/// need it, so the lines are counted then.
fn line_at(text: &[u8], offset: usize) -> u64 {
    1 + memchr::memchr_iter(b'\n', &text[..offset]).count() as u64
}

/// Lets the kernel unmap the pages of `map` that lie wholly within `start..end`, which no
/// batch will read again: a mapped file's pages would otherwise stay in the process's
/// memory until the end, all of a file of many gigabytes.
fn forget_pages(map: &Mmap, start: usize, end: usize) {
    let page = 4096;
    let (start, end) = (start.next_multiple_of(page), end / page * page);
    if start < end {
        // SAFETY: the map is read-only and private, so dropping its pages loses nothing:
        // a later read of them would map the file's pages again. The result is ignored
        // because the advice only saves memory.
        let _ =
            unsafe { map.unchecked_advise_range(UncheckedAdvice::DontNeed, start, end - start) };
    }
}

/// Appends the text of a JSONL line to `out`, or says what is wrong with the line (leaving
/// `out` as it was).
fn decode_line(line: &[u8], field: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let start = out.len();
    let problem = match jsonl::parse_line(line, field, out) {
        // Blank lines are left out before this; one would be an empty document.
        Ok(Line::Text | Line::Blank) => return Ok(()),
        Ok(Line::Missing) => format!("no field {field:?}"),
        Ok(Line::NotString(kind)) => format!("field {field:?} is not a string (it is {kind})"),
        Ok(Line::NotObject(kind)) => format!("not a JSON object (it is {kind})"),
        Err(e) => format!("invalid JSON: {}", jsonl::describe(&e)),
    };
    out.truncate(start);
    Err(problem)
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
    /// The size of the batch being filled. The first batches are small, so that counting
    /// starts early instead of waiting for a whole batch to be read, and each is twice the
    /// last up to `batch_bytes`.
    limit: usize,
}

/// The size of the first batch.
const FIRST_BATCH: usize = 1 << 20;

/// Reads every input in order and sends the batches; an error is sent as the last message.
pub fn read_all(r: Reader) {
    let limit = r.batch_bytes.min(FIRST_BATCH);
    let mut s = State {
        r,
        batch: Batch::default(),
        limit,
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
                Source::File(path) => {
                    let file = open(path, &name)?;
                    if let Some(map) = input.jsonl.then(|| map_large(&file)).flatten() {
                        self.map_jsonl(index, map)?;
                        continue;
                    }
                    Box::new(file)
                }
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
        if self.batch.is_empty() {
            return Ok(());
        }
        let mut next = self.r.spent.try_recv().unwrap_or_default();
        next.clear();
        let full = std::mem::replace(&mut self.batch, next);
        self.r.batches.send(Ok(full)).map_err(|_| Stop::Abandoned)
    }

    fn send_if_full(&mut self) -> Result<(), Stop> {
        if self.batch.bytes >= self.limit {
            self.send()?;
            self.limit = (self.limit * 2).min(self.r.batch_bytes);
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
        let start = self.batch.raw.len();
        loop {
            self.check_abandoned()?;
            // Reading in blocks keeps the progress line moving on a large file.
            let n = reader
                .take(BLOCK as u64)
                .read_to_end(&mut self.batch.raw)
                .map_err(|e| CliError::failed(format!("cannot read {name}: {e}")))?;
            if n == 0 {
                break;
            }
            self.r.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        }
        if let Err(e) = std::str::from_utf8(&self.batch.raw[start..]) {
            return Err(CliError::failed(format!(
                "{name}: not valid UTF-8 (first bad byte at offset {})",
                e.valid_up_to()
            ))
            .into());
        }
        self.batch.end_piece(start, index, 0);
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
                self.jsonl_line(index, line_no, &buf[line_start..end])?;
                line_start = end + 1;
                search = line_start;
            }
            if n == 0 {
                if line_start < filled {
                    line_no += 1;
                    self.jsonl_line(index, line_no, &buf[line_start..filled])?;
                }
                return Ok(());
            }
            buf.copy_within(line_start..filled, 0);
            filled -= line_start;
        }
    }

    /// Copies a JSONL line into the batch, to be parsed by its part (see [`Lines`]).
    fn jsonl_line(&mut self, index: usize, line_no: u64, line: &[u8]) -> Result<(), Stop> {
        let Some(at) = json_start(line_no == 1, line) else {
            return Ok(());
        };
        let start = self.batch.raw.len();
        self.batch.raw.extend_from_slice(&line[at..]);
        self.batch.end_piece(start, index, line_no);
        self.send_if_full()
    }

    /// JSONL in a mapped file: each batch takes the whole lines of the next `limit` bytes or
    /// so, to be found and parsed by the batch's parts (see [`Lines`]).
    fn map_jsonl(&mut self, index: usize, map: Mmap) -> Result<(), Stop> {
        // A batch holds copied input or lines of one map, never both.
        self.send()?;
        let map = Arc::new(map);
        let mut start = 0;
        while start < map.len() {
            self.check_abandoned()?;
            let at = start + self.limit;
            let end = match map.get(at..) {
                Some(rest) => memchr::memchr(b'\n', rest).map_or(map.len(), |i| at + i + 1),
                None => map.len(),
            };
            self.batch.mapped = Some(Mapped {
                map: Arc::clone(&map),
                input: index,
                start,
                end,
            });
            self.batch.bytes = end - start;
            self.r
                .bytes_read
                .fetch_add((end - start) as u64, Ordering::Relaxed);
            self.send()?;
            self.limit = (self.limit * 2).min(self.r.batch_bytes);
            start = end;
        }
        Ok(())
    }
}

/// Where the JSON of a JSONL line starts (past the byte-order mark that may open the first
/// line of a file written on Windows), or `None` for a blank line, which holds no document.
fn json_start(first: bool, line: &[u8]) -> Option<usize> {
    let at = match first && line.starts_with(b"\xef\xbb\xbf") {
        true => 3,
        false => 0,
    };
    (!jsonl::is_blank(&line[at..])).then_some(at)
}

/// Maps `file` if it is a regular file of at least [`MAP_AT_LEAST`] bytes; `None` if not or
/// if mapping fails, and then it is read instead.
fn map_large(file: &File) -> Option<Mmap> {
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() < MAP_AT_LEAST {
        return None;
    }
    report_truncation();
    // SAFETY: the map is only read. Another process may still change the file meanwhile:
    // a changed line is read as it is then (as `read` would), and a read past a new, shorter
    // end raises SIGBUS, which `report_truncation` turns into an error message.
    let map = unsafe { Mmap::map(file) }.ok()?;
    let _ = map.advise(memmap2::Advice::Sequential);
    Some(map)
}

/// Makes SIGBUS, which reading a mapped file raises once another process has truncated the
/// file, exit with an error message instead of killing the process without a word.
fn report_truncation() {
    extern "C" fn on_sigbus(_: libc::c_int) {
        const MESSAGE: &[u8] = b"bpe: error: an input file was truncated while it was read\n";
        // SAFETY: write and _exit are async-signal-safe; the message is a static buffer.
        unsafe {
            libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
            libc::_exit(1);
        }
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction is valid (no flags, empty mask), and the handler only
        // calls async-signal-safe functions.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}
