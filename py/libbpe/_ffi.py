"""The one module that talks to cffi: thin wrappers over the ``bpe_`` functions of ``bpe.h``.

``libbpe._native`` is generated at build time (maturin's cffi bindings run cbindgen over
``crates/bpe-capi``, the same generator that writes ``include/bpe.h``) and holds ``ffi`` and
``lib``. Everything here takes and returns plain Python values: ``bytes`` in, ``list[int]`` or
``bytes`` out, exceptions from :mod:`libbpe.errors` on failure. Each native handle is owned by
one :class:`NativeObject`, which frees it exactly once: explicitly with ``close()``, or by the
garbage collector through ``ffi.gc`` if nobody closed it.

cffi releases the GIL for the duration of every call into ``lib``, so a long ``feed`` or
``train`` on one thread leaves the interpreter free on the others.

The one exception to "only cffi": the functions that take Python objects (see
:func:`_python_library`): the two that return ids as Python lists made in compiled code, and
the feed that reads ``str`` documents in place. They are called through ctypes.
"""

from __future__ import annotations

import functools
import queue
import threading
from array import array
from itertools import accumulate
from typing import Callable, Iterable, Sequence

from .errors import (
    BpeError,
    InvalidArgumentError,
    PatternError,
    SpecialTokenError,
    StateError,
    UnknownIdError,
    error_for,
    renumbered,
)

try:
    from ._native import ffi, lib
except ImportError as e:  # pragma: no cover - only without a built package
    raise ImportError(
        "libbpe's native library is missing: build and install the package from the repository "
        "root with `pip install .` (it needs cargo)"
    ) from e

__all__ = ["ffi", "lib", "version", "Trainer", "Vocab", "Encoder"]

# A bpe_bytes is {pointer, size_t}; both have the size of size_t on every platform Rust and
# CPython support together, so an array of bpe_bytes is an array of size_t pairs and can be
# packed at C speed with the array module instead of one cffi assignment per document.
_SIZE_T = {8: "Q", 4: "I"}[ffi.sizeof("size_t")]
assert ffi.sizeof("bpe_bytes") == 2 * ffi.sizeof("size_t") == 2 * ffi.sizeof("void *")
assert array("I").itemsize == ffi.sizeof("uint32_t")


def _last_error() -> str:
    """The message of the last failed call on this thread (the ABI keeps it thread-local)."""
    return ffi.string(lib.bpe_last_error_message()).decode("utf-8", "replace")


def _failure(status: int) -> BpeError:
    """The exception for a failed call: its status, and the message and document that the
    ABI keeps (thread-local) for the last failure."""
    return error_for(status, _last_error(), lib.bpe_last_error_document())


def _check(status: int) -> None:
    if status:
        raise _failure(status)


def version() -> str:
    """The version of the native library."""
    return ffi.string(lib.bpe_version()).decode()


def _c_string(value: str, what: str) -> bytes:
    """``value`` as a NUL-terminated UTF-8 argument."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    error = PatternError if what == "pattern" else InvalidArgumentError
    if "\0" in value:
        raise error(f"{what} contains a NUL character")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise error(f"{what} is not valid Unicode ({e.reason} at character {e.start})") from None


class _BytesArray:
    """A ``bpe_bytes[]`` over a list of ``bytes``; keeps the memory it points into alive."""

    __slots__ = ("cdata", "count", "_keep")

    def __init__(self, items: Sequence[bytes]):
        joined = b"".join(items)
        base = int(ffi.cast("uintptr_t", ffi.from_buffer(joined)))
        lengths = array(_SIZE_T, map(len, items))
        starts = array(_SIZE_T, accumulate(lengths, initial=base))
        pairs = (
            array(_SIZE_T, bytes(2 * len(lengths) * lengths.itemsize)) if lengths else array(_SIZE_T, [0, 0])
        )
        pairs[0 : 2 * len(lengths) : 2] = starts[:-1]
        pairs[1 : 2 * len(lengths) : 2] = lengths
        self.count = len(lengths)
        self.cdata = ffi.from_buffer("bpe_bytes[]", pairs)
        self._keep = (joined, pairs)


class _Specials:
    """Special tokens as the ABI takes them: parallel arrays of UTF-8 names and ids, after
    checking that each name is a ``str`` and each id fits in 32 bits."""

    __slots__ = ("count", "ids", "names")

    def __init__(self, special_tokens: dict[str, int]):
        names = []
        for name, id_ in special_tokens.items():
            if not isinstance(name, str):
                raise SpecialTokenError(f"special token {name!r} is a {type(name).__name__}, not a str")
            if not isinstance(id_, int) or isinstance(id_, bool) or not 0 <= id_ < 2**32:
                raise SpecialTokenError(f"special token {name!r} has id {id_!r}, not an int in 0..2**32-1")
            try:
                names.append(name.encode("utf-8"))
            except UnicodeEncodeError as e:
                raise SpecialTokenError(f"special token {name!r} is not valid Unicode ({e.reason})") from None
        self.names = _BytesArray(names)
        # A one-element array even when there are none, so no argument is ever NULL.
        ids = array("I", special_tokens.values()) if special_tokens else array("I", [0])
        self.ids = ffi.from_buffer("uint32_t[]", ids)
        self.count = len(names)


class NativeObject:
    """Owns one native pointer and frees it exactly once.

    ``close()`` lets go of it, and ``ffi.gc`` frees it as soon as nothing holds it: at once,
    unless a call on another thread is using it. Every call holds the pointer (as an
    argument, or in a local) until it returns, so closing an object that another thread is
    using never frees memory under that thread. Using the object after ``close()`` raises
    :class:`~libbpe.errors.StateError`.
    """

    _free: Callable = None  # type: ignore[assignment]
    _kind = "object"

    def __init__(self, ptr):
        self._ptr = ffi.gc(ptr, type(self)._free)

    @property
    def ptr(self):
        ptr = self._ptr
        if ptr is None:
            raise StateError(f"this {self._kind} has been closed")
        return ptr

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def close(self) -> None:
        """Frees the native object now, or when the calls still using it return. Calling it
        again does nothing."""
        self._ptr = None


class Vocab(NativeObject):
    """A ``bpe_vocab``: ranks, split pattern and special tokens."""

    _free = lib.bpe_vocab_free
    _kind = "vocabulary"

    @classmethod
    def from_tokens(cls, tokens: Sequence[bytes], pattern: str, special_tokens: dict[str, int]) -> Vocab:
        """The vocabulary whose rank ``i`` is ``tokens[i]``."""
        array_ = _BytesArray(tokens)
        specials = _Specials(special_tokens)
        out = ffi.new("bpe_vocab **")
        _check(
            lib.bpe_vocab_from_tokens(
                array_.cdata,
                array_.count,
                _c_string(pattern, "pattern"),
                specials.names.cdata,
                specials.ids,
                specials.count,
                out,
            )
        )
        return cls(out[0])

    @classmethod
    def load(cls, path: str, pattern: str, special_tokens: dict[str, int]) -> Vocab:
        """Loads a tiktoken ranks file, plain or gzipped."""
        specials = _Specials(special_tokens)
        out = ffi.new("bpe_vocab **")
        _check(
            lib.bpe_vocab_load(
                _c_string(path, "path"),
                _c_string(pattern, "pattern"),
                specials.names.cdata,
                specials.ids,
                specials.count,
                out,
            )
        )
        return cls(out[0])

    def __len__(self) -> int:
        """The number of ranks (special tokens not included)."""
        n = ffi.new("size_t *")
        _check(lib.bpe_vocab_len(self.ptr, n))
        return n[0]

    def tokens(self) -> list[bytes]:
        """The bytes of every rank, indexed by rank."""
        n = len(self)
        ends = ffi.new("size_t[]", n)
        out = ffi.new("bpe_buffer *")
        _check(lib.bpe_vocab_tokens(self.ptr, ends, n, out))
        try:
            data = ffi.buffer(out.ptr, out.len)[:]
        finally:
            lib.bpe_buffer_free(out)
        ends = ffi.unpack(ends, n)
        return [data[start:end] for start, end in zip([0, *ends], ends)]

    def pattern(self) -> str:
        out = ffi.new("char **")
        _check(lib.bpe_vocab_pattern(self.ptr, out))
        return ffi.string(out[0]).decode("utf-8")

    def special_tokens(self) -> dict[str, int]:
        ptr = self.ptr
        n = ffi.new("size_t *")
        _check(lib.bpe_vocab_special_count(ptr, n))
        name = ffi.new("bpe_bytes *")
        id_ = ffi.new("uint32_t *")
        specials = {}
        for i in range(n[0]):
            _check(lib.bpe_vocab_special_token(ptr, i, name, id_))
            specials[ffi.buffer(name.ptr, name.len)[:].decode("utf-8")] = id_[0]
        return specials

    def n_vocab(self) -> int:
        out = ffi.new("uint32_t *")
        _check(lib.bpe_vocab_n_vocab(self.ptr, out))
        return out[0]


class Trainer(NativeObject):
    """A ``bpe_trainer``. ``feed`` and ``train`` may run on a worker thread while another
    thread calls ``cancel``; ``close`` during such a call is deferred until the call returns,
    so the handle is never freed under a running call."""

    _free = lib.bpe_trainer_free
    _kind = "trainer"

    def __init__(self, pattern: str, threads: int):
        out = ffi.new("bpe_trainer **")
        _check(lib.bpe_trainer_new(_c_string(pattern, "pattern"), threads, out))
        super().__init__(out[0])
        self._lock = threading.Lock()
        self._running = 0
        self._close_requested = False

    def _enter(self):
        with self._lock:
            ptr = self.ptr
            self._running += 1
            return ptr

    def _exit(self) -> None:
        with self._lock:
            self._running -= 1
            close = self._running == 0 and self._close_requested
        if close:
            super().close()

    def close(self) -> None:
        with self._lock:
            if self._running:
                self._close_requested = True
                return
        super().close()

    def feed(self, documents: Sequence[bytes]) -> None:
        """Splits and counts a batch of UTF-8 documents (all or nothing)."""
        docs = _BytesArray(documents)
        ptr = self._enter()
        try:
            _check(lib.bpe_trainer_feed(ptr, docs.cdata, docs.count))
        finally:
            self._exit()

    def feed_texts(self, texts: list) -> bool:
        """:meth:`feed` for a list of ``str`` documents, which compiled code reads where
        CPython keeps them (ASCII text in place, other text encoded to UTF-8 on the trainer's
        threads; ``bytes`` are read too, and checked as :meth:`feed` checks them). False,
        with nothing fed, when that code is missing or a document is neither (or has a lone
        surrogate): the caller then encodes the batch and calls :meth:`feed`, which says
        what is wrong."""
        compiled = _compiled_feed()
        if compiled is None:
            return False
        ptr = self._enter()
        try:
            status = compiled(int(ffi.cast("uintptr_t", ptr)), texts)
        finally:
            self._exit()
        if status == -1:
            return False
        _check(status)
        return True

    def cancel(self) -> None:
        """Makes a running ``feed`` or ``train`` on another thread stop with CancelledError."""
        with self._lock:
            if self._ptr is not None:
                _check(lib.bpe_trainer_cancel(self._ptr))

    def stats(self) -> tuple[int, int, int]:
        """(documents, bytes, unique chunks) fed so far."""
        documents, nbytes, chunks = ffi.new("uint64_t *"), ffi.new("uint64_t *"), ffi.new("uint64_t *")
        ptr = self._enter()
        try:
            _check(lib.bpe_trainer_stats(ptr, documents, nbytes, chunks))
        finally:
            self._exit()
        return documents[0], nbytes[0], chunks[0]

    def train(
        self,
        vocab_size: int,
        special_tokens: Sequence[str],
        progress: Callable[[int, int], object] | None = None,
    ) -> Vocab:
        """Learns merges up to ``vocab_size`` ids, the special tokens taking the last ones.

        ``progress(done, total)`` is called from the training thread; if it raises, training
        is cancelled and its exception is raised here.
        """
        names = _BytesArray([s.encode("utf-8") for s in special_tokens])
        raised: list[BaseException] = []
        if progress is None:
            callback = ffi.NULL
        else:

            def on_error(exc_type, exc, tb):
                raised.append(exc)
                return False

            def on_progress(user_data, done, total):
                progress(done, total)
                return True

            callback = ffi.callback("bpe_progress_callback", on_progress, onerror=on_error)
        out = ffi.new("bpe_vocab **")
        ptr = self._enter()
        try:
            status = lib.bpe_trainer_train(ptr, vocab_size, names.cdata, names.count, callback, ffi.NULL, out)
            if status and raised:
                raise raised[0]
            _check(status)
        finally:
            self._exit()
        return Vocab(out[0])


@functools.cache
def _python_library():
    """The native library loaded with ctypes.PyDLL (calls hold the GIL), for its functions
    that take and return Python objects (``crates/bpe-capi/src/python.rs``); None where
    they cannot be used."""
    import ctypes
    import pathlib
    import sys
    import sysconfig

    from . import _native

    # They rely on CPython's objects and ids, and on the layout of objects with a GIL.
    if sys.implementation.name != "cpython" or sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None
    try:
        (path,) = (p for p in pathlib.Path(_native.__file__).parent.iterdir() if p.name.startswith("lib"))
        return ctypes.PyDLL(str(path))
    except (OSError, ValueError):
        return None


@functools.cache
def _compiled_lists():
    """The library's functions that return ids as Python lists made in compiled code, called
    through ctypes: ``(one, batch, special, array, special_batch)``, or None if this build
    of the library lacks them (``array`` returns a ``bytearray`` of ``uint32`` ids, for
    numpy).
    Making the int objects of millions of ids costs about as much as encoding; those
    functions take every int from a table made once per encoder instead, and return None on
    any failure (the C ABI's path then says what failed). The batch functions run signal
    handlers between texts: Ctrl-C's ``KeyboardInterrupt`` comes out of them as raised."""
    import ctypes

    library = _python_library()
    try:
        one, batch = library.bpe_py_encode_ordinary, library.bpe_py_encode_ordinary_batch
        special, array = library.bpe_py_encode, library.bpe_py_encode_array
        special_batch = library.bpe_py_encode_batch
    except AttributeError:  # also when there is no library
        return None
    # A py_object result is the new reference the function returns (ctypes takes it over).
    # The table of ints is passed as the address and length of an array of their addresses.
    one.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.c_void_p, ctypes.c_size_t]
    one.restype = ctypes.py_object
    batch.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
    batch.restype = ctypes.py_object
    special.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.py_object, ctypes.c_void_p, ctypes.c_size_t]
    special.restype = ctypes.py_object
    array.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.py_object]
    array.restype = ctypes.py_object
    special_batch.argtypes = [
        ctypes.c_void_p, ctypes.py_object, ctypes.py_object, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t
    ]
    special_batch.restype = ctypes.py_object
    return one, batch, special, array, special_batch


# The builtins that bpe_py_function makes, in the order of its kinds.
_BUILTINS = ("encode_ordinary", "decode_bytes")


@functools.cache
def _compiled_function():
    """The library's maker of builtin functions (``bpe_py_function``), called through
    ctypes, or None if this build of the library lacks it."""
    import ctypes

    library = _python_library()
    try:
        make = library.bpe_py_function
    except AttributeError:  # also when there is no library
        return None
    make.argtypes = [
        ctypes.c_void_p, ctypes.c_int, ctypes.py_object, ctypes.c_void_p, ctypes.c_size_t, ctypes.py_object
    ]
    make.restype = ctypes.py_object
    return make


@functools.cache
def _compiled_feed():
    """The library's compiled feed of ``str`` documents (``bpe_py_trainer_feed``, see
    ``crates/bpe-capi/src/python.rs``), called through ctypes, or None if this build of the
    library lacks it."""
    import ctypes

    library = _python_library()
    try:
        feed = library.bpe_py_trainer_feed
    except AttributeError:  # also when there is no library
        return None
    feed.argtypes = [ctypes.c_void_p, ctypes.py_object]
    feed.restype = ctypes.c_int
    return feed


class _Ints:
    """The int objects ``0 .. n - 1``, which the compiled list builders put in the lists they
    make, and an array of their addresses, which they read (in CPython an object's id is its
    address). Never changed once made, so the address stays valid while this lives."""

    __slots__ = ("ints", "addresses", "address")

    def __init__(self, n: int):
        self.ints = list(range(n))
        self.addresses = array("Q" if ffi.sizeof("void *") == 8 else "I", map(id, self.ints))
        self.address = self.addresses.buffer_info()[0]


_INTS: _Ints | None = None


def _ints(n: int) -> _Ints:
    """Ints for ids below ``n``, shared by every encoder: made once, in one go, they lie
    close together in memory, where the reference counts of millions of ids touch them; made
    by each encoder anew they would be scattered over whatever the heap has free. Ints are
    immutable, so sharing them changes nothing else. The largest table made is kept for the
    life of the process: 8 MB for o200k_base's 200k ranks."""
    global _INTS
    if _INTS is None or len(_INTS.ints) < n:
        _INTS = _Ints(n)
    return _INTS


class Encoder(NativeObject):
    """A ``bpe_encoder``: immutable, so one handle serves many threads at once."""

    _free = lib.bpe_encoder_free
    _kind = "encoder"

    def __init__(self, vocab: Vocab):
        out = ffi.new("bpe_encoder **")
        _check(lib.bpe_encoder_new(vocab.ptr, out))
        super().__init__(out[0])
        # The int of every rank for the compiled list builders (encode_ordinary gives no
        # special token ids), held here, and the handle's address for ctypes.
        self._lists = _compiled_lists()
        self._ints = _ints(len(vocab)) if self._lists is not None else None
        if self._ints is not None:
            self._table = (self._ints.address, len(vocab))
        self._address = int(ffi.cast("uintptr_t", out[0]))

    def n_vocab(self) -> int:
        out = ffi.new("uint32_t *")
        _check(lib.bpe_encoder_n_vocab(self.ptr, out))
        return out[0]

    def _compiled(self, k: int, *args, table: bool = True):
        """What the compiled function ``k`` of :func:`_compiled_lists` returns for this
        encoder, ``args`` and (with ``table``) the table of ints; None without those
        functions, or once closed. The handle is held for the call (see NativeObject)."""
        ptr = self._ptr
        if self._ints is None or ptr is None:
            return None
        return self._lists[k](self._address, *args, *(self._table if table else ()))

    def encode_ordinary_str(self, text: str) -> list[int] | None:
        """Ids of ``text`` (a ``str``, whose UTF-8 the compiled code reads in place), or None
        when the compiled list builders are missing or fail (a lone surrogate, a closed
        encoder): the caller then encodes the text itself and calls :meth:`encode_ordinary`."""
        return self._compiled(0, text)

    def builtin(self, name: str, fallback: Callable) -> Callable | None:
        """A builtin function that costs a builtin's call rather than a ctypes call:
        ``encode_ordinary(text)``, which encodes a ``str`` as :meth:`encode_ordinary_str`
        does, or ``decode_bytes(tokens)``, the bytes of a list or tuple of ids. Each returns
        ``fallback(argument)`` for anything it cannot take itself. It keeps the native
        encoder alive for as long as it lives, even after :meth:`close`. None when the
        library lacks it."""
        make = _compiled_function()
        if make is None or self._ints is None:
            return None
        return make(self._address, _BUILTINS.index(name), self._ints, *self._table, fallback)

    def encode_ordinary(self, text: bytes) -> list[int]:
        """Ids of UTF-8 ``text``, special tokens in it treated as plain text."""
        ptr = self._ptr
        if ptr is None:
            raise StateError("this encoder has been closed")
        ids = self._compiled(0, text)
        if ids is not None:
            return ids
        out = ffi.new("bpe_ids *")
        status = lib.bpe_encoder_encode_ordinary(ptr, text, len(text), out)
        if status:
            raise _failure(status)
        try:
            return _ids_list(out.ids, out.len)
        finally:
            lib.bpe_ids_free(out)

    def encode_str(self, text: str, allowed_special: list[str]) -> list[int] | None:
        """Ids of ``text`` (a ``str``, read in place), the ``allowed_special`` tokens becoming
        their ids, as lists made in compiled code; None where :meth:`encode_ordinary_str`
        would return None."""
        return self._compiled(2, text, allowed_special)

    def encode_array_str(self, text: str, allowed_special: list[str]) -> bytearray | None:
        """:meth:`encode_str`'s ids as :meth:`encode_array` gives them, made in compiled
        code; None where :meth:`encode_str` would return None."""
        return self._compiled(3, text, allowed_special, table=False)

    def encode_array(self, text: bytes, allowed_special: Sequence[bytes]) -> bytearray:
        """:meth:`encode`'s ids as native ``uint32`` values, copied in one go from the ABI's
        buffer: no int object per id."""
        allowed = _BytesArray(allowed_special)
        out = ffi.new("bpe_ids *")
        _check(lib.bpe_encoder_encode(self.ptr, text, len(text), allowed.cdata, allowed.count, out))
        try:
            return bytearray(ffi.buffer(out.ids, 4 * out.len)) if out.len else bytearray()
        finally:
            lib.bpe_ids_free(out)

    def encode(self, text: bytes, allowed_special: Sequence[bytes]) -> list[int]:
        """Ids of UTF-8 ``text``, the ``allowed_special`` tokens (UTF-8 names) becoming their ids."""
        allowed = _BytesArray(allowed_special)
        out = ffi.new("bpe_ids *")
        _check(lib.bpe_encoder_encode(self.ptr, text, len(text), allowed.cdata, allowed.count, out))
        try:
            return _ids_list(out.ids, out.len)
        finally:
            lib.bpe_ids_free(out)

    def encode_with_unstable(self, text: bytes, allowed_special: Sequence[bytes]) -> tuple[list[int], list[list[int]]]:
        """Ids of UTF-8 ``text`` up to its unstable end, and the possible ids of that end."""
        allowed = _BytesArray(allowed_special)
        ids = ffi.new("bpe_ids *")
        completions = ffi.new("bpe_ids_batch *")
        _check(
            lib.bpe_encoder_encode_with_unstable(
                self.ptr, text, len(text), allowed.cdata, allowed.count, ids, completions
            )
        )
        try:
            stable = _ids_list(ids.ids, ids.len)
        finally:
            lib.bpe_ids_free(ids)
        return stable, _unpack_batch(completions)

    def encode_ordinary_batch_str(self, texts: Sequence[str], threads: int) -> list[list[int]] | None:
        """:meth:`encode_ordinary_str` for many texts on ``threads`` threads, or None."""
        return self._compiled(1, list(texts), threads)

    def encode_ordinary_batch(self, texts: Sequence[bytes], threads: int) -> list[list[int]]:
        """Ids of many UTF-8 texts, encoded natively on ``threads`` threads.

        The compiled list builders make the lists in one call. Without them, turning ids
        into Python ints takes as long as encoding them and needs the GIL, so a large batch
        is encoded in groups by a helper thread (the native call releases the GIL) while
        this thread converts the groups already done: the two overlap.
        """
        ptr = self.ptr
        ids = self._compiled(1, list(texts), threads)
        if ids is not None:
            return ids
        if len(texts) < 2 * _GROUP:
            return _unpack_batch(self._encode_ordinary_group(ptr, texts, threads))
        groups = [texts[i : i + _GROUP] for i in range(0, len(texts), _GROUP)]
        done: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()

        def encode_groups() -> None:
            for g, group in enumerate(groups):
                if stop.is_set():
                    return
                try:
                    done.put(self._encode_ordinary_group(ptr, group, threads))
                except BpeError as e:  # naming the text by its place in the whole batch
                    done.put(renumbered(e, g * _GROUP))
                    return
                except BaseException as e:  # handed to the caller's thread below
                    done.put(e)
                    return

        worker = threading.Thread(target=encode_groups, name="libbpe-encode", daemon=True)
        worker.start()
        ids: list[list[int]] = []
        try:
            for _ in groups:
                item = done.get()
                if isinstance(item, BaseException):
                    raise item
                ids.extend(_unpack_batch(item))
        finally:
            # On an error, stop the helper and free what it encoded that nobody will read.
            stop.set()
            worker.join()
            while not done.empty():
                item = done.get()
                if not isinstance(item, BaseException):
                    lib.bpe_ids_batch_free(item)
        return ids

    @staticmethod
    def _encode_ordinary_group(ptr, texts: Sequence[bytes], threads: int):
        """One native batch call; the caller owns (and must free) the returned ids."""
        array_ = _BytesArray(texts)
        out = ffi.new("bpe_ids_batch *")
        _check(lib.bpe_encoder_encode_ordinary_batch(ptr, array_.cdata, array_.count, threads, out))
        return out

    def encode_batch_str(
        self, texts: Sequence[str], allowed_special: list[str], threads: int
    ) -> list[list[int]] | None:
        """:meth:`encode_str` for many texts on ``threads`` threads, or None."""
        return self._compiled(4, list(texts), allowed_special, threads)

    def encode_batch(
        self, texts: Sequence[bytes], allowed_special: Sequence[bytes], threads: int
    ) -> list[list[int]]:
        array_ = _BytesArray(texts)
        allowed = _BytesArray(allowed_special)
        out = ffi.new("bpe_ids_batch *")
        _check(
            lib.bpe_encoder_encode_batch(
                self.ptr, array_.cdata, array_.count, allowed.cdata, allowed.count, threads, out
            )
        )
        return _unpack_batch(out)

    def decode(self, ids: Iterable[int]) -> bytes:
        """The bytes of ``ids``, concatenated."""
        try:
            packed = array("I", ids)
        except OverflowError:
            bad = next(i for i in ids if not 0 <= i < 2**32)
            raise UnknownIdError(f"token id {bad} is not in the vocabulary") from None
        except TypeError as e:
            raise TypeError(f"ids must be integers: {e}") from None
        out = ffi.new("bpe_buffer *")
        _check(lib.bpe_encoder_decode(self.ptr, ffi.from_buffer("uint32_t[]", packed), len(packed), out))
        try:
            return ffi.buffer(out.ptr, out.len)[:]
        finally:
            lib.bpe_buffer_free(out)


def _ids_list(ids, n: int) -> list[int]:
    """``n`` uint32 ids at ``ids`` as a list. Making the ints is most of the cost of returning
    ids to Python; a memoryview's ``tolist`` makes them faster than ``ffi.unpack`` does."""
    return memoryview(ffi.buffer(ids, 4 * n)).cast("I").tolist()


# Texts per native call when a batch is encoded in groups (see Encoder.encode_ordinary_batch):
# small enough that the first and last groups, which do not overlap, are a small part of the
# work; large enough that a call's fixed cost does not count.
_GROUP = 512


def _unpack_batch(out) -> list[list[int]]:
    """The ids of each text of a ``bpe_ids_batch``, which this frees. Each list is made from
    its own slice of the native ids: no intermediate list of every id."""
    try:
        offsets = ffi.unpack(out.offsets, out.count + 1)
        ids = memoryview(ffi.buffer(out.ids, 4 * out.len)).cast("I")
        return [ids[offsets[i] : offsets[i + 1]].tolist() for i in range(out.count)]
    finally:
        lib.bpe_ids_batch_free(out)
