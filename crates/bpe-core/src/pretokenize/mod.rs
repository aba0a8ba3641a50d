//! Pre-tokenization: cutting a document into chunks with a split pattern.
//!
//! Two engines give the same chunks. fancy-regex runs any pattern; the hand-written
//! [`scanner`] runs the GPT-4 family and GPT-2's pattern (the [`GPT4_PATTERN`],
//! [`NANOCHAT_PATTERN`] and [`GPT2_PATTERN`] strings, recognised verbatim) ten or more
//! times faster, and [`o200k`] runs tiktoken's own spellings of the cl100k_base, r50k_base
//! and o200k_base patterns ([`CL100K_TIKTOKEN_PATTERN`], [`R50K_TIKTOKEN_PATTERN`],
//! [`O200K_PATTERN`]). [`Pretokenizer::new`] picks the scanner
//! when it can; [`Pretokenizer::with_regex`] always uses the regex, the slow twin that tests
//! compare against.

mod masks;
pub mod o200k;
pub mod scanner;
pub mod unicode;

use crate::error::{Error, Result};
use o200k::{O200kScanner, TrailingSpace};
pub use o200k::{CL100K_TIKTOKEN_PATTERN, O200K_PATTERN, R50K_TIKTOKEN_PATTERN};
use scanner::Scanner;

/// GPT-4's split pattern (cl100k_base), the default.
pub const GPT4_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";

/// nanochat's split pattern: GPT-4's, with numbers in runs of at most two digits.
pub const NANOCHAT_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";

/// GPT-2's split pattern (r50k_base).
pub const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// Named patterns accepted by `--preset` and the C ABI.
pub fn preset(name: &str) -> Option<&'static str> {
    match name {
        "gpt4" | "cl100k" | "cl100k_base" => Some(GPT4_PATTERN),
        "nanochat" => Some(NANOCHAT_PATTERN),
        "gpt2" | "r50k_base" => Some(GPT2_PATTERN),
        _ => None,
    }
}

/// fancy-regex's default backtrack limit is one million steps, which a long run of
/// whitespace or punctuation in one document can exceed. A higher limit lets such documents
/// through; if one still fails, the batch is rejected with an error (never dropped text).
const BACKTRACK_LIMIT: usize = 100_000_000;

#[derive(Debug)]
enum Engine {
    Scanner(Scanner),
    TrailingSpace(TrailingSpace),
    O200k(O200kScanner),
    Regex(Box<fancy_regex::Regex>),
}

/// A compiled split pattern. Cheap to share between threads.
#[derive(Debug)]
pub struct Pretokenizer {
    pattern: String,
    engine: Engine,
}

fn compile(pattern: &str) -> Result<fancy_regex::Regex> {
    fancy_regex::RegexBuilder::new(pattern)
        .backtrack_limit(BACKTRACK_LIMIT)
        .build()
        .map_err(|e| Error::Pattern(format!("{pattern:?}: {e}")))
}

impl Pretokenizer {
    /// Compiles `pattern`, choosing the fast scanner when the pattern is one it implements.
    pub fn new(pattern: &str) -> Result<Self> {
        let engine = match pattern {
            GPT4_PATTERN => Engine::Scanner(Scanner::new(3)),
            NANOCHAT_PATTERN => Engine::Scanner(Scanner::new(2)),
            GPT2_PATTERN => Engine::Scanner(Scanner::gpt2()),
            // tiktoken's own spellings of its patterns, as `tiktoken_ext` writes them.
            CL100K_TIKTOKEN_PATTERN => Engine::TrailingSpace(TrailingSpace(Scanner::new(3))),
            R50K_TIKTOKEN_PATTERN => Engine::TrailingSpace(TrailingSpace(Scanner::gpt2())),
            O200K_PATTERN => Engine::O200k(O200kScanner),
            _ => Engine::Regex(Box::new(compile(pattern)?)),
        };
        Ok(Pretokenizer {
            pattern: pattern.to_string(),
            engine,
        })
    }

    /// Compiles `pattern` for the regex engine, whatever the pattern.
    pub fn with_regex(pattern: &str) -> Result<Self> {
        Ok(Pretokenizer {
            pattern: pattern.to_string(),
            engine: Engine::Regex(Box::new(compile(pattern)?)),
        })
    }

    /// The pattern this was compiled from.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether the hand-written scanner runs this pattern.
    pub fn uses_scanner(&self) -> bool {
        !matches!(self.engine, Engine::Regex(_))
    }

    /// Calls `f` with every chunk of `text`, in order. With the regex engine, text that no
    /// alternative matches is skipped, as `find_iter` does. Fails only when the regex engine
    /// gives up (backtrack limit); the message is the engine's.
    pub fn split<'t>(
        &self,
        text: &'t str,
        mut f: impl FnMut(&'t str),
    ) -> std::result::Result<(), String> {
        match &self.engine {
            Engine::Scanner(s) => {
                s.split(text, f);
                Ok(())
            }
            Engine::TrailingSpace(s) => {
                s.split(text, f);
                Ok(())
            }
            Engine::O200k(s) => {
                s.split(text, f);
                Ok(())
            }
            Engine::Regex(re) => {
                for m in re.find_iter(text) {
                    f(m.map_err(|e| e.to_string())?.as_str());
                }
                Ok(())
            }
        }
    }

    /// The chunks of `text` as a vector (convenient in tests).
    pub fn chunks<'t>(&self, text: &'t str) -> std::result::Result<Vec<&'t str>, String> {
        let mut out = Vec::new();
        self.split(text, |c| out.push(c))?;
        Ok(out)
    }

    /// Whether [`Pretokenizer::cut_after`] can find cuts (the hand-written scanner's
    /// patterns of the GPT-4 family).
    pub fn can_cut(&self) -> bool {
        matches!(self.engine, Engine::Scanner(_))
    }

    /// The first place in `text` at or after byte `from` where it can be cut in two texts
    /// that split into exactly the chunks of the whole (see [`Pretokenizer::pieces`]);
    /// `None` if there is none, or if the engine knows no safe cut (the regex engine's).
    pub fn cut_after(&self, text: &str, from: usize) -> Option<usize> {
        self.can_cut()
            .then(|| scanner::first_cut(text, from))
            .flatten()
    }

    /// Cuts `text` into pieces of at least `min_piece` bytes that split into exactly the
    /// chunks of the whole, handed to `each` in order, so one long document can be counted
    /// on every core. Only the scanner knows safe cut points; with the regex engine, and
    /// for a text shorter than two pieces, the text stays whole.
    pub fn pieces<'t>(&self, text: &'t str, min_piece: usize, mut each: impl FnMut(&'t str)) {
        match &self.engine {
            Engine::Scanner(s) if text.len() >= 2 * min_piece => {
                let mut start = 0;
                for cut in s.cut_points(text, min_piece) {
                    each(&text[start..cut]);
                    start = cut;
                }
                each(&text[start..]);
            }
            _ => each(text),
        }
    }
}
