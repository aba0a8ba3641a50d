"""The native encoder, with tiktoken's names and semantics.

>>> import tiktoken, libbpe
>>> enc = libbpe.Encoder({bytes([b]): b for b in range(256)} | {b"ab": 256}, libbpe.GPT4_PATTERN,
...                      {"<|end|>": 257})
>>> enc.encode_ordinary("abc")
[256, 99]
>>> enc.encode("abc<|end|>", allowed_special="all")
[256, 99, 257]
>>> enc.decode([256, 99])
'abc'
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, AbstractSet, Collection, Iterable, Literal, Sequence

from . import _ffi
from .errors import DisallowedSpecialError, VocabularyError

if TYPE_CHECKING:
    import numpy

__all__ = ["Encoder"]


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8, lone surrogates replaced by U+FFFD exactly as tiktoken does."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")
    except AttributeError:
        raise TypeError(f"text must be a str, not {type(text).__name__}") from None


@functools.lru_cache(maxsize=128)
def _special_token_regex(tokens: frozenset[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)))


def _dense_tokens(mergeable_ranks: dict[bytes, int]) -> list[bytes]:
    """The tokens ordered by rank; the ranks must be exactly ``0..n-1``."""
    n = len(mergeable_ranks)
    tokens: list[bytes | None] = [None] * n
    for token, rank in mergeable_ranks.items():
        if not isinstance(rank, int) or not 0 <= rank < n:
            raise VocabularyError(
                f"rank {rank!r} of token {token!r} is not in 0..{n - 1}: ranks must be dense"
            )
        if tokens[rank] is not None:
            raise VocabularyError(f"rank {rank} is given to both {tokens[rank]!r} and {token!r}")
        if not isinstance(token, bytes):
            try:
                token = bytes(token)
            except TypeError:
                raise VocabularyError(f"token {token!r} (rank {rank}) is not bytes") from None
        tokens[rank] = token
    return tokens  # type: ignore[return-value]


class Encoder:
    """Encodes text to ids and back with a fixed vocabulary, natively.

    ``Encoder(mergeable_ranks, pattern, special_tokens)`` takes what ``tiktoken.Encoding``
    takes (ranks ``0..n-1``) and gives the same ids on any text. One encoder may be used from
    many threads at once. The native memory is freed by :meth:`close` (or ``with``), or when
    the encoder is garbage-collected.
    """

    def __init__(
        self,
        mergeable_ranks: dict[bytes, int],
        pattern: str,
        special_tokens: dict[str, int] | None = None,
        *,
        name: str = "libbpe",
    ):
        specials = dict(special_tokens or {})
        tokens = _dense_tokens(mergeable_ranks)
        vocab = _ffi.Vocab.from_tokens(tokens, pattern, specials)
        try:
            self._init(_ffi.Encoder(vocab), mergeable_ranks, tokens, pattern, specials, name)
        finally:
            vocab.close()

    @classmethod
    def _from_vocab(cls, vocab: _ffi.Vocab, name: str = "libbpe") -> Encoder:
        """The encoder of a native vocabulary (which the caller still owns)."""
        self = cls.__new__(cls)
        tokens = vocab.tokens()
        ranks = {token: rank for rank, token in enumerate(tokens)}
        self._init(_ffi.Encoder(vocab), ranks, tokens, vocab.pattern(), vocab.special_tokens(), name)
        return self

    def _init(
        self,
        native: _ffi.Encoder,
        ranks: dict[bytes, int],
        tokens: list[bytes],
        pattern: str,
        specials: dict[str, int],
        name,
    ):
        self._native = native
        self._mergeable_ranks = ranks
        # The bytes of every ordinary token, by rank (the list the vocabulary was made from),
        # so that a token's bytes cost a list index, as tiktoken's do.
        self._token_bytes = tokens
        self._pat_str = pattern
        self._special_tokens = specials
        self._all_specials = frozenset(specials)
        self._all_names = list(specials)
        self._special_ids = frozenset(specials.values())
        self._n_vocab = native.n_vocab()
        self.name = name
        # Bound once: encode_ordinary is called per document and every attribute lookup counts.
        self._encode_ordinary_str = native.encode_ordinary_str
        # Better still, builtin functions in place of the methods, where the library makes
        # them: a call through ctypes and two Python frames cost more than encoding a
        # sentence or decoding a token. They hand what they cannot take to the methods' own
        # paths, which hold the native encoder, not this one (no reference cycle).
        for name, fallback in [
            ("encode_ordinary", functools.partial(_encode_ordinary_bytes, native)),
            ("decode_bytes", native.decode),
        ]:
            fast = native.builtin(name, fallback)
            if fast is not None:
                setattr(self, name, fast)

    # ----------------------------------------------------------------------------- properties

    @property
    def pattern(self) -> str:
        """The split pattern."""
        return self._pat_str

    @property
    def mergeable_ranks(self) -> dict[bytes, int]:
        """Token bytes to rank (the dict itself: do not modify it)."""
        return self._mergeable_ranks

    @property
    def special_tokens(self) -> dict[str, int]:
        """Special token names to ids (a copy)."""
        return dict(self._special_tokens)

    @property
    def special_tokens_set(self) -> set[str]:
        return set(self._special_tokens)

    @property
    def n_vocab(self) -> int:
        """One more than the highest id, special tokens included."""
        return self._n_vocab

    @property
    def max_token_value(self) -> int:
        return self._n_vocab - 1

    # ------------------------------------------------------------------------------- encoding

    def encode_ordinary(self, text: str) -> list[int]:
        """Encodes ``text``, treating special tokens in it as ordinary text.

        >>> enc.encode_ordinary("hello world")  # doctest: +SKIP
        [15339, 1917]
        """
        ids = self._encode_ordinary_str(text) if type(text) is str else None
        if ids is not None:
            return ids
        return _encode_ordinary_bytes(self._native, text)

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Encodes ``text``; the ``allowed_special`` tokens become their ids.

        As in tiktoken, a special token that is neither allowed nor explicitly permitted by
        ``disallowed_special=()`` raises :class:`ValueError`; pass ``disallowed_special=()``
        to encode such text as ordinary text.
        """
        allowed = self._allowed_in((text,), allowed_special, disallowed_special)
        if not allowed:
            return self.encode_ordinary(text)
        ids = self._native.encode_str(text, allowed) if type(text) is str else None
        if ids is not None:
            return ids
        return self._native.encode(_utf8(text), [name.encode("utf-8") for name in allowed])

    def encode_with_unstable(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> tuple[list[int], list[list[int]]]:
        """Encodes ``text`` whose end may still change, as tiktoken's method of the name does:
        the ids up to the last chunk, whose tokens more text could change, and the possible
        ids of that chunk and what may follow it, each once (as a list of lists, in
        increasing order). Special tokens are handled as by :meth:`encode`; a text that ends
        with an allowed one has no completions. A lone surrogate becomes U+FFFD, as in
        :meth:`encode` (tiktoken's method raises ``UnicodeEncodeError`` there).

        >>> from libbpe import GPT4_PATTERN
        >>> enc = Encoder({bytes([b]): b for b in range(256)} | {b"he": 256, b"hel": 257}, GPT4_PATTERN)
        >>> enc.encode_with_unstable("hi he")
        ([104, 105], [[32, 256], [32, 257]])
        """
        allowed = self._allowed_in((text,), allowed_special, disallowed_special)
        return self._native.encode_with_unstable(_utf8(text), [name.encode("utf-8") for name in allowed])

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> numpy.ndarray:
        """:meth:`encode` as a numpy ``uint32`` array (numpy must be installed). The ids are
        copied from native memory in one go, with no Python int each, which makes this the
        fastest way to encode a long text.

        >>> enc.encode_to_numpy("hello world")  # doctest: +SKIP
        array([15339,  1917], dtype=uint32)
        """
        import numpy

        allowed = self._allowed_in((text,), allowed_special, disallowed_special)
        data = self._native.encode_array_str(text, allowed) if type(text) is str else None
        if data is None:
            data = self._native.encode_array(_utf8(text), [name.encode("utf-8") for name in allowed])
        return numpy.frombuffer(data, dtype=numpy.uint32)

    def encode_ordinary_batch(self, text: Sequence[str], *, num_threads: int = 8) -> list[list[int]]:
        """Encodes many texts as ordinary text, in parallel on ``num_threads`` native threads.
        Ctrl-C stops it between texts, raising ``KeyboardInterrupt``."""
        threads = _threads(num_threads)
        if all(type(t) is str for t in text):  # anything else gets _utf8's checks
            ids = self._native.encode_ordinary_batch_str(text, threads)
            if ids is not None:
                return ids
        return self._native.encode_ordinary_batch([_utf8(t) for t in text], threads)

    def encode_batch(
        self,
        text: Sequence[str],
        *,
        num_threads: int = 8,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[list[int]]:
        """:meth:`encode` over many texts, in parallel."""
        allowed = self._allowed_in(text, allowed_special, disallowed_special)
        if not allowed:
            return self.encode_ordinary_batch(text, num_threads=num_threads)
        threads = _threads(num_threads)
        if all(type(t) is str for t in text):  # anything else gets _utf8's checks
            ids = self._native.encode_batch_str(text, allowed, threads)
            if ids is not None:
                return ids
        names = [name.encode("utf-8") for name in allowed]
        return self._native.encode_batch([_utf8(t) for t in text], names, threads)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of exactly one token (ordinary or special); ``KeyError`` if it is not one."""
        data = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else bytes(text_or_bytes)
        rank = self._mergeable_ranks.get(data)
        if rank is not None:
            return rank
        if isinstance(text_or_bytes, str) and text_or_bytes in self._special_tokens:
            return self._special_tokens[text_or_bytes]
        raise KeyError(text_or_bytes)

    def _allowed_in(self, texts: Iterable[str], allowed_special, disallowed_special) -> list[str]:
        """The allowed special tokens, once ``texts`` are found to hold none that is
        disallowed."""
        allowed = self._allowed(allowed_special)
        if not (allowed_special == "all" and disallowed_special == "all"):  # else none is disallowed
            for text in texts:
                self._check_disallowed(text, allowed, disallowed_special)
        return allowed

    def _allowed(self, allowed_special) -> list[str]:
        """The allowed special tokens that exist in this vocabulary."""
        if allowed_special == "all":
            return self._all_names
        return [name for name in allowed_special if name in self._special_tokens]

    def _check_disallowed(self, text: str, allowed: list[str], disallowed_special) -> None:
        if disallowed_special == "all":
            disallowed_special = self._all_specials
            if allowed:
                disallowed_special = disallowed_special.difference(allowed)
        if not disallowed_special:
            return
        if not isinstance(disallowed_special, frozenset):
            disallowed_special = frozenset(disallowed_special)
        match = _special_token_regex(disallowed_special).search(text)
        if match is not None:
            token = match.group()
            raise DisallowedSpecialError(
                f"Encountered text corresponding to disallowed special token {token!r}.\n"
                f"If you want this text to be encoded as a special token, pass it to `allowed_special`, "
                f"e.g. `allowed_special={{{token!r}, ...}}`.\n"
                f"If you want this text to be encoded as normal text, disable the check for this token "
                f"by passing `disallowed_special=(enc.special_tokens_set - {{{token!r}}})`.\n"
                f"To disable this check for all special tokens, pass `disallowed_special=()`.\n"
            )

    # ------------------------------------------------------------------------------- decoding

    def decode_bytes(self, tokens: Iterable[int]) -> bytes:
        """The bytes of ``tokens`` concatenated (special tokens give their text)."""
        return self._native.decode(tokens)

    def decode(self, tokens: Iterable[int], errors: str = "replace") -> str:
        """The text of ``tokens``; bytes that are not valid UTF-8 become U+FFFD by default."""
        return self.decode_bytes(tokens).decode("utf-8", errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token (``KeyError`` if it is none)."""
        tokens = self._token_bytes
        if type(token) is int and 0 <= token < len(tokens):
            return tokens[token]
        return self.decode_bytes((token,))  # a special token, or an error that names the id

    def decode_tokens_bytes(self, tokens: Iterable[int]) -> list[bytes]:
        return [self.decode_single_token_bytes(t) for t in tokens]

    def decode_with_offsets(self, tokens: Sequence[int]) -> tuple[str, list[int]]:
        """The text of ``tokens`` and where each token starts in it, as tiktoken gives them: a
        token that starts inside a character gets that character's index. Raises
        ``UnicodeDecodeError`` if the bytes are not UTF-8."""
        token_bytes = self.decode_tokens_bytes(tokens)
        text_len = 0
        offsets = []
        for token in token_bytes:
            # Continuation bytes (0x80-0xBF) start no character.
            offsets.append(max(0, text_len - (0x80 <= token[0] < 0xC0)))
            text_len += sum(1 for c in token if not 0x80 <= c < 0xC0)
        return b"".join(token_bytes).decode("utf-8", errors="strict"), offsets

    def decode_batch(
        self, batch: Sequence[Sequence[int]], *, errors: str = "replace", num_threads: int = 8
    ) -> list[str]:
        """:meth:`decode` of each list of ids (``num_threads`` is accepted for tiktoken's sake:
        decoding is a copy per token, faster than handing work to threads)."""
        return [self.decode(tokens, errors) for tokens in batch]

    def decode_bytes_batch(self, batch: Sequence[Sequence[int]], *, num_threads: int = 8) -> list[bytes]:
        """:meth:`decode_bytes` of each list of ids."""
        return [self.decode_bytes(tokens) for tokens in batch]

    def token_byte_values(self) -> list[bytes]:
        """The bytes of every ordinary token, sorted."""
        return sorted(self._mergeable_ranks)

    @property
    def eot_token(self) -> int:
        """The id of ``<|endoftext|>`` (``KeyError`` if the vocabulary lacks it)."""
        return self._special_tokens["<|endoftext|>"]

    def is_special_token(self, token: int) -> bool:
        """Whether ``token`` is the id of a special token."""
        return token in self._special_ids

    # ---------------------------------------------------------------------- lifetime, pickling

    def close(self) -> None:
        """Frees the native encoder now, or when the calls that other threads are making with
        it return (it is freed on garbage collection otherwise)."""
        # The builtins keep the encoder alive; without them, the methods say the encoder is
        # closed.
        self.__dict__.pop("encode_ordinary", None)
        self.__dict__.pop("decode_bytes", None)
        self._native.close()

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {
            "mergeable_ranks": self._mergeable_ranks,
            "pattern": self._pat_str,
            "special_tokens": self._special_tokens,
            "name": self.name,
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["mergeable_ranks"], state["pattern"], state["special_tokens"], name=state["name"])

    def __repr__(self) -> str:
        return f"<libbpe.Encoder {self.name!r} n_vocab={self._n_vocab}>"


def _encode_ordinary_bytes(native: _ffi.Encoder, text: str) -> list[int]:
    """``text`` encoded through its UTF-8 (lone surrogates replaced as tiktoken does); a
    ``TypeError`` for anything but a ``str``. Takes the native encoder, not the Encoder, so
    that the builtin function holding it makes no reference cycle."""
    return native.encode_ordinary(_utf8(text))


def _threads(num_threads: int) -> int:
    if not isinstance(num_threads, int) or isinstance(num_threads, bool) or num_threads < 0:
        raise ValueError(f"num_threads must be a non-negative int (0: one per core), not {num_threads!r}")
    return num_threads
