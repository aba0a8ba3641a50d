//! The command line: a small hand-written parser (long options with `--name value` or
//! `--name=value`, a few short ones, `--` to end options, `-` as a value) and the commands
//! it builds.

use crate::CliError;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

const MAIN_HELP: &str = "\
bpe: train byte-level BPE vocabularies (tiktoken format) and encode or decode with them.

Usage:
  bpe train --vocab-size N --output FILE [OPTIONS] INPUT...
  bpe encode --vocab FILE [--pattern P | --preset NAME] [--special-token S]... [TEXT]
  bpe decode --vocab FILE [--special-token S]... [ID...]

Run `bpe COMMAND --help` for the options of each command.
Exit codes: 0 success, 1 failure (bad value, unreadable or malformed input), 2 bad command line.
";

const TRAIN_HELP: &str = "\
bpe train: learn a byte-level BPE vocabulary and write it in tiktoken's format.

Usage: bpe train --vocab-size N --output FILE [OPTIONS] INPUT...

An INPUT is a .jsonl (or .ndjson) file, one JSON object per line whose string field `text`
is a document; `-` for standard input, read as one document (as JSONL with --stdin-jsonl);
or any other file, read as one UTF-8 document. Blank JSONL lines are skipped.

Options:
  --vocab-size N         Ids in the vocabulary: 256 bytes + merges + special tokens
  -o, --output FILE      Where to write the vocabulary (replaced only on success)
  --pattern P            Split pattern (a regex; default: GPT-4's)
  --preset NAME          Named split pattern: gpt4, nanochat or gpt2
  --special-token S      A special token, taking the ids after the merges (repeatable);
                         tiktoken files do not store them: pass the same ones to encode
  --threads N            Threads that decode, count and merge (default 0: one per core)
  --text-field F         JSONL field holding the document (default: text)
  --stdin-jsonl          Read standard input as JSONL
  --batch-mb M           Megabytes of input counted per batch (default 4)
  -q, --quiet            Print no summary
  -h, --help             Print this help
";

const ENCODE_HELP: &str = "\
bpe encode: print the ids of a text, space-separated.

Usage: bpe encode --vocab FILE [--pattern P | --preset NAME] [--special-token S]... [TEXT]

Encodes TEXT, or standard input if no TEXT is given. Special tokens given with
--special-token (in the order used for training) are recognised in the text.

Options:
  --vocab FILE           A tiktoken file (plain or gzipped)
  --pattern P            Split pattern (default: GPT-4's)
  --preset NAME          Named split pattern: gpt4, nanochat or gpt2
  --special-token S      A special token of the vocabulary (repeatable)
  -h, --help             Print this help
";

const DECODE_HELP: &str = "\
bpe decode: print the text of some ids.

Usage: bpe decode --vocab FILE [--special-token S]... [ID...]

Decodes the IDs given, or the whitespace-separated ids on standard input if none are given,
and writes their bytes exactly (a newline is added only when standard output is a terminal).

Options:
  --vocab FILE           A tiktoken file (plain or gzipped)
  --special-token S      A special token of the vocabulary (repeatable)
  -h, --help             Print this help
";

/// A parsed command line.
#[derive(Debug)]
pub enum Command {
    /// Print this help text and exit.
    Help(String),
    /// Print the version and exit.
    Version,
    /// `bpe train`.
    Train(TrainArgs),
    /// `bpe encode`.
    Encode(EncodeArgs),
    /// `bpe decode`.
    Decode(DecodeArgs),
}

/// Where a document comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

/// One INPUT of `bpe train`.
#[derive(Debug, Clone)]
pub struct Input {
    /// Where to read it.
    pub source: Source,
    /// Whether it is JSONL (one document per line) rather than one document.
    pub jsonl: bool,
}

impl Input {
    /// The name used in messages.
    pub fn name(&self) -> String {
        match &self.source {
            Source::Stdin => "<stdin>".to_string(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

/// Options of `bpe train`.
#[derive(Debug)]
pub struct TrainArgs {
    /// Ids wanted: 256 bytes + merges + special tokens.
    pub vocab_size: u32,
    /// The split pattern (a preset already resolved).
    pub pattern: String,
    /// Special tokens, in the order of their ids.
    pub special_tokens: Vec<String>,
    /// Counting threads; 0 for one per core.
    pub threads: usize,
    /// The JSONL field holding a document.
    pub text_field: String,
    /// About how many bytes of documents to count at once.
    pub batch_bytes: usize,
    /// Where to write the tiktoken file.
    pub output: PathBuf,
    /// The inputs, in order.
    pub inputs: Vec<Input>,
    /// Print no summary.
    pub quiet: bool,
}

/// Options of `bpe encode`.
#[derive(Debug)]
pub struct EncodeArgs {
    /// The tiktoken file.
    pub vocab: PathBuf,
    /// The split pattern.
    pub pattern: String,
    /// Special tokens, taking the ids after the ranks in this order.
    pub special_tokens: Vec<String>,
    /// The text; standard input when `None`.
    pub text: Option<String>,
}

/// Options of `bpe decode`.
#[derive(Debug)]
pub struct DecodeArgs {
    /// The tiktoken file.
    pub vocab: PathBuf,
    /// Special tokens, taking the ids after the ranks in this order.
    pub special_tokens: Vec<String>,
    /// The ids; read from standard input when `None`.
    pub ids: Option<Vec<u32>>,
}

/// One item of the command line.
enum Arg {
    /// `--name` (its value, if written `--name=value`, waits in the parser).
    Long(String),
    /// `-c`.
    Short(char),
    /// Anything else, including `-` and everything after `--`.
    Value(OsString),
}

struct Parser {
    args: std::vec::IntoIter<OsString>,
    /// The `value` of `--name=value`, until the option asks for it.
    inline: Option<OsString>,
    last: String,
    options_done: bool,
}

impl Parser {
    fn new(args: Vec<OsString>) -> Self {
        Parser {
            args: args.into_iter(),
            inline: None,
            last: String::new(),
            options_done: false,
        }
    }

    fn next(&mut self) -> Result<Option<Arg>, CliError> {
        if self.inline.take().is_some() {
            return Err(CliError::usage(format!(
                "option {} takes no value",
                self.last
            )));
        }
        let Some(arg) = self.args.next() else {
            return Ok(None);
        };
        if self.options_done {
            return Ok(Some(Arg::Value(arg)));
        }
        let bytes = arg.as_encoded_bytes();
        if bytes == b"--" {
            self.options_done = true;
            return self.next();
        }
        if let Some(rest) = bytes.strip_prefix(b"--") {
            let (name, value) = match rest.iter().position(|&b| b == b'=') {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            let name = String::from_utf8_lossy(name).into_owned();
            // SAFETY: `value` is a suffix of an `OsStr`'s encoded bytes that starts right
            // after an ASCII `=`, which is a valid split point of the encoding.
            self.inline = value.map(|v| unsafe { OsStr::from_encoded_bytes_unchecked(v) }.into());
            self.last = format!("--{name}");
            return Ok(Some(Arg::Long(name)));
        }
        if bytes.len() >= 2 && bytes[0] == b'-' {
            let s = arg.to_string_lossy();
            let mut chars = s[1..].chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) => {
                    self.last = format!("-{c}");
                    Ok(Some(Arg::Short(c)))
                }
                _ => Err(CliError::usage(format!("unknown option {s}"))),
            };
        }
        Ok(Some(Arg::Value(arg)))
    }

    /// The value of the option just read.
    fn value(&mut self) -> Result<OsString, CliError> {
        if let Some(v) = self.inline.take() {
            return Ok(v);
        }
        self.args
            .next()
            .ok_or_else(|| CliError::usage(format!("option {} needs a value", self.last)))
    }

    fn string(&mut self) -> Result<String, CliError> {
        let v = self.value()?;
        v.into_string().map_err(|v| {
            CliError::usage(format!(
                "the value {:?} of {} is not valid UTF-8",
                v.to_string_lossy(),
                self.last
            ))
        })
    }

    fn number<T: std::str::FromStr>(&mut self) -> Result<T, CliError> {
        let v = self.string()?;
        v.parse().map_err(|_| {
            CliError::usage(format!(
                "invalid value {v:?} for {}: expected a whole number",
                self.last
            ))
        })
    }

    fn unknown(&self) -> CliError {
        CliError::usage(format!("unknown option {}", self.last))
    }
}

/// The split pattern chosen by `--pattern` or `--preset` (GPT-4's if neither).
#[derive(Default)]
struct PatternChoice {
    pattern: Option<String>,
    preset: Option<String>,
}

impl PatternChoice {
    fn resolve(self) -> Result<String, CliError> {
        match (self.pattern, self.preset) {
            (Some(_), Some(_)) => Err(CliError::usage(
                "--pattern and --preset cannot be used together",
            )),
            (Some(p), None) => Ok(p),
            (None, Some(name)) => bpe_core::preset(&name).map(str::to_string).ok_or_else(|| {
                CliError::usage(format!(
                    "unknown preset {name:?}: expected gpt4, nanochat or gpt2"
                ))
            }),
            (None, None) => Ok(bpe_core::GPT4_PATTERN.to_string()),
        }
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Command, CliError> {
    let mut p = Parser::new(args);
    let command = match p.next()? {
        None => return Ok(Command::Help(MAIN_HELP.to_string())),
        Some(Arg::Long(name)) if name == "help" => return Ok(Command::Help(MAIN_HELP.into())),
        Some(Arg::Short('h')) => return Ok(Command::Help(MAIN_HELP.into())),
        Some(Arg::Long(name)) if name == "version" => return Ok(Command::Version),
        Some(Arg::Short('V')) => return Ok(Command::Version),
        Some(Arg::Value(v)) => v.to_string_lossy().into_owned(),
        Some(_) => return Err(p.unknown()),
    };
    match command.as_str() {
        "train" => parse_train(p),
        "encode" => parse_encode(p),
        "decode" => parse_decode(p),
        "help" => Ok(Command::Help(MAIN_HELP.into())),
        other => Err(CliError::usage(format!(
            "unknown command {other:?}: expected train, encode or decode"
        ))),
    }
}

fn parse_train(mut p: Parser) -> Result<Command, CliError> {
    let mut vocab_size = None;
    let mut choice = PatternChoice::default();
    let mut special_tokens = Vec::new();
    let mut threads = 0;
    let mut text_field = "text".to_string();
    // Batches in flight (one counted, one decoded, one read) are fresh memory until their
    // buffers come back for reuse: at 16 MB, faulting those pages in cost 7% more time.
    let mut batch_mb = 4.0;
    let mut output = None;
    let mut stdin_jsonl = false;
    let mut quiet = false;
    let mut values = Vec::new();
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Long(name) => match name.as_str() {
                "vocab-size" => vocab_size = Some(p.number::<u32>()?),
                "pattern" => choice.pattern = Some(p.string()?),
                "preset" => choice.preset = Some(p.string()?),
                "special-token" => special_tokens.push(p.string()?),
                "threads" => threads = p.number()?,
                "text-field" => text_field = p.string()?,
                "batch-mb" => {
                    let v = p.string()?;
                    batch_mb = match v.parse::<f64>() {
                        Ok(m) if m.is_finite() && m > 0.0 => m,
                        _ => {
                            return Err(CliError::usage(format!(
                                "invalid value {v:?} for --batch-mb: expected a positive number"
                            )))
                        }
                    };
                }
                "output" => output = Some(PathBuf::from(p.value()?)),
                "stdin-jsonl" => stdin_jsonl = true,
                "quiet" => quiet = true,
                "help" => return Ok(Command::Help(TRAIN_HELP.into())),
                _ => return Err(p.unknown()),
            },
            Arg::Short('o') => output = Some(PathBuf::from(p.value()?)),
            Arg::Short('q') => quiet = true,
            Arg::Short('h') => return Ok(Command::Help(TRAIN_HELP.into())),
            Arg::Short(_) => return Err(p.unknown()),
            Arg::Value(v) => values.push(v),
        }
    }
    let vocab_size = vocab_size.ok_or_else(|| CliError::usage("bpe train needs --vocab-size N"))?;
    let output = output.ok_or_else(|| CliError::usage("bpe train needs --output FILE"))?;
    if values.is_empty() {
        return Err(CliError::usage(
            "bpe train needs at least one INPUT (a file, or - for standard input)",
        ));
    }
    if values.iter().filter(|v| v.as_os_str() == "-").count() > 1 {
        return Err(CliError::usage("standard input (-) can be read only once"));
    }
    let inputs = values
        .into_iter()
        .map(|v| {
            if v == "-" {
                Input {
                    source: Source::Stdin,
                    jsonl: stdin_jsonl,
                }
            } else {
                let path = PathBuf::from(v);
                let jsonl = path.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson")
                });
                Input {
                    source: Source::File(path),
                    jsonl,
                }
            }
        })
        .collect();
    Ok(Command::Train(TrainArgs {
        vocab_size,
        pattern: choice.resolve()?,
        special_tokens,
        threads,
        text_field,
        batch_bytes: ((batch_mb * 1e6) as usize).max(1),
        output,
        inputs,
        quiet,
    }))
}

fn parse_encode(mut p: Parser) -> Result<Command, CliError> {
    let mut vocab = None;
    let mut choice = PatternChoice::default();
    let mut special_tokens = Vec::new();
    let mut text = None;
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Long(name) => match name.as_str() {
                "vocab" => vocab = Some(PathBuf::from(p.value()?)),
                "pattern" => choice.pattern = Some(p.string()?),
                "preset" => choice.preset = Some(p.string()?),
                "special-token" => special_tokens.push(p.string()?),
                "help" => return Ok(Command::Help(ENCODE_HELP.into())),
                _ => return Err(p.unknown()),
            },
            Arg::Short('h') => return Ok(Command::Help(ENCODE_HELP.into())),
            Arg::Short(_) => return Err(p.unknown()),
            Arg::Value(v) => {
                if text.is_some() {
                    return Err(CliError::usage(
                        "bpe encode takes one TEXT (quote it if it has spaces)",
                    ));
                }
                text = Some(
                    v.into_string()
                        .map_err(|_| CliError::usage("TEXT is not valid UTF-8"))?,
                );
            }
        }
    }
    Ok(Command::Encode(EncodeArgs {
        vocab: vocab.ok_or_else(|| CliError::usage("bpe encode needs --vocab FILE"))?,
        pattern: choice.resolve()?,
        special_tokens,
        text,
    }))
}

/// Parses a token id.
pub fn parse_id(s: &str) -> Result<u32, CliError> {
    s.parse()
        .map_err(|_| CliError::usage(format!("invalid token id {s:?}: expected a whole number")))
}

fn parse_decode(mut p: Parser) -> Result<Command, CliError> {
    let mut vocab = None;
    let mut special_tokens = Vec::new();
    let mut ids: Option<Vec<u32>> = None;
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Long(name) => match name.as_str() {
                "vocab" => vocab = Some(PathBuf::from(p.value()?)),
                "special-token" => special_tokens.push(p.string()?),
                "help" => return Ok(Command::Help(DECODE_HELP.into())),
                _ => return Err(p.unknown()),
            },
            Arg::Short('h') => return Ok(Command::Help(DECODE_HELP.into())),
            Arg::Short(_) => return Err(p.unknown()),
            Arg::Value(v) => {
                let list = ids.get_or_insert_with(Vec::new);
                // `bpe decode --vocab v "1 2 3"` works as well as `bpe decode --vocab v 1 2 3`.
                for s in v.to_string_lossy().split_ascii_whitespace() {
                    list.push(parse_id(s)?);
                }
            }
        }
    }
    Ok(Command::Decode(DecodeArgs {
        vocab: vocab.ok_or_else(|| CliError::usage("bpe decode needs --vocab FILE"))?,
        special_tokens,
        ids,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, CliError> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn long_options_take_values_both_ways() {
        let Ok(Command::Train(a)) = parse_strs(&[
            "train",
            "--vocab-size=300",
            "--output",
            "o",
            "--special-token",
            "<|a|>",
            "--special-token=<|b|>",
            "--batch-mb",
            "0.5",
            "x.jsonl",
            "-",
            "--",
            "--weird",
        ]) else {
            panic!("not a train command");
        };
        assert_eq!(a.vocab_size, 300);
        assert_eq!(a.special_tokens, ["<|a|>", "<|b|>"]);
        assert_eq!(a.batch_bytes, 500_000);
        assert_eq!(a.inputs.len(), 3);
        assert!(a.inputs[0].jsonl);
        assert_eq!(a.inputs[1].source, Source::Stdin);
        assert_eq!(a.inputs[2].source, Source::File("--weird".into()));
        assert_eq!(a.pattern, bpe_core::GPT4_PATTERN);
    }

    #[test]
    fn usage_errors() {
        for (args, message) in [
            (&["train", "--quiet=1"][..], "option --quiet takes no value"),
            (
                &["train", "--vocab-size"][..],
                "option --vocab-size needs a value",
            ),
            (
                &["train", "--vocab-size", "x"][..],
                "expected a whole number",
            ),
            (&["train", "--nope"][..], "unknown option --nope"),
            (&["frobnicate"][..], "unknown command"),
            (
                &[
                    "train",
                    "--vocab-size",
                    "300",
                    "-o",
                    "o",
                    "--preset",
                    "gpt5",
                    "f",
                ][..],
                "unknown preset \"gpt5\"",
            ),
            (
                &["train", "--vocab-size", "300", "-o", "o", "-", "-"][..],
                "only once",
            ),
        ] {
            match parse_strs(args) {
                Err(CliError::Usage(m)) => assert!(m.contains(message), "{m:?} for {args:?}"),
                other => panic!("{args:?} gave {other:?}"),
            }
        }
    }
}
