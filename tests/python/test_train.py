"""Tokenizer.train_from_iterator: rustbpe's exact ranks, streaming, progress, exceptions, Ctrl-C."""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import rustbpe

import libbpe
import libbpe.train
from libbpe.compat import rustbpe as compat_rustbpe


def rustbpe_ranks(docs, vocab_size, pattern) -> dict[bytes, int]:
    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(iter(docs), vocab_size, pattern=pattern)
    return {bytes(k): v for k, v in tok.get_mergeable_ranks()}


@pytest.mark.parametrize(
    "pattern",
    [libbpe.GPT4_PATTERN, libbpe.NANOCHAT_PATTERN, r"""\w+|\s+|[^\w\s]+"""],
    ids=["gpt4", "nanochat", "custom"],
)
def test_ranks_equal_rustbpe(corpus, pattern):
    docs = corpus[::3]  # a third of the corpus keeps rustbpe's side quick
    ours = libbpe.Tokenizer.train_from_iterator(docs, 1500, pattern=pattern)
    assert ours.mergeable_ranks == rustbpe_ranks(docs, 1500, pattern)
    assert ours.pattern == pattern
    assert ours.vocab_size == 1500


def test_compat_module_is_a_drop_in_for_rustbpe(corpus):
    docs = corpus[::4]
    theirs = rustbpe.Tokenizer()
    ours = compat_rustbpe.Tokenizer()
    assert ours.get_pattern() == theirs.get_pattern() == ""
    assert ours.vocab_size == theirs.vocab_size == 256
    assert ours.get_mergeable_ranks() == [(bytes(k), v) for k, v in theirs.get_mergeable_ranks()]
    theirs.train_from_iterator(iter(docs), 1000, buffer_size=64)
    ours.train_from_iterator(iter(docs), 1000, buffer_size=64)
    assert ours.get_pattern() == theirs.get_pattern()
    assert ours.vocab_size == theirs.vocab_size
    assert ours.get_mergeable_ranks() == [(bytes(k), v) for k, v in theirs.get_mergeable_ranks()]
    texts = ["hello world", "def f(x): return x", "中文 😀", ""] + docs[:5]
    for text in texts:
        assert ours.encode(text) == theirs.encode(text)
        assert ours.decode(ours.encode(text)) == theirs.decode(theirs.encode(text))
    assert ours.batch_encode(texts) == theirs.batch_encode(texts)
    # Retraining replaces the vocabulary, as in rustbpe.
    ours.train_from_iterator(iter(docs), 300, pattern=libbpe.NANOCHAT_PATTERN)
    assert ours.vocab_size == 300 and ours.get_pattern() == libbpe.NANOCHAT_PATTERN


def test_compat_tokenizer_refuses_to_encode_before_training():
    with pytest.raises(libbpe.errors.StateError, match="train_from_iterator"):
        compat_rustbpe.Tokenizer().encode("x")


def test_special_tokens_take_the_last_ids(corpus):
    specials = ["<|a|>", "<|b|>", "<|c|>"]
    tok = libbpe.Tokenizer.train_from_iterator(corpus[:20], 600, special_tokens=specials)
    assert tok.vocab_size == 600
    assert len(tok.mergeable_ranks) == 597
    assert tok.special_tokens == {"<|a|>": 597, "<|b|>": 598, "<|c|>": 599}
    # The ranks are those of training without special tokens for 597 ids.
    assert tok.mergeable_ranks == libbpe.Tokenizer.train_from_iterator(corpus[:20], 597).mergeable_ranks


def test_batch_boundaries_do_not_change_the_result(corpus):
    docs = corpus[:25]
    expected = rustbpe_ranks(docs, 800, libbpe.NANOCHAT_PATTERN)
    for batch_bytes in (1, 10_000, 1 << 30):
        vocab = libbpe.train.train(iter(docs), 800, pattern=libbpe.NANOCHAT_PATTERN, batch_bytes=batch_bytes)
        try:
            assert dict(zip(vocab.tokens(), range(800))) == expected, batch_bytes
        finally:
            vocab.close()


class _Str(str):
    """A str subclass: CPython keeps its text apart from the object, so the feed reads it
    through the API instead of in place."""


def test_strings_of_every_width_train_as_their_utf8_and_keep_no_copy(corpus):
    # CPython stores a str with 1, 2 or 4 bytes per code point; the compiled feed encodes
    # non-ASCII ones to UTF-8 itself, a long one in pieces on every core.
    long = " ".join(corpus[:400])
    docs = [
        corpus[0],
        long + " caf\u00e9",  # one byte per code point, over a million of them
        "\u20ac " * 300_000 + long[:5000],  # two bytes, several pieces
        long[:3000] + " \U0001F600" * 200_000,  # four bytes
        "na\u00efve \u4e2d\u6587 \U0001F600",
        _Str("caf\u00e9 \u20ac sub"),
    ]
    sizes = [sys.getsizeof(d) for d in docs]
    vocab = libbpe.train.train(iter(docs), 600, pattern=libbpe.GPT4_PATTERN)
    # CPython's own encoder would have left each non-ASCII str holding a UTF-8 copy, which
    # getsizeof counts (rustbpe, below, leaves one).
    assert [sys.getsizeof(d) for d in docs[:5]] == sizes[:5]
    expected = rustbpe_ranks(docs, 600, libbpe.GPT4_PATTERN)
    try:
        assert dict(zip(vocab.tokens(), range(600))) == expected
    finally:
        vocab.close()
    # Now each str is given the UTF-8 copy CPython keeps once asked for it (as tiktoken asks,
    # and rustbpe on most Pythons; not on 3.9), which the feed reads instead of encoding.
    as_utf8 = ctypes.pythonapi.PyUnicode_AsUTF8AndSize
    as_utf8.argtypes, as_utf8.restype = [ctypes.py_object, ctypes.c_void_p], ctypes.c_void_p
    for d in docs[1:5]:
        as_utf8(d, None)
    assert all(sys.getsizeof(d) > size for d, size in zip(docs[1:5], sizes[1:5]))
    again = libbpe.train.train(iter(docs), 600, pattern=libbpe.GPT4_PATTERN)
    try:
        assert dict(zip(again.tokens(), range(600))) == expected
    finally:
        again.close()


@pytest.mark.parametrize("width", ["\u00e9", "\u20ac", "\U0001F600"])
def test_a_lone_surrogate_deep_in_a_long_document_names_it(corpus, width):
    long = (width + " ") * 700_000 + "\ud800"
    with pytest.raises(libbpe.errors.InvalidUtf8Error, match="document 1 .* at character 1400000"):
        libbpe.train.train(iter([corpus[0], long]), 600, pattern=libbpe.GPT4_PATTERN)


def test_any_iterable_of_str(corpus):
    docs = corpus[:10]
    expected = libbpe.Tokenizer.train_from_iterator(docs, 400).mergeable_ranks
    for texts in (tuple(docs), iter(docs), (d for d in docs), map(str, docs)):
        assert libbpe.Tokenizer.train_from_iterator(texts, 400).mergeable_ranks == expected


def test_thread_count_does_not_change_the_result(corpus):
    docs = corpus[:30]
    one = libbpe.Tokenizer.train_from_iterator(docs, 700, threads=1)
    every = libbpe.Tokenizer.train_from_iterator(docs, 700, threads=None)
    assert one.mergeable_ranks == every.mergeable_ranks


def test_training_stops_early_when_no_pair_is_left():
    docs = ["ab ab", "abc"]
    tok = libbpe.Tokenizer.train_from_iterator(docs, 10_000, special_tokens=["<|end|>"])
    ranks = rustbpe_ranks(docs, 10_000, libbpe.GPT4_PATTERN)
    assert tok.mergeable_ranks == ranks
    assert len(ranks) < 300
    assert tok.special_tokens == {"<|end|>": len(ranks)}
    assert tok.vocab_size == len(ranks) + 1


def test_documents_with_nul_and_empty_documents():
    docs = ["a\x00b a\x00b", "", "\x00\x00\x00", "", "tail"]
    tok = libbpe.Tokenizer.train_from_iterator(docs, 300)
    assert tok.mergeable_ranks == rustbpe_ranks(docs, 300, libbpe.GPT4_PATTERN)
    assert tok.decode(tok.encode("a\x00b")) == "a\x00b"


def test_progress_bars_on_stderr(corpus, capfd):
    pytest.importorskip("tqdm")
    libbpe.Tokenizer.train_from_iterator(corpus[:20], 1000, progress=True)
    err = capfd.readouterr().err
    assert "ingest" in err
    assert "merge" in err and "744/744" in err


def test_errors_name_documents_by_their_place_in_the_input_not_in_a_batch():
    from libbpe.errors import InvalidUtf8Error, RegexRuntimeError

    # fancy-regex gives up on the 58th document (backtracking limit).
    pattern = r"(?:(?=a)a|a)+b|\s+|[^a\s]+|a"
    texts = ["fine text"] * 100
    texts[57] = "a" * 40 + "c"
    for batch_bytes in (100, 1 << 30):  # ten documents per batch; one batch
        with pytest.raises(RegexRuntimeError, match="document 57 ") as caught:
            libbpe.train.train(iter(texts), 300, pattern=pattern, batch_bytes=batch_bytes)
        assert caught.value.document == 57
        # A lone surrogate: the package encodes that batch itself, and names the document.
        lone = texts[:57] + ["a\ud800b"] + texts[58:]
        with pytest.raises(InvalidUtf8Error, match="document 57 ") as caught:
            libbpe.train.train(iter(lone), 300, pattern=pattern, batch_bytes=batch_bytes)
        assert caught.value.document == 57


class Boom(Exception):
    pass


def test_an_iterator_exception_propagates_unchanged_and_nothing_is_left_running(corpus):
    boom = Boom("from the iterator")
    before = threading.active_count()

    def texts():
        yield from corpus[:10]
        raise boom

    with pytest.raises(Boom) as info:
        # Small batches, so that a feed is still running on the worker when the iterator raises.
        libbpe.train.train(texts(), 500, pattern=libbpe.GPT4_PATTERN, batch_bytes=1000)
    assert info.value is boom
    with pytest.raises(Boom):
        libbpe.Tokenizer.train_from_iterator(texts(), 500)
    assert threading.active_count() == before
    # The library is still fine.
    assert libbpe.Tokenizer.train_from_iterator(corpus[:3], 300).vocab_size == 300


# The child trains on a corpus whose merge loop lasts several seconds, or on an endless
# generator; it prints READY when it is at the stage to interrupt, and how it ended.
CTRL_C_CHILD = textwrap.dedent(
    """
    import random, signal, string, sys, threading, time
    import libbpe

    # Python leaves SIGINT ignored if it started ignored (as under a shell's background
    # job): this child must get KeyboardInterrupt however the tests were launched.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stage = sys.argv[1]
    rng = random.Random(0)
    letters = string.ascii_letters + "éßø中文日本語"

    def doc():
        return " ".join("".join(rng.choice(letters) for _ in range(rng.randint(4, 12))) for _ in range(200))

    def endless():
        pool = [doc() for _ in range(300)]
        n = 0
        for i in range(10**9):
            text = pool[i % len(pool)]
            n += len(text)
            if n > 40_000_000 and n - len(text) <= 40_000_000:
                print("READY", flush=True)  # two batches are in: one fed, one being gathered
            yield text

    if stage == "merge":
        docs = [doc() for _ in range(3000)]
        texts = docs
        # tqdm's "merge" bar appears on stderr with the first merge: the parent waits for it.
        progress = True
    else:
        texts = endless()
        progress = False
    try:
        libbpe.Tokenizer.train_from_iterator(texts, 1_000_000, progress=progress)
        print("FINISHED", flush=True)
    except KeyboardInterrupt:
        workers = [t.name for t in threading.enumerate() if t.name.startswith("libbpe")]
        print("KeyboardInterrupt", "workers:", len(workers), flush=True)
        # The trainer was freed cleanly and the library still works.
        print("AFTER", libbpe.Tokenizer.train_from_iterator(["ab ab"], 257).vocab_size, flush=True)
    """
)


def _interrupt(stage: str, ready_on: str) -> tuple[float, str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_CHILD, stage],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        stream = child.stdout if ready_on == "stdout" else child.stderr
        seen = ""
        while "READY" not in seen and "merge" not in seen:
            chunk = stream.read(1) if ready_on == "stderr" else stream.readline()
            if not chunk:
                raise AssertionError(f"the child ended early: {child.communicate()}")
            seen += chunk
        start = time.monotonic()
        child.send_signal(signal.SIGINT)
        # Fail rather than hang if the child never answers.
        answered, _, _ = select.select([child.stdout], [], [], 30)
        assert answered, f"no answer 30 s after SIGINT (stage {stage})"
        line = child.stdout.readline()
        elapsed = time.monotonic() - start
        out, err = child.communicate(timeout=60)
        return elapsed, line + out
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_during_ingestion_raises_keyboard_interrupt_promptly():
    elapsed, out = _interrupt("ingest", "stdout")
    assert out.startswith("KeyboardInterrupt workers: 0"), out  # no worker thread is left running
    assert "AFTER 257" in out
    assert elapsed < 2.0, f"KeyboardInterrupt came {elapsed:.2f} s after SIGINT"


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_during_the_merge_loop_raises_keyboard_interrupt_promptly():
    pytest.importorskip("tqdm")
    elapsed, out = _interrupt("merge", "stderr")
    assert out.startswith("KeyboardInterrupt workers: 0"), out
    assert "AFTER 257" in out
    assert elapsed < 2.0, f"KeyboardInterrupt came {elapsed:.2f} s after SIGINT"
