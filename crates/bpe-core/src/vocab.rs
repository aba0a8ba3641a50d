//! The vocabulary: the bytes of every rank, the split pattern, and the special tokens.
//!
//! Ranks are `0..n`, each with distinct bytes, and every single byte has a rank (so any text
//! can be encoded). A trained vocabulary has the single bytes at ranks 0..255 and merge `k`
//! at rank `256 + k`; a loaded one (cl100k_base, o200k_base) may order them differently.
//! Special tokens have ids of their own, outside the ranks.
//!
//! Files are in tiktoken's format, one `base64(token) rank` line per rank, which
//! `tiktoken.load.load_tiktoken_bpe` reads. Gzipped files are read too.

use crate::error::{Error, Result};
use crate::merge::Pair;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rustc_hash::FxHashMap;
use std::collections::HashSet;
use std::io::{BufRead, Read, Write};
use std::path::Path;

/// A vocabulary of ranks, a split pattern and special tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocabulary {
    tokens: Vec<Vec<u8>>,
    pattern: String,
    special_tokens: Vec<(String, u32)>,
}

impl Vocabulary {
    /// Builds a vocabulary from the bytes of each rank, validating it: distinct tokens, none
    /// empty, every single byte present; special tokens non-empty, distinct, and with ids
    /// that collide neither with a rank nor with each other.
    pub fn new(
        tokens: Vec<Vec<u8>>,
        pattern: &str,
        special_tokens: Vec<(String, u32)>,
    ) -> Result<Self> {
        // Keys are the vocabulary's own bytes, not an adversary's, so a fast hash will do:
        // SipHash made checking o200k_base's 200k tokens take 3-4 ms more.
        let mut seen: FxHashMap<&[u8], usize> =
            FxHashMap::with_capacity_and_hasher(tokens.len(), Default::default());
        for (rank, t) in tokens.iter().enumerate() {
            if t.is_empty() {
                return Err(Error::Vocabulary(format!("rank {rank} is an empty token")));
            }
            if let Some(first) = seen.insert(t, rank) {
                return Err(Error::Vocabulary(format!(
                    "ranks {first} and {rank} have the same bytes {t:?}"
                )));
            }
        }
        if let Some(b) = (0..=255u8).find(|&b| !seen.contains_key(&[b][..])) {
            return Err(Error::Vocabulary(format!(
                "the single byte 0x{b:02x} has no rank, so some text could not be encoded"
            )));
        }
        check_special_tokens(&special_tokens, tokens.len())?;
        Ok(Vocabulary {
            tokens,
            pattern: pattern.to_string(),
            special_tokens,
        })
    }

    /// The vocabulary a list of merges defines: bytes at ranks 0..255, merge `k` at `256 + k`.
    /// Special tokens take the ids right after the last merge, in the order given.
    pub fn from_merges(merges: &[Pair], pattern: &str, special_tokens: &[&str]) -> Result<Self> {
        let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        for &(a, b) in merges {
            let mut t = tokens[a as usize].clone();
            t.extend_from_slice(&tokens[b as usize]);
            tokens.push(t);
        }
        let n = tokens.len() as u32;
        let specials = special_tokens
            .iter()
            .enumerate()
            .map(|(i, s)| (s.to_string(), n + i as u32))
            .collect();
        Vocabulary::new(tokens, pattern, specials)
    }

    /// Number of ranks (mergeable tokens), special tokens not included.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are no ranks (never true for a valid vocabulary).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// One more than the highest id, special tokens included (tiktoken's `n_vocab`).
    pub fn n_vocab(&self) -> u32 {
        let top = self
            .special_tokens
            .iter()
            .map(|&(_, id)| id + 1)
            .max()
            .unwrap_or(0);
        top.max(self.tokens.len() as u32)
    }

    /// The bytes of every rank, indexed by rank.
    pub fn tokens(&self) -> &[Vec<u8>] {
        &self.tokens
    }

    /// The bytes of `id`: a rank's bytes or a special token's UTF-8.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        if let Some(t) = self.tokens.get(id as usize) {
            return Some(t);
        }
        self.special_tokens
            .iter()
            .find(|&&(_, i)| i == id)
            .map(|(s, _)| s.as_bytes())
    }

    /// The split pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Special tokens and their ids.
    pub fn special_tokens(&self) -> &[(String, u32)] {
        &self.special_tokens
    }

    /// The id of a special token.
    pub fn special_token(&self, name: &str) -> Option<u32> {
        self.special_tokens
            .iter()
            .find(|(s, _)| s == name)
            .map(|&(_, id)| id)
    }

    /// Writes the ranks in tiktoken's format.
    pub fn write_tiktoken(&self, mut out: impl Write) -> std::io::Result<()> {
        let mut line = String::new();
        for (rank, t) in self.tokens.iter().enumerate() {
            line.clear();
            BASE64.encode_string(t, &mut line);
            writeln!(out, "{line} {rank}")?;
        }
        out.flush()
    }

    /// Saves the ranks to `path` in tiktoken's format.
    pub fn save_tiktoken(&self, path: &Path) -> Result<()> {
        let io = |e: std::io::Error| Error::Io(format!("cannot write {}: {e}", path.display()));
        let file = std::fs::File::create(path).map_err(io)?;
        self.write_tiktoken(std::io::BufWriter::new(file))
            .map_err(io)
    }

    /// Loads a tiktoken file (plain or gzipped) with the given pattern and special tokens.
    pub fn load_tiktoken(
        path: &Path,
        pattern: &str,
        special_tokens: Vec<(String, u32)>,
    ) -> Result<Self> {
        let io = |e: std::io::Error| Error::Io(format!("cannot read {}: {e}", path.display()));
        let data = std::fs::read(path).map_err(io)?;
        let tokens = parse_tiktoken(&data).map_err(|e| match e {
            Error::Vocabulary(m) => Error::Vocabulary(format!("{}: {m}", path.display())),
            other => other,
        })?;
        Vocabulary::new(tokens, pattern, special_tokens)
    }
}

fn check_special_tokens(special_tokens: &[(String, u32)], n_ranks: usize) -> Result<()> {
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    for (name, id) in special_tokens {
        if name.is_empty() {
            return Err(Error::SpecialToken(
                "a special token is the empty string".into(),
            ));
        }
        if !names.insert(name.as_str()) {
            return Err(Error::SpecialToken(format!("{name:?} appears twice")));
        }
        if (*id as usize) < n_ranks {
            return Err(Error::SpecialToken(format!(
                "{name:?} has id {id}, which is a rank of the vocabulary (0..{n_ranks})"
            )));
        }
        if *id == u32::MAX {
            // n_vocab, the highest id + 1, must fit in a u32.
            return Err(Error::SpecialToken(format!(
                "{name:?} has id {id}; the largest id allowed is {}",
                u32::MAX - 1
            )));
        }
        if !ids.insert(*id) {
            return Err(Error::SpecialToken(format!("{name:?} reuses id {id}")));
        }
    }
    Ok(())
}

/// Parses tiktoken's format (gzipped or not) into the bytes of each rank. Ranks must be
/// `0..n`, each exactly once; errors name the line.
pub fn parse_tiktoken(data: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut unzipped = Vec::new();
    let data = if data.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut unzipped)
            .map_err(|e| Error::Vocabulary(format!("bad gzip data: {e}")))?;
        &unzipped[..]
    } else {
        data
    };
    let lines = data.split(|&b| b == b'\n').count();
    let mut by_rank: Vec<Option<Vec<u8>>> = Vec::new();
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let lineno = i + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |what: &str| Error::Vocabulary(format!("line {lineno}: {what}"));
        let text = std::str::from_utf8(line).map_err(|_| bad("not ASCII"))?;
        let mut fields = text.split_ascii_whitespace();
        let (Some(tok), Some(rank), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad("expected two fields, `base64(token) rank`"));
        };
        let token = BASE64
            .decode(tok)
            .map_err(|e| bad(&format!("bad base64 {tok:?}: {e}")))?;
        let rank: usize = rank
            .parse()
            .map_err(|_| bad(&format!("bad rank {rank:?}")))?;
        // Ranks are 0..n, one per line, so a rank past the number of lines is wrong, and
        // checking it here keeps a bad rank from sizing the table.
        if rank >= lines {
            return Err(bad(&format!(
                "rank {rank} is too large: the file has only {lines} lines, and ranks must be 0..n"
            )));
        }
        if by_rank.len() <= rank {
            by_rank.resize(rank + 1, None);
        }
        if by_rank[rank].is_some() {
            return Err(bad(&format!("rank {rank} appears twice")));
        }
        by_rank[rank] = Some(token);
    }
    by_rank
        .into_iter()
        .enumerate()
        .map(|(rank, t)| {
            t.ok_or_else(|| {
                Error::Vocabulary(format!("rank {rank} is missing (ranks must be 0..n)"))
            })
        })
        .collect()
}

/// Reads a tiktoken file from any reader (convenience for streams).
pub fn read_tiktoken(mut r: impl BufRead) -> Result<Vec<Vec<u8>>> {
    let mut data = Vec::new();
    r.read_to_end(&mut data)
        .map_err(|e| Error::Io(format!("cannot read vocabulary: {e}")))?;
    parse_tiktoken(&data)
}
