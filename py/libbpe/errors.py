"""The exceptions of libbpe, one class per status code of the C ABI.

Every failure of a native call arrives as a ``bpe_status`` number and a message; :func:`error_for`
turns the pair into an instance of the class registered for that number. The classes also
derive from the built-in exception a Python caller would expect (``ValueError`` for bad input,
``OSError`` for files, ``KeyError`` for an unknown id, as tiktoken raises), so code that
catches the built-ins keeps working.

The numbers are the ABI's and never change; ``tests/python/test_ffi.py`` checks them against
the constants of the compiled library.
"""

from __future__ import annotations

__all__ = [
    "BpeError",
    "NullPointerError",
    "InvalidArgumentError",
    "PatternError",
    "InvalidUtf8Error",
    "RegexRuntimeError",
    "VocabSizeError",
    "VocabularyError",
    "SpecialTokenError",
    "UnknownIdError",
    "DisallowedSpecialError",
    "FileError",
    "CancelledError",
    "StateError",
    "PanicError",
    "error_for",
]


class BpeError(Exception):
    """Base class of every libbpe error. ``status`` is the ABI's status code (``None`` when the
    error was found in Python before any native call). ``document`` is the index of the
    document at fault in the input the call was given (the iterable trained on, the list
    encoded), for :class:`InvalidUtf8Error` and :class:`RegexRuntimeError`; ``None`` when the
    error concerns no one document."""

    status: int | None = None

    def __init__(self, *args: object, document: int | None = None) -> None:
        super().__init__(*args)
        self.document = document

    def __str__(self) -> str:
        # KeyError would otherwise print its message in quotes.
        return str(self.args[0]) if self.args else self.__class__.__name__


class NullPointerError(BpeError, RuntimeError):
    """A NULL pointer reached the library: a bug in the binding, never the caller's input."""

    status = 1


class InvalidArgumentError(BpeError, ValueError):
    """An argument is malformed (for example a pattern or path that is not UTF-8)."""

    status = 2


class PatternError(BpeError, ValueError):
    """The split pattern does not compile."""

    status = 3


class InvalidUtf8Error(BpeError, ValueError):
    """A document or text is not valid Unicode (for instance a ``str`` with a lone surrogate).
    The message names the document."""

    status = 4


class RegexRuntimeError(BpeError, RuntimeError):
    """The regex engine gave up on a document (backtracking limit); the batch was not counted."""

    status = 5


class VocabSizeError(BpeError, ValueError):
    """The vocabulary size is smaller than 256 plus the number of special tokens."""

    status = 6


class VocabularyError(BpeError, ValueError):
    """Ranks are malformed: a truncated or corrupt tiktoken file, a missing single byte, a
    duplicate token, ranks that are not ``0..n-1``."""

    status = 7


class SpecialTokenError(BpeError, ValueError):
    """A special token is empty, not a string, duplicated, or clashes with another id."""

    status = 8


class UnknownIdError(BpeError, KeyError, ValueError):
    """An id outside the vocabulary was given to decode. A ``KeyError`` as in tiktoken, and a
    ``ValueError`` as in rustbpe."""

    status = 9


class DisallowedSpecialError(BpeError, ValueError):
    """The text to encode contains a special token that is not allowed (tiktoken raises
    ``ValueError`` here too)."""

    status = 10


class FileError(BpeError, OSError):
    """A file cannot be read or written; the message has the path."""

    status = 11


class CancelledError(BpeError):
    """A native call was cancelled (by Ctrl-C, which the caller sees as ``KeyboardInterrupt``)."""

    status = 12


class StateError(BpeError, RuntimeError):
    """An object was used out of order, or after ``close()``."""

    status = 13


class PanicError(BpeError, RuntimeError):
    """A bug inside libbpe: a Rust panic was caught at the ABI boundary. Please report it."""

    status = 14


_BY_STATUS: dict[int, type[BpeError]] = {
    cls.status: cls
    for cls in (
        NullPointerError,
        InvalidArgumentError,
        PatternError,
        InvalidUtf8Error,
        RegexRuntimeError,
        VocabSizeError,
        VocabularyError,
        SpecialTokenError,
        UnknownIdError,
        DisallowedSpecialError,
        FileError,
        CancelledError,
        StateError,
        PanicError,
    )
}


def renumbered(error: BpeError, first: int) -> BpeError:
    """``error`` as it reads for a batch whose documents are numbered from ``first``: the
    library numbers the documents of each call from 0, and the package feeds and encodes
    long inputs in several calls. Errors that name no document are returned as they are."""
    if first == 0 or error.document is None:
        return error
    document = error.document + first
    # The message names the same document, as "document N", before anything else.
    message = str(error).replace(f"document {error.document}", f"document {document}", 1)
    return type(error)(message, document=document)


def error_for(status: int, message: str, document: int = -1) -> BpeError:
    """The exception for a failed native call: the class registered for ``status`` (the base
    class for a number this version does not know), carrying the library's message and the
    index of the document it names (``bpe_last_error_document()``, -1 for none)."""
    at = document if document >= 0 else None
    cls = _BY_STATUS.get(status)
    if cls is None:
        err = BpeError(f"libbpe failed with unknown status {status}: {message}", document=at)
        err.status = status
        return err
    return cls(message or f"libbpe failed with status {status} ({cls.__name__})", document=at)
