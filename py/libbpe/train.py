"""Training: documents from any iterable of ``str`` stream into the native trainer, then the
merge loop runs; Ctrl-C stops either within a fraction of a second.

Documents cross the ABI in batches of about :data:`BATCH_BYTES` characters. While a worker
thread feeds one batch (compiled code reads each string's UTF-8 in place, then the native call
releases the GIL and counts chunks on every core), the main thread gathers the next one: double
buffering, so reading the corpus in Python and counting it in Rust overlap. The merge loop runs
on a worker thread too. The main thread only waits on workers in short slices, because Python
delivers Ctrl-C to the main thread alone: on ``KeyboardInterrupt`` it cancels the native call,
waits for the worker to return, frees the trainer and re-raises.
"""

from __future__ import annotations

import threading
from typing import Iterable, Iterator, Sequence

from . import _ffi
from .errors import BpeError, InvalidUtf8Error, SpecialTokenError, VocabSizeError, renumbered

__all__ = ["BATCH_BYTES", "train", "check_special_tokens"]

#: Characters per batch handed to the native trainer: large enough that each call keeps
#: every core busy for a while, small enough that two batches in memory cost little.
BATCH_BYTES = 16 * 1024 * 1024

# Seconds the main thread waits on a worker between checks for Ctrl-C.
_POLL = 0.05


class _Call:
    """One native call on a worker thread, waited on from the main thread in short slices.

    Completion is signalled with an Event rather than observed with ``Thread.join``: in
    Python 3.11, a ``join`` interrupted by Ctrl-C can mark a still-running thread as stopped,
    and a trainer freed on that belief would be freed under a running call.
    """

    def __init__(self, trainer: _ffi.Trainer, fn, *args):
        self._trainer = trainer
        self._value = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fn, args), name="libbpe-trainer", daemon=True)
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            self._value = fn(*args)
        except BaseException as e:  # handed to the waiting thread by result()
            self._error = e
        finally:
            self._done.set()

    def _finish(self) -> None:
        # The worker has only to return now; joining it leaves no thread behind.
        self._thread.join(1.0)

    def result(self):
        """Waits for the call; returns its value or raises its exception."""
        while not self._done.wait(_POLL):
            pass
        self._finish()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._value

    def cancel(self) -> None:
        """Stops the call and waits until it has returned. The cancel is repeated because a
        native call clears the trainer's cancel flag as it starts: a cancel that lands just
        before the worker enters the call would otherwise be lost."""
        while not self._done.is_set():
            self._trainer.cancel()
            self._done.wait(_POLL)
        self._finish()


class _Progress:
    """tqdm bars over bytes ingested and merges done (when asked for)."""

    def __init__(self, enabled: bool):
        self._tqdm = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                raise ImportError("progress=True needs tqdm: pip install tqdm") from None
            self._tqdm = tqdm
        self._ingest = None
        self._merge = None
        self._merged = 0

    def ingested(self, nbytes: int, documents: int) -> None:
        if self._tqdm is None:
            return
        if self._ingest is None:
            self._ingest = self._tqdm(desc="ingest", unit="B", unit_scale=True, unit_divisor=1024)
        self._ingest.update(nbytes)
        self._ingest.set_postfix(documents=f"{documents:,}", refresh=False)

    @property
    def merge_callback(self):
        """The progress function for the merge loop, or None (no callback, no overhead)."""
        return None if self._tqdm is None else self._merges

    def _merges(self, done: int, total: int) -> None:
        # Called from the training thread, at most every ~50 ms.
        if self._merge is None:
            if self._ingest is not None:
                self._ingest.close()
            self._merge = self._tqdm(desc="merge", total=total, unit="merge")
        self._merge.update(done - self._merged)
        self._merged = done

    def close(self) -> None:
        for bar in (self._ingest, self._merge):
            if bar is not None:
                bar.close()


def check_special_tokens(special_tokens: Iterable[str]) -> list[str]:
    """The special tokens as a list, after checking each is a non-empty ``str`` given once."""
    if isinstance(special_tokens, (str, bytes)):
        raise TypeError("special_tokens must be a sequence of str (a single str was given)")
    names: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(special_tokens):
        if not isinstance(name, str):
            raise SpecialTokenError(f"special token {i} is a {type(name).__name__} ({name!r}), not a str")
        if not name:
            raise SpecialTokenError(f"special token {i} is the empty string")
        if name in seen:
            raise SpecialTokenError(f"special token {name!r} appears twice")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError as e:
            raise SpecialTokenError(f"special token {i} is not valid Unicode ({e.reason})") from None
        seen.add(name)
        names.append(name)
    return names


def _check_vocab_size(vocab_size: int, n_special: int) -> None:
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool):
        raise TypeError(f"vocab_size must be an int, not {type(vocab_size).__name__}")
    minimum = 256 + n_special
    if vocab_size < minimum:
        raise VocabSizeError(
            f"vocab_size {vocab_size} is too small: the 256 single bytes and {n_special} special "
            f"tokens need at least {minimum}"
        )
    if vocab_size >= 2**32:
        raise VocabSizeError(f"vocab_size {vocab_size} does not fit in 32 bits")


def _check_threads(threads: int | None) -> int:
    if threads is None:
        return 0
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise ValueError(f"threads must be None or 0 (one per core) or a positive int, not {threads!r}")
    return threads


def _batches(texts: Iterable[str], batch_bytes: int) -> Iterator[tuple[list[str], int]]:
    """Yields (documents, documents so far), about ``batch_bytes`` characters at a time.
    Runs in the main thread, pulling from the caller's iterator."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be an iterable of str documents (a single str was given)")
    batch: list[str] = []
    append = batch.append
    size = 0
    index = -1
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"document {index} is a {type(text).__name__}, not a str")
        size += len(text)
        append(text)
        if size >= batch_bytes:
            yield batch, index + 1
            batch = []
            append = batch.append
            size = 0
    if index < 0:
        raise ValueError("there are no documents to train on: texts is empty")
    if batch:
        yield batch, index + 1


def _encoded(texts: list[str], first: int) -> list[bytes]:
    """The UTF-8 of documents ``first``, ``first + 1``, ...; a lone surrogate is an error
    naming its document."""
    out = []
    for index, text in enumerate(texts, first):
        try:
            out.append(text.encode("utf-8"))
        except UnicodeEncodeError as e:
            raise InvalidUtf8Error(
                f"document {index} is not valid Unicode: it has a lone surrogate "
                f"{text[e.start]!r} at character {e.start}",
                document=index,
            ) from None
    return out


def _feed(trainer: _ffi.Trainer, texts: list[str], first: int) -> None:
    """Feeds one batch: compiled code reads the strings where CPython keeps them, or
    (without it, or for a string it cannot read) the batch is encoded here first. Errors
    name documents by their place in the whole input, not in the batch."""
    try:
        fed = trainer.feed_texts(texts)
    except BpeError as e:
        raise renumbered(e, first) from None
    if not fed:
        encoded = _encoded(texts, first)  # names its documents from `first` itself
        try:
            trainer.feed(encoded)
        except BpeError as e:
            raise renumbered(e, first) from None


def _ingest(trainer: _ffi.Trainer, texts: Iterable[str], bars: _Progress, batch_bytes: int) -> None:
    pending: _Call | None = None
    pending_documents = fed = 0

    def done() -> None:
        nonlocal fed
        pending.result()
        total = trainer.stats()[1]
        bars.ingested(total - fed, pending_documents)
        fed = total

    try:
        for batch, documents in _batches(texts, batch_bytes):
            if pending is not None:
                done()
            pending = _Call(trainer, _feed, trainer, batch, documents - len(batch))
            pending_documents = documents
            del batch  # the worker owns it now: at most two batches are alive at once
        if pending is not None:
            done()
    except BaseException:
        # The iterator raised, a batch failed, or Ctrl-C: the trainer must not be freed while
        # a worker still uses it.
        if pending is not None:
            pending.cancel()
        raise


def train(
    texts: Iterable[str],
    vocab_size: int,
    *,
    pattern: str,
    special_tokens: Sequence[str] = (),
    threads: int | None = None,
    progress: bool = False,
    batch_bytes: int = BATCH_BYTES,
) -> _ffi.Vocab:
    """Trains a vocabulary of ``vocab_size`` ids (special tokens included, taking the last ids)
    on ``texts``. Returns the native vocabulary; the caller owns it."""
    specials = check_special_tokens(special_tokens)
    _check_vocab_size(vocab_size, len(specials))
    threads = _check_threads(threads)
    bars = _Progress(progress)  # before the trainer exists: it may raise ImportError
    trainer = _ffi.Trainer(pattern, threads)
    try:
        _ingest(trainer, texts, bars, batch_bytes)
        call = _Call(trainer, trainer.train, vocab_size, specials, bars.merge_callback)
        try:
            return call.result()
        except BaseException:
            call.cancel()
            raise
    finally:
        bars.close()
        trainer.close()
