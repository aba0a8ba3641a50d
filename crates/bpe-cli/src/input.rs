//! Reading the inputs of `bpe train` into batches of documents.
//!
//! A reader thread fills one batch until it holds about `batch_bytes`, hands it over a
//! channel, and starts on the next. It copies no text out of a large regular JSONL file: it
//! maps the file into memory, and a batch is a range of whole lines of the map, which
//! decoding splits into lines. Other inputs (standard input, pipes, small files) are copied:
//! whole files as they are, and JSONL files line by line. The lines are parsed after the
//! hand-over by [`Batch::decode`], as tasks on the counting threads while they count the
//! previous batch, rather than by a third busy thread competing with them. The first batches
//! are small, so that counting starts early. Spent batches come back on a second channel so
//! their buffers are reused; the buffers that decoded text goes to are handed from a counted
//! batch to the next batch to decode instead.

use crate::args::{Input, Source};
use crate::jsonl::{self, Line};
use crate::CliError;
use memmap2::{Mmap, UncheckedAdvice};
use rayon::prelude::*;
use std::fs::File;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

/// JSONL is read this many bytes at a time; a longer line grows the block.
const BLOCK: usize = 4 << 20;

/// JSONL lines are parsed in groups of about this many bytes, each a task of its own.
const DECODE_GROUP: usize = 1 << 20;

/// Regular JSONL files of at least this many bytes are mapped rather than read. Copying
/// costs more than the text's parsing (the kernel's copy, and the first touch of every page
/// of the buffers it goes to); smaller files are copied so that many of them share a batch.
const MAP_AT_LEAST: u64 = 1 << 20;

/// A batch of input: copied pieces (whole documents and JSONL lines, each with where it lies
/// in `raw` and where it came from), or whole lines of one mapped JSONL file, which are
/// found when decoded; and, once decoded, where the text of each document is.
#[derive(Default)]
pub struct Batch {
    /// Copied input.
    raw: Vec<u8>,
    /// Where each piece lies: in `raw`, or, once a mapped batch is decoded, in the map.
    pieces: Vec<Piece>,
    /// For each copied piece, its input (index into the inputs) and JSONL line; line 0
    /// marks a whole file, which is a document as it is.
    origins: Vec<(usize, u64)>,
    /// The lines of a mapped file this batch holds instead of copied pieces.
    mapped: Option<Mapped>,
    /// Bytes of input in the batch.
    bytes: usize,
    /// The texts of the JSONL lines, one buffer per group of lines.
    decoded: Vec<Vec<u8>>,
    /// Where the text of each piece is.
    spans: Vec<Span>,
}

/// Where a piece lies: `start..end` of `raw` or of the map.
type Piece = (usize, usize);

/// Whole lines `start..end` of a mapped JSONL file, input `input`.
struct Mapped {
    map: Arc<Mmap>,
    input: usize,
    start: usize,
    end: usize,
}

/// Where the text of a piece is once decoded.
#[derive(Clone, Copy)]
enum Span {
    /// `raw[start..end]`: a whole document.
    Raw(usize, usize),
    /// `decoded[buffer][start..end]`: the text field of a line.
    Decoded(usize, usize, usize),
}

/// A JSONL line that holds no document: where it is and what is wrong with it.
pub struct BadLine {
    pub input: usize,
    pub line: u64,
    pub problem: String,
}

impl Batch {
    /// Parses the JSONL lines into `reuse` (the buffers of a batch already counted), in
    /// groups that run as tasks on the current rayon pool (so they share its threads with
    /// the counting of the previous batch). The first bad line fails the whole batch.
    pub fn decode(&mut self, field: &str, reuse: Vec<Vec<u8>>) -> Result<(), BadLine> {
        self.decoded = reuse;
        let spans = match &self.mapped {
            Some(m) => {
                let cuts = line_groups(&m.map, m.start, m.end);
                let buffers = buffers(&mut self.decoded, cuts.len() - 1);
                let groups: Vec<Vec<(Span, Piece)>> = (buffers.par_iter_mut())
                    .enumerate()
                    .map(|(g, buffer)| decode_lines(m, cuts[g]..cuts[g + 1], g, field, buffer))
                    .collect::<Result<_, _>>()?;
                self.pieces.clear();
                let pieces = groups.iter().flatten().map(|&(_, piece)| piece);
                self.pieces.extend(pieces);
                groups
                    .into_iter()
                    .map(|g| g.into_iter().map(|(span, _)| span).collect())
                    .collect()
            }
            None => self.decode_copied(field)?,
        };
        self.spans.clear();
        self.spans.extend(spans.into_iter().flatten());
        Ok(())
    }

    /// [`Batch::decode`] for copied pieces: contiguous groups of about equal bytes.
    fn decode_copied(&mut self, field: &str) -> Result<Vec<Vec<Span>>, BadLine> {
        let n = self.pieces.len();
        let groups = (self.raw.len() / DECODE_GROUP).clamp(1, n.max(1));
        let mut bounds = vec![0];
        for g in 1..groups {
            let at = self
                .pieces
                .partition_point(|&(_, end)| end <= self.raw.len() / groups * g);
            bounds.push(at.max(bounds[g - 1]));
        }
        bounds.push(n);
        let (raw, pieces, origins) = (&self.raw, &self.pieces, &self.origins);
        buffers(&mut self.decoded, groups)
            .par_iter_mut()
            .enumerate()
            .map(|(g, buffer)| {
                let group = bounds[g]..bounds[g + 1];
                buffer.clear();
                // A line's text is never longer than the line, so the buffer never moves
                // (a copy, and fresh pages to touch).
                if !group.is_empty() {
                    buffer.reserve(pieces[group.end - 1].1 - pieces[group.start].0);
                }
                group
                    .map(|i| {
                        let (start, end) = pieces[i];
                        let (input, line) = origins[i];
                        if line == 0 {
                            return Ok(Span::Raw(start, end));
                        }
                        let from = buffer.len();
                        decode_line(&raw[start..end], field, buffer)
                            .map(|()| Span::Decoded(g, from, buffer.len()))
                            .map_err(|problem| BadLine {
                                input,
                                line,
                                problem,
                            })
                    })
                    .collect()
            })
            .collect()
    }

    /// Takes back the buffers of a counted batch, to decode another into.
    pub fn take_buffers(&mut self) -> Vec<Vec<u8>> {
        self.spans.clear();
        std::mem::take(&mut self.decoded)
    }

    /// The documents of a decoded batch, in order, one per piece.
    pub fn documents(&self) -> Vec<&[u8]> {
        self.spans
            .iter()
            .map(|&span| match span {
                Span::Raw(start, end) => &self.raw[start..end],
                Span::Decoded(b, start, end) => &self.decoded[b][start..end],
            })
            .collect()
    }

    /// Bytes of input in the batch.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Where piece `i` of a decoded batch came from: input index and line (0 for a
    /// whole-file document).
    pub fn origin(&self, i: usize) -> (usize, u64) {
        match &self.mapped {
            Some(m) => (m.input, line_at(&m.map, self.pieces[i].0)),
            None => self.origins[i],
        }
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
        self.spans.clear();
    }
}

/// The first `n` of a batch's decoding buffers, adding any that are missing (and keeping
/// those beyond, for a later, larger batch).
fn buffers(decoded: &mut Vec<Vec<u8>>, n: usize) -> &mut [Vec<u8>] {
    if decoded.len() < n {
        decoded.resize_with(n, Vec::new);
    }
    &mut decoded[..n]
}

/// Where the groups of `start..end` (whole lines of `text`) begin and end: about
/// [`DECODE_GROUP`] bytes each, cut after a newline.
fn line_groups(text: &[u8], start: usize, end: usize) -> Vec<usize> {
    let groups = ((end - start) / DECODE_GROUP).max(1);
    let mut cuts = vec![start];
    for g in 1..groups {
        let at = (start + (end - start) / groups * g).max(cuts[g - 1]);
        cuts.push(memchr::memchr(b'\n', &text[at..end]).map_or(end, |i| at + i + 1));
    }
    cuts.push(end);
    cuts
}

/// Decodes the lines in `range` of a mapped batch into `buffer` (group `g`): each document's
/// span and where its line lies in the map. The lines are found here rather than by the
/// reader, so each is read while its decoding needs it: a pass of the reader over the file
/// cost as much as the decoding.
fn decode_lines(
    m: &Mapped,
    range: std::ops::Range<usize>,
    g: usize,
    field: &str,
    buffer: &mut Vec<u8>,
) -> Result<Vec<(Span, Piece)>, BadLine> {
    buffer.clear();
    // A line's text is never longer than the line, so the buffer never moves.
    buffer.reserve(range.len());
    let text: &[u8] = &m.map;
    let mut documents = Vec::new();
    let mut at = range.start;
    while at < range.end {
        let end = memchr::memchr(b'\n', &text[at..range.end]).map_or(range.end, |i| at + i);
        if let Some(skip) = json_start(at == 0, &text[at..end]) {
            let from = buffer.len();
            decode_line(&text[at + skip..end], field, buffer).map_err(|problem| BadLine {
                input: m.input,
                line: line_at(text, at),
                problem,
            })?;
            documents.push((Span::Decoded(g, from, buffer.len()), (at + skip, end)));
        }
        at = end + 1;
    }
    Ok(documents)
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

    /// Copies a JSONL line into the batch, to be parsed by [`Batch::decode`].
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
    /// so, to be found and parsed by [`Batch::decode`].
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
