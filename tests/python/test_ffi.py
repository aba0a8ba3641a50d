"""The low-level module: every name of include/bpe.h is reachable, status codes map to the
exception hierarchy, native objects are freed exactly once, arrays cross the ABI intact."""

from __future__ import annotations

import gc
import pathlib
import re
import threading

import pytest

import libbpe
from libbpe import _ffi, errors
from libbpe._ffi import ffi, lib

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = ROOT / "include" / "bpe.h"


def header_text() -> str:
    if not HEADER.is_file():
        pytest.skip("include/bpe.h is not in this checkout")
    # Comments mention names too (examples); only declarations count.
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", HEADER.read_text(encoding="utf-8"), flags=re.S)


def test_every_function_of_the_header_is_reachable():
    functions = set(re.findall(r"\b(bpe_[a-z0-9_]+)\s*\(", header_text()))
    assert len(functions) >= 30
    missing = [name for name in sorted(functions) if not hasattr(lib, name)]
    assert not missing


def test_every_type_and_constant_of_the_header_is_reachable():
    text = header_text()
    types = set(
        re.findall(r"typedef\s+(?:struct|enum)\s+\w+\s*(?:\{[^}]*\})?\s*(bpe_\w+)\s*;", text, flags=re.S)
    )
    types |= set(re.findall(r"\(\*(bpe_\w+)\)", text))
    assert {
        "bpe_bytes",
        "bpe_ids",
        "bpe_ids_batch",
        "bpe_buffer",
        "bpe_status",
        "bpe_progress_callback",
        "bpe_trainer",
        "bpe_vocab",
        "bpe_encoder",
    } <= types
    for name in types:
        ffi.typeof(name)  # raises if cffi does not know it
    constants = dict(
        (name, int(value)) for name, value in re.findall(r"\b(BPE_[A-Z0-9_]+)\s*=\s*(\d+)", text)
    )
    assert len(constants) == 15
    for name, value in constants.items():
        assert getattr(lib, name) == value, name


def test_every_status_code_has_its_exception_class():
    expected_bases = {
        "BPE_ERROR_NULL_POINTER": RuntimeError,
        "BPE_ERROR_INVALID_ARGUMENT": ValueError,
        "BPE_ERROR_PATTERN": ValueError,
        "BPE_ERROR_INVALID_UTF8": ValueError,
        "BPE_ERROR_REGEX_RUNTIME": RuntimeError,
        "BPE_ERROR_VOCAB_SIZE": ValueError,
        "BPE_ERROR_VOCABULARY": ValueError,
        "BPE_ERROR_SPECIAL_TOKEN": ValueError,
        "BPE_ERROR_UNKNOWN_ID": KeyError,
        "BPE_ERROR_DISALLOWED_SPECIAL": ValueError,
        "BPE_ERROR_IO": OSError,
        "BPE_ERROR_CANCELLED": errors.BpeError,
        "BPE_ERROR_STATE": RuntimeError,
        "BPE_ERROR_PANIC": RuntimeError,
    }
    assert lib.BPE_OK == 0
    classes = set()
    for name, base in expected_bases.items():
        status = getattr(lib, name)
        error = errors.error_for(status, "the message")
        assert isinstance(error, errors.BpeError) and isinstance(error, base), name
        assert error.status == status and str(error) == "the message"
        assert error.document is None  # -1: no document
        assert errors.error_for(status, "the message", 12).document == 12
        classes.add(type(error))
    assert len(classes) == len(expected_bases)
    unknown = errors.error_for(99, "from a newer library")
    assert type(unknown) is errors.BpeError and unknown.status == 99 and "99" in str(unknown)


def test_a_failed_call_raises_with_the_librarys_message():
    out = ffi.new("size_t *")
    status = lib.bpe_vocab_len(ffi.NULL, out)
    assert status == lib.BPE_ERROR_NULL_POINTER
    with pytest.raises(errors.NullPointerError, match="vocab"):
        _ffi._check(status)


def test_the_error_message_is_per_thread(tmp_path):
    out = ffi.new("bpe_vocab **")
    status = lib.bpe_vocab_load(
        str(tmp_path / "main.tiktoken").encode(), ffi.NULL, ffi.NULL, ffi.NULL, 0, out
    )
    assert status == lib.BPE_ERROR_IO

    def fail_elsewhere():
        lib.bpe_vocab_load(str(tmp_path / "other.tiktoken").encode(), ffi.NULL, ffi.NULL, ffi.NULL, 0, out)

    worker = threading.Thread(target=fail_elsewhere)
    worker.start()
    worker.join()
    assert "main.tiktoken" in _ffi._last_error()


def test_free_functions_accept_null():
    lib.bpe_trainer_free(ffi.NULL)
    lib.bpe_vocab_free(ffi.NULL)
    lib.bpe_encoder_free(ffi.NULL)
    lib.bpe_ids_free(ffi.NULL)
    lib.bpe_ids_batch_free(ffi.NULL)
    lib.bpe_buffer_free(ffi.NULL)


def test_versions_agree():
    cargo = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
    workspace_version = re.search(r'^\[workspace\.package\][^\[]*?^version = "([^"]+)"', cargo, re.M | re.S)
    assert _ffi.version() == libbpe.__version__ == workspace_version.group(1)


# ------------------------------------------------------------------------------- ownership

FREED: list[int] = []


def counting_free(ptr) -> None:
    FREED.append(int(ffi.cast("uintptr_t", ptr)))
    lib.bpe_encoder_free(ptr)


class CountingEncoder(_ffi.Encoder):
    _free = staticmethod(counting_free)


@pytest.fixture()
def vocab():
    v = _ffi.Vocab.from_tokens([bytes([b]) for b in range(256)], libbpe.GPT4_PATTERN, {})
    yield v
    v.close()


def test_close_frees_exactly_once(vocab):
    FREED.clear()
    enc = CountingEncoder(vocab)
    assert enc.encode_ordinary(b"ab") == [97, 98]
    enc.close()
    enc.close()
    assert len(FREED) == 1 and enc.closed
    with pytest.raises(errors.StateError, match="closed"):
        enc.encode_ordinary(b"ab")
    del enc
    gc.collect()
    assert len(FREED) == 1


def test_garbage_collection_frees_what_was_not_closed(vocab):
    FREED.clear()
    enc = CountingEncoder(vocab)
    address = int(ffi.cast("uintptr_t", enc.ptr))
    del enc
    gc.collect()
    assert FREED == [address]


def test_a_trainer_is_not_freed_under_a_running_call():
    trainer = _ffi.Trainer(libbpe.GPT4_PATTERN, 1)
    trainer._enter()  # what feed/train do around the native call
    trainer.close()
    assert not trainer.closed  # deferred: a call is running
    trainer._exit()
    assert trainer.closed  # freed as soon as the call returned
    with pytest.raises(errors.StateError, match="trainer has been closed"):
        trainer.feed([b"x"])
    trainer.cancel()  # harmless after close


def test_a_vocab_outlives_nothing_it_lent(vocab):
    enc = _ffi.Encoder(vocab)
    vocab.close()  # the encoder copied what it needs
    assert enc.encode_ordinary(b"hi") == [104, 105]
    enc.close()


# ---------------------------------------------------------------------------------- arrays


def test_documents_cross_the_abi_intact():
    docs = [b"", b"a\x00b", "中文".encode(), b"", b"x" * 100_000, b"\x00", b"last"]
    trainer = _ffi.Trainer(libbpe.GPT4_PATTERN, 0)
    try:
        trainer.feed(docs)
        documents, nbytes, _ = trainer.stats()
        assert (documents, nbytes) == (len(docs), sum(map(len, docs)))
        trainer.feed([])
        assert trainer.stats()[:2] == (len(docs), sum(map(len, docs)))
    finally:
        trainer.close()


def test_str_documents_are_fed_in_place_or_declined_whole():
    docs = ["", "a\x00b", "中文 😀", "x" * 100_000, "last"]
    assert _ffi._compiled_feed() is not None, "the wheel was built without the python feature"
    trainer = _ffi.Trainer(libbpe.GPT4_PATTERN, 0)
    twin = _ffi.Trainer(libbpe.GPT4_PATTERN, 0)
    try:
        assert trainer.feed_texts(docs)
        twin.feed([d.encode() for d in docs])
        assert trainer.stats() == twin.stats()
        before = trainer.stats()
        # A lone surrogate or a non-text: declined, nothing fed (the caller encodes and reports).
        assert not trainer.feed_texts(["fine", "bad \ud800"])
        assert not trainer.feed_texts(["fine", 3])
        assert trainer.stats() == before
        # Bytes are checked by the feed itself, all or nothing.
        with pytest.raises(errors.InvalidUtf8Error, match="document 1"):
            trainer.feed_texts(["fine", b"bad \xff"])
        assert trainer.stats() == before
        trainer.cancel()  # a cancel before a call is forgotten when it starts
        assert trainer.feed_texts(["more"])
        assert trainer.stats()[0] == before[0] + 1
    finally:
        trainer.close()
        twin.close()


@pytest.mark.parametrize("width", ["\u00e9", "\u20ac", "\U0001F600"])
def test_long_strs_are_encoded_in_parts_as_they_are_counted(width):
    # Non-ASCII strs of over two parts (256 Ki code points each) are cut where the pattern
    # always ends a chunk and encoded part by part on the counting threads.
    words = [f"w{width}rd", " and", f" {width}{width}", ", 12", "\n", "  x"]
    long = "".join(words[i * 7 % 6] for i in range(300_000))
    assert len(long) > 3 * 256 * 1024
    docs = ["short", long, "\u00e9t\u00e9", long[:1000]]
    trainer = _ffi.Trainer(libbpe.NANOCHAT_PATTERN, 0)
    twin = _ffi.Trainer(libbpe.NANOCHAT_PATTERN, 0)
    try:
        assert trainer.feed_texts(docs)
        twin.feed([d.encode() for d in docs])
        assert trainer.stats() == twin.stats()
        assert trainer.stats()[:2] == (4, sum(len(d.encode()) for d in docs))
        ours, theirs = trainer.train(400, []), twin.train(400, [])
        try:
            assert ours.tokens() == theirs.tokens()
        finally:
            ours.close()
            theirs.close()
        # A lone surrogate in a late part: the whole batch is declined, nothing fed.
        before = trainer.stats()
        assert not trainer.feed_texts(["fine", long + "\ud800" + long])
        assert trainer.stats() == before
    finally:
        trainer.close()
        twin.close()


def test_texts_cross_the_abi_intact(vocab):
    enc = _ffi.Encoder(vocab)
    texts = [b"", b"a\x00b", "中文".encode(), b"", b"xyz" * 1000, b"\x00"]
    assert enc.encode_ordinary_batch(texts, 2) == [list(t) for t in texts]
    assert enc.encode_ordinary_batch([], 2) == []
    assert enc.encode_batch(texts, [], 1) == [list(t) for t in texts]
    assert enc.decode(list(b"a\x00b")) == b"a\x00b"
    assert enc.decode([]) == b""
    enc.close()


def test_invalid_utf8_is_refused_by_the_library(vocab):
    enc = _ffi.Encoder(vocab)
    with pytest.raises(errors.InvalidUtf8Error, match="offset 1") as caught:
        enc.encode_ordinary(b"a\xffb")
    assert caught.value.document is None  # one text, not a batch's
    with pytest.raises(errors.InvalidUtf8Error, match="document 1 ") as caught:
        enc.encode_ordinary_batch([b"ok", b"a\xffb"], 1)
    assert caught.value.document == 1
    trainer = _ffi.Trainer(libbpe.GPT4_PATTERN, 1)
    with pytest.raises(errors.InvalidUtf8Error, match="document 1") as caught:
        trainer.feed([b"ok", b"\xc3"])
    assert caught.value.document == 1 == lib.bpe_last_error_document()
    with pytest.raises(errors.NullPointerError):
        _ffi._check(lib.bpe_vocab_len(ffi.NULL, ffi.new("size_t *")))
    assert lib.bpe_last_error_document() == -1
    assert trainer.stats()[0] == 0  # all or nothing
    trainer.close()
    enc.close()


def test_a_raising_progress_callback_cancels_training_and_its_exception_surfaces():
    class Stop(Exception):
        pass

    calls = []

    def progress(done, total):
        calls.append((done, total))
        raise Stop

    trainer = _ffi.Trainer(libbpe.GPT4_PATTERN, 1)
    trainer.feed([b"hello world " * 50, b"another document here"])
    with pytest.raises(Stop):
        trainer.train(400, [], progress)
    assert len(calls) == 1
    # The trainer is still usable: training again, without a callback, works.
    vocab = trainer.train(260, [])
    assert len(vocab) == 260
    vocab.close()
    trainer.close()


def test_progress_reports_merges_done_and_total():
    seen = []
    trainer = _ffi.Trainer(libbpe.GPT4_PATTERN, 1)
    trainer.feed([b"hello world " * 50])
    vocab = trainer.train(300, ["<|s|>"], lambda done, total: seen.append((done, total)))
    assert seen[-1][0] == len(vocab) - 256 and all(total == 43 for _, total in seen)
    vocab.close()
    trainer.close()
