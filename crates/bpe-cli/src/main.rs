//! `bpe`: train byte-level BPE vocabularies from text and JSONL files, and encode or decode
//! text with them.
//!
//! `main` parses the command line, runs one command, and maps any failure to an exit code
//! (2 for a command line that cannot be understood, 1 for everything else) and one line on
//! stderr, `bpe: error: ...`.

mod args;
mod encode;
mod input;
mod jsonl;
mod progress;
mod train;

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

/// Why a command failed. `Usage` is a command line that cannot be understood (exit code 2);
/// `Failed` is everything else: bad values, unreadable or malformed input, I/O (exit code 1).
#[derive(Debug)]
pub enum CliError {
    /// The command line is wrong; the message says how.
    Usage(String),
    /// The command could not do its job; the message says why, naming the file or value.
    Failed(String),
}

impl CliError {
    /// A failure with this message.
    pub fn failed(message: impl Into<String>) -> Self {
        CliError::Failed(message.into())
    }

    /// A usage error with this message.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => f.write_str(m),
        }
    }
}

impl From<bpe_core::Error> for CliError {
    fn from(e: bpe_core::Error) -> Self {
        CliError::Failed(e.to_string())
    }
}

/// Messages may quote an engine's multi-line diagnostic (regex-syntax draws a caret under
/// the pattern); the contract is one line on stderr, so every line break becomes a space.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn run() -> Result<(), CliError> {
    match args::parse(std::env::args_os().skip(1).collect())? {
        args::Command::Help(text) => {
            print_stdout(text.as_bytes())?;
            Ok(())
        }
        args::Command::Version => {
            print_stdout(format!("bpe {}\n", bpe_core::VERSION).as_bytes())?;
            Ok(())
        }
        args::Command::Train(a) => train::run(a),
        args::Command::Encode(a) => encode::encode(a),
        args::Command::Decode(a) => encode::decode(a),
    }
}

/// Writes to stdout. A closed pipe (`bpe encode ... | head`) is not an error: the reader
/// has all it wanted.
pub fn print_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::failed(format!(
            "cannot write to standard output: {e}"
        ))),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = one_line(&e.to_string());
            if let CliError::Usage(_) = e {
                message.push_str(" (see `bpe --help`)");
            }
            let _ = writeln!(std::io::stderr(), "bpe: error: {message}");
            ExitCode::from(e.exit_code())
        }
    }
}
