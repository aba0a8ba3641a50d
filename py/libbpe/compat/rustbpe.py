"""A drop-in for ``rustbpe.Tokenizer``: switch nanochat with one import line.

>>> from libbpe.compat import rustbpe   # instead of: import rustbpe
>>> tokenizer = rustbpe.Tokenizer()
>>> tokenizer.train_from_iterator(iter(["hello world"] * 10), 260)
>>> tokenizer.get_mergeable_ranks()[256]
(b' w', 256)

Training gives exactly rustbpe 0.1.0's ranks. Two differences, both for bad input: a
``vocab_size`` under 256 raises :class:`~libbpe.errors.VocabSizeError` (a ``ValueError``)
where rustbpe panics, and an empty iterator raises ``ValueError``. ``decode`` replaces bytes
that are not valid UTF-8 with U+FFFD instead of failing.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from ..errors import StateError
from ..presets import GPT4_PATTERN
from ..tokenizer import Tokenizer as _Tokenizer

__all__ = ["Tokenizer"]


class Tokenizer:
    """rustbpe's ``Tokenizer``: ``train_from_iterator``, ``get_pattern``,
    ``get_mergeable_ranks``, ``encode``, ``batch_encode``, ``decode``, ``vocab_size``."""

    def __init__(self) -> None:
        self._tokenizer: _Tokenizer | None = None

    def train_from_iterator(
        self,
        iterator: Iterator[str] | Iterable[str],
        vocab_size: int,
        buffer_size: int = 8192,
        pattern: str | None = None,
    ) -> None:
        """Trains on the documents of ``iterator``. ``buffer_size`` (rustbpe's batch, in
        documents) is accepted and ignored: libbpe batches by bytes."""
        tokenizer = _Tokenizer.train_from_iterator(
            iterator, vocab_size, pattern=GPT4_PATTERN if pattern is None else pattern
        )
        if self._tokenizer is not None:
            self._tokenizer.close()
        self._tokenizer = tokenizer

    def _trained(self) -> _Tokenizer:
        if self._tokenizer is None:
            raise StateError("the tokenizer has not been trained: call train_from_iterator first")
        return self._tokenizer

    def get_pattern(self) -> str:
        """The split pattern ("" before training, as in rustbpe)."""
        return "" if self._tokenizer is None else self._tokenizer.pattern

    def get_mergeable_ranks(self) -> list[tuple[bytes, int]]:
        """(token bytes, rank) pairs in rank order (the 256 single bytes before training)."""
        if self._tokenizer is None:
            return [(bytes([b]), b) for b in range(256)]
        return sorted(self._tokenizer.mergeable_ranks.items(), key=lambda item: item[1])

    @property
    def vocab_size(self) -> int:
        return 256 if self._tokenizer is None else self._tokenizer.vocab_size

    def encode(self, text: str) -> list[int]:
        return self._trained().encoder.encode_ordinary(text)

    def batch_encode(self, texts: list[str]) -> list[list[int]]:
        """Encodes many texts in parallel on every core."""
        return self._trained().encoder.encode_ordinary_batch(texts, num_threads=0)

    def decode(self, ids: list[int]) -> str:
        return self._trained().decode(ids)
