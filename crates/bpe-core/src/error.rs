//! The one error type of the crate: every failure names what was wrong.

use std::fmt;

/// Everything that can go wrong in training, loading or encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The split pattern does not compile.
    Pattern(String),
    /// The split pattern failed while matching (fancy-regex's backtrack or stack limits).
    /// No text was dropped: the whole batch was rejected.
    RegexRuntime {
        /// Index of the document in its batch.
        document: usize,
        /// The engine's own message.
        message: String,
    },
    /// A document is not valid UTF-8.
    InvalidUtf8 {
        /// Index of the document in its batch.
        document: usize,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// The vocabulary size asked for is too small.
    VocabSize {
        /// What was asked for.
        requested: u64,
        /// The smallest size allowed.
        minimum: u64,
    },
    /// A vocabulary (file or in memory) is malformed; the message says where.
    Vocabulary(String),
    /// A special token is invalid (empty, duplicated, or clashing with a rank).
    SpecialToken(String),
    /// An id outside the vocabulary was given to decode.
    UnknownId(u32),
    /// A disallowed special token appears in the text to encode.
    DisallowedSpecial(String),
    /// The operation was cancelled by the caller (progress callback or cancel flag).
    Cancelled,
    /// The trainer was used out of order (for example fed after training).
    State(String),
    /// An I/O error, with the path it concerned.
    Io(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Pattern(m) => write!(f, "invalid split pattern: {m}"),
            Error::RegexRuntime { document, message } => write!(
                f,
                "the split pattern failed on document {document} ({message}); the batch was not counted"
            ),
            Error::InvalidUtf8 { document, offset } => write!(
                f,
                "document {document} is not valid UTF-8 (first bad byte at offset {offset}); the batch was not counted"
            ),
            Error::VocabSize { requested, minimum } => {
                write!(f, "vocab size {requested} is too small: the minimum is {minimum}")
            }
            Error::Vocabulary(m) => write!(f, "invalid vocabulary: {m}"),
            Error::SpecialToken(m) => write!(f, "invalid special token: {m}"),
            Error::UnknownId(id) => write!(f, "token id {id} is not in the vocabulary"),
            Error::DisallowedSpecial(t) => write!(
                f,
                "the text contains the special token {t:?}, which is not allowed here"
            ),
            Error::Cancelled => write!(f, "cancelled"),
            Error::State(m) => write!(f, "{m}"),
            Error::Io(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The same error, naming document `index` of a batch if it concerns one document.
    pub fn in_document(self, index: usize) -> Self {
        match self {
            Error::RegexRuntime { message, .. } => Error::RegexRuntime {
                document: index,
                message,
            },
            Error::InvalidUtf8 { offset, .. } => Error::InvalidUtf8 {
                document: index,
                offset,
            },
            e => e,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
