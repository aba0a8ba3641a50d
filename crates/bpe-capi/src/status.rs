//! Status codes, the thread-local error message, and [`guard`], which every exported
//! function runs its body in so that no panic crosses into C.

use bpe_core::Error;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The result of every fallible libbpe function.
///
/// The numbers are part of the ABI and never change; new codes are only ever added at the
/// end. After any status other than BPE_OK, bpe_last_error_message() describes what went
/// wrong, and no out-parameter of the failed call was written.
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum bpe_status {
    /// Success: the out-parameters were written.
    BPE_OK = 0,
    /// A pointer argument that must not be NULL was NULL (the message names it).
    BPE_ERROR_NULL_POINTER = 1,
    /// An argument is invalid: a pattern, path or preset name that is not UTF-8, an
    /// unknown preset, an index out of range.
    BPE_ERROR_INVALID_ARGUMENT = 2,
    /// The split pattern does not compile.
    BPE_ERROR_PATTERN = 3,
    /// A fed document or a text to encode is not UTF-8. The message names the document
    /// (its index in the batch) and the byte offset of the first invalid byte.
    BPE_ERROR_INVALID_UTF8 = 4,
    /// The regex engine gave up on a document (backtracking limit). Nothing of the batch
    /// was counted or encoded.
    BPE_ERROR_REGEX_RUNTIME = 5,
    /// The vocabulary size is smaller than 256 plus the number of special tokens.
    BPE_ERROR_VOCAB_SIZE = 6,
    /// Vocabulary data is invalid: a malformed or truncated tiktoken file (the message
    /// has the line number), a single byte without a rank, two ranks with the same bytes.
    BPE_ERROR_VOCABULARY = 7,
    /// A special token is invalid (empty, not UTF-8, given twice, or with an id that is
    /// already taken), or a special token asked for by name does not exist.
    BPE_ERROR_SPECIAL_TOKEN = 8,
    /// An id given to decode (or to bpe_vocab_token) is not in the vocabulary.
    BPE_ERROR_UNKNOWN_ID = 9,
    /// Reserved for encoding with checks: the text contains a special token that is not
    /// allowed. No function returns it yet.
    BPE_ERROR_DISALLOWED_SPECIAL = 10,
    /// A file cannot be read or written; the message has the path and the system's reason.
    BPE_ERROR_IO = 11,
    /// The progress callback returned false, or bpe_trainer_cancel() was called.
    BPE_ERROR_CANCELLED = 12,
    /// The call is not possible in the current state, for example a trainer that is
    /// already in use by a call on another thread.
    BPE_ERROR_STATE = 13,
    /// A bug in libbpe: a Rust panic was caught at the boundary. The message has the
    /// panic's text; please report it.
    BPE_ERROR_PANIC = 14,
}

/// Why a call failed: the status to return, and the message and document to keep for
/// bpe_last_error_message() and bpe_last_error_document().
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: bpe_status,
    pub message: String,
    /// The index of the document at fault in the call's batch, if one is.
    pub document: Option<usize>,
}

impl Failure {
    pub fn new(status: bpe_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
            document: None,
        }
    }

    pub fn null(what: &str) -> Self {
        Failure::new(
            bpe_status::BPE_ERROR_NULL_POINTER,
            format!("{what} is NULL"),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Failure::new(bpe_status::BPE_ERROR_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = match e {
            Error::Pattern(_) => bpe_status::BPE_ERROR_PATTERN,
            Error::RegexRuntime { .. } => bpe_status::BPE_ERROR_REGEX_RUNTIME,
            Error::InvalidUtf8 { .. } => bpe_status::BPE_ERROR_INVALID_UTF8,
            Error::VocabSize { .. } => bpe_status::BPE_ERROR_VOCAB_SIZE,
            Error::Vocabulary(_) => bpe_status::BPE_ERROR_VOCABULARY,
            Error::SpecialToken(_) => bpe_status::BPE_ERROR_SPECIAL_TOKEN,
            Error::UnknownId(_) => bpe_status::BPE_ERROR_UNKNOWN_ID,
            Error::DisallowedSpecial(_) => bpe_status::BPE_ERROR_DISALLOWED_SPECIAL,
            Error::Cancelled => bpe_status::BPE_ERROR_CANCELLED,
            Error::State(_) => bpe_status::BPE_ERROR_STATE,
            Error::Io(_) => bpe_status::BPE_ERROR_IO,
        };
        let document = match e {
            Error::RegexRuntime { document, .. } | Error::InvalidUtf8 { document, .. } => {
                Some(document)
            }
            _ => None,
        };
        Failure {
            document,
            ..Failure::new(status, e.to_string())
        }
    }
}

/// What the body of an exported function returns.
pub(crate) type Outcome = Result<(), Failure>;

thread_local! {
    /// The message of the last failed call on this thread, NUL-terminated for C.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    /// The document that call named, or -1.
    static LAST_DOCUMENT: Cell<i64> = const { Cell::new(-1) };
}

fn set_last_error(message: &str, document: Option<usize>) {
    // A message may quote user bytes; C strings cannot hold NUL, so spell it out.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // During thread teardown the slots may be gone; the status still tells the caller.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = c);
    let document = document.map_or(-1, |d| i64::try_from(d).unwrap_or(i64::MAX));
    let _ = LAST_DOCUMENT.try_with(|slot| slot.set(document));
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// Runs the body of an exported function: a panic becomes BPE_ERROR_PANIC, a failure
/// records its message for bpe_last_error_message(), and nothing unwinds into C.
pub(crate) fn guard(body: impl FnOnce() -> Outcome) -> bpe_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => bpe_status::BPE_OK,
        Ok(Err(failure)) => {
            set_last_error(&failure.message, failure.document);
            failure.status
        }
        Err(payload) => {
            set_last_error(
                &format!(
                    "a bug in libbpe: a Rust panic was caught ({}); please report it",
                    panic_text(payload.as_ref())
                ),
                None,
            );
            bpe_status::BPE_ERROR_PANIC
        }
    }
}

/// Runs the body of a function that cannot report a status (the `_free` functions): a
/// panic is recorded as the last error and otherwise ignored.
pub(crate) fn guard_void(body: impl FnOnce()) {
    let _ = guard(|| {
        body();
        Ok(())
    });
}

/// The message of the last failed libbpe call on the calling thread.
///
/// Returns a NUL-terminated, human-readable UTF-8 string, or "" if no call on this
/// thread has failed yet. Never returns NULL. The string is owned by libbpe and stays
/// valid until the next libbpe call on the same thread; copy it to keep it. Each thread
/// has its own message, so this is safe to call from any thread.
#[no_mangle]
pub unsafe extern "C" fn bpe_last_error_message() -> *const c_char {
    static EMPTY: &[u8] = b"\0";
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ptr())
        .unwrap_or(EMPTY.as_ptr().cast())
}

/// The document that the last failed libbpe call on the calling thread was about: its
/// index in that call's batch of documents to feed or texts to encode (the first is 0),
/// for BPE_ERROR_INVALID_UTF8 and BPE_ERROR_REGEX_RUNTIME; -1 if that call's error concerns
/// no one document of a batch, or no call on this thread has failed yet. The message names
/// the same document; this is the number, for a caller that feeds a long input in several
/// batches and wants to say where it is in the whole.
#[no_mangle]
pub extern "C" fn bpe_last_error_document() -> i64 {
    LAST_DOCUMENT.try_with(Cell::get).unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_error() -> String {
        // SAFETY: bpe_last_error_message always returns a valid C string.
        unsafe { CStr::from_ptr(bpe_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = guard(|| panic!("the merge loop lost a pair"));
        assert_eq!(status, bpe_status::BPE_ERROR_PANIC);
        assert!(last_error().contains("the merge loop lost a pair"));
    }

    #[test]
    fn a_failure_keeps_its_message_and_nul_bytes_are_spelled_out() {
        let status = guard(|| Err(Error::Vocabulary("line 3: a\0b".into()).into()));
        assert_eq!(status, bpe_status::BPE_ERROR_VOCABULARY);
        assert_eq!(last_error(), "invalid vocabulary: line 3: a\\0b");
        // Success leaves the last failure's message in place.
        assert_eq!(guard(|| Ok(())), bpe_status::BPE_OK);
        assert_eq!(last_error(), "invalid vocabulary: line 3: a\\0b");
    }

    #[test]
    fn the_last_error_names_its_document_until_an_error_names_none() {
        assert_eq!(
            std::thread::spawn(|| bpe_last_error_document())
                .join()
                .unwrap(),
            -1
        );
        let bad = || Error::InvalidUtf8 {
            document: 41,
            offset: 3,
        };
        assert_eq!(
            guard(|| Err(bad().into())),
            bpe_status::BPE_ERROR_INVALID_UTF8
        );
        assert_eq!(bpe_last_error_document(), 41);
        assert!(last_error().contains("document 41"));
        let regex = Error::RegexRuntime {
            document: 7,
            message: "backtracking limit".into(),
        };
        guard(|| Err(regex.into()));
        assert_eq!(bpe_last_error_document(), 7);
        // Success keeps the last failure's, as it keeps its message.
        guard(|| Ok(()));
        assert_eq!(bpe_last_error_document(), 7);
        guard(|| Err(Error::UnknownId(5).into()));
        assert_eq!(bpe_last_error_document(), -1);
        guard(|| Err(bad().into()));
        guard(|| panic!("a bug"));
        assert_eq!(bpe_last_error_document(), -1);
    }

    #[test]
    fn each_thread_starts_without_a_message() {
        let fresh = std::thread::spawn(last_error).join().unwrap();
        assert_eq!(fresh, "");
    }

    #[test]
    fn every_core_error_has_its_status() {
        let cases = [
            (Error::Pattern("x".into()), bpe_status::BPE_ERROR_PATTERN),
            (
                Error::RegexRuntime {
                    document: 1,
                    message: "x".into(),
                },
                bpe_status::BPE_ERROR_REGEX_RUNTIME,
            ),
            (
                Error::InvalidUtf8 {
                    document: 1,
                    offset: 2,
                },
                bpe_status::BPE_ERROR_INVALID_UTF8,
            ),
            (
                Error::VocabSize {
                    requested: 1,
                    minimum: 256,
                },
                bpe_status::BPE_ERROR_VOCAB_SIZE,
            ),
            (
                Error::Vocabulary("x".into()),
                bpe_status::BPE_ERROR_VOCABULARY,
            ),
            (
                Error::SpecialToken("x".into()),
                bpe_status::BPE_ERROR_SPECIAL_TOKEN,
            ),
            (Error::UnknownId(7), bpe_status::BPE_ERROR_UNKNOWN_ID),
            (
                Error::DisallowedSpecial("x".into()),
                bpe_status::BPE_ERROR_DISALLOWED_SPECIAL,
            ),
            (Error::Io("x".into()), bpe_status::BPE_ERROR_IO),
            (Error::Cancelled, bpe_status::BPE_ERROR_CANCELLED),
            (Error::State("x".into()), bpe_status::BPE_ERROR_STATE),
        ];
        for (error, status) in cases {
            assert_eq!(Failure::from(error).status, status);
        }
        // The numbers are the ABI: a reordering of the enum would change them.
        assert_eq!(bpe_status::BPE_ERROR_NULL_POINTER as i32, 1);
        assert_eq!(bpe_status::BPE_ERROR_IO as i32, 11);
        assert_eq!(bpe_status::BPE_ERROR_PANIC as i32, 14);
    }
}
