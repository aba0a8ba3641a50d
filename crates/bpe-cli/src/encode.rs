//! `bpe encode` and `bpe decode`: text to ids and back with a tiktoken file.

use crate::args::{parse_id, DecodeArgs, EncodeArgs};
use crate::{print_stdout, CliError};
use bpe_core::{Allowed, Encoder, Vocabulary};
use std::io::{IsTerminal, Read};
use std::path::Path;

/// Loads a tiktoken file and gives the special tokens the ids after its ranks, in order,
/// as `bpe train` did.
fn load(path: &Path, pattern: &str, special_tokens: &[String]) -> Result<Encoder, CliError> {
    let vocab = Vocabulary::load_tiktoken(path, pattern, Vec::new())?;
    let vocab = if special_tokens.is_empty() {
        vocab
    } else {
        let n = vocab.len() as u32;
        let specials = (n..)
            .zip(special_tokens)
            .map(|(id, s)| (s.clone(), id))
            .collect();
        Vocabulary::new(vocab.tokens().to_vec(), pattern, specials)?
    };
    Ok(Encoder::new(&vocab)?)
}

fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut data = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut data)
        .map_err(|e| CliError::failed(format!("cannot read <stdin>: {e}")))?;
    Ok(data)
}

/// Runs `bpe encode`.
pub fn encode(args: EncodeArgs) -> Result<(), CliError> {
    let encoder = load(&args.vocab, &args.pattern, &args.special_tokens)?;
    let text = match args.text {
        Some(t) => t,
        None => String::from_utf8(read_stdin()?).map_err(|e| {
            CliError::failed(format!(
                "<stdin>: not valid UTF-8 (first bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
        })?,
    };
    let ids = encoder.encode(&text, Allowed::All)?;
    let mut out = String::with_capacity(ids.len() * 6);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&id.to_string());
    }
    out.push('\n');
    print_stdout(out.as_bytes())
}

/// Runs `bpe decode`.
pub fn decode(args: DecodeArgs) -> Result<(), CliError> {
    let encoder = load(&args.vocab, bpe_core::GPT4_PATTERN, &args.special_tokens)?;
    let ids = match args.ids {
        Some(ids) => ids,
        None => String::from_utf8_lossy(&read_stdin()?)
            .split_ascii_whitespace()
            .map(|s| parse_id(s).map_err(|e| CliError::failed(format!("<stdin>: {e}"))))
            .collect::<Result<_, _>>()?,
    };
    let mut bytes = encoder.decode(&ids)?;
    // The bytes are written exactly, so that decoding round-trips; on a terminal a final
    // newline keeps the prompt off the text.
    if std::io::stdout().is_terminal() && !bytes.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    print_stdout(&bytes)
}
