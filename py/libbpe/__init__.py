"""libbpe: exact byte-level BPE training and a native encoder, from Python.

Train a vocabulary on any iterable of ``str`` (the merges are exactly rustbpe's), save it in
tiktoken's format, and encode with a native encoder whose ids are exactly tiktoken's:

>>> import libbpe
>>> tok = libbpe.Tokenizer.train_from_iterator(["hello world", "hello there"] * 50, 260)
>>> tok.encode("hello world") == tok.encoding.encode_ordinary("hello world")
True

:class:`Tokenizer` carries nanochat's tokenizer interface; :class:`Encoder` has tiktoken's
method names; :mod:`libbpe.compat.rustbpe` is a drop-in for ``rustbpe.Tokenizer``.
"""

from __future__ import annotations

from . import errors
from ._ffi import version as native_version
from .encoder import Encoder
from .errors import (
    BpeError,
    CancelledError,
    DisallowedSpecialError,
    FileError,
    InvalidUtf8Error,
    PatternError,
    SpecialTokenError,
    UnknownIdError,
    VocabSizeError,
    VocabularyError,
)
from .presets import GPT2_PATTERN, GPT4_PATTERN, NANOCHAT_PATTERN, NANOCHAT_SPECIAL_TOKENS
from .tokenizer import Tokenizer

__version__ = native_version()

__all__ = [
    "Tokenizer",
    "Encoder",
    "GPT4_PATTERN",
    "NANOCHAT_PATTERN",
    "GPT2_PATTERN",
    "NANOCHAT_SPECIAL_TOKENS",
    "errors",
    "BpeError",
    "CancelledError",
    "DisallowedSpecialError",
    "FileError",
    "InvalidUtf8Error",
    "PatternError",
    "SpecialTokenError",
    "UnknownIdError",
    "VocabSizeError",
    "VocabularyError",
    "native_version",
    "__version__",
]
