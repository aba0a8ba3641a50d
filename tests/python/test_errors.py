"""Bad input: each case a clear exception naming the problem, and the library still usable."""

from __future__ import annotations

import gzip
import threading

import pytest

import libbpe
from libbpe import errors


@pytest.fixture(autouse=True)
def library_still_usable_afterwards():
    """After every error case no worker thread is left and training still works."""
    yield
    assert not [t for t in threading.enumerate() if t.name.startswith("libbpe")]
    assert libbpe.Tokenizer.train_from_iterator(["ab ab ab"], 257).mergeable_ranks[b"ab"] == 256


BYTES = {bytes([b]): b for b in range(256)}

# ----------------------------------------------------------------------------------- training


def test_a_lone_surrogate_names_the_document():
    docs = ["fine", "also fine", "still fine", "bad \ud800 here"]
    with pytest.raises(errors.InvalidUtf8Error, match=r"document 3 .*surrogate '\\ud800' at character 4") as caught:
        libbpe.Tokenizer.train_from_iterator(docs, 300)
    assert caught.value.document == 3
    with pytest.raises(ValueError):  # InvalidUtf8Error is a ValueError
        libbpe.Tokenizer.train_from_iterator(docs, 300)


@pytest.mark.parametrize("item", [3, b"bytes", None, ["list"]])
def test_a_non_str_document_names_its_index_and_type(item):
    with pytest.raises(TypeError, match=f"document 2 is a {type(item).__name__}, not a str"):
        libbpe.Tokenizer.train_from_iterator(["a", "b", item, "c"], 300)


def test_a_single_str_instead_of_an_iterable_of_str():
    with pytest.raises(TypeError, match="a single str was given"):
        libbpe.Tokenizer.train_from_iterator("just one string", 300)


def test_an_empty_iterable():
    with pytest.raises(ValueError, match="no documents"):
        libbpe.Tokenizer.train_from_iterator([], 300)
    with pytest.raises(ValueError, match="no documents"):
        libbpe.Tokenizer.train_from_iterator(iter(()), 300)


def test_a_vocab_size_too_small_for_the_special_tokens_is_refused_before_reading():
    consumed = []

    def texts():
        consumed.append(True)
        yield "never read"

    with pytest.raises(errors.VocabSizeError, match="255 is too small.*at least 256"):
        libbpe.Tokenizer.train_from_iterator(texts(), 255)
    with pytest.raises(
        errors.VocabSizeError, match="264 is too small: the 256 single bytes and 9 special tokens"
    ):
        libbpe.Tokenizer.train_from_iterator(texts(), 264, special_tokens=libbpe.NANOCHAT_SPECIAL_TOKENS)
    with pytest.raises(ValueError):
        libbpe.Tokenizer.train_from_iterator(texts(), 10)
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        libbpe.Tokenizer.train_from_iterator(texts(), 300.0)
    assert not consumed
    # 256 plus the specials is the smallest size, and it works.
    tok = libbpe.Tokenizer.train_from_iterator(["ab"], 265, special_tokens=libbpe.NANOCHAT_SPECIAL_TOKENS)
    assert len(tok.mergeable_ranks) == 256 and tok.vocab_size == 265


@pytest.mark.parametrize(
    ("special_tokens", "message"),
    [
        (["<|a|>", 7], r"special token 1 is a int \(7\), not a str"),
        (["<|a|>", "<|b|>", "<|a|>"], r"'<\|a\|>' appears twice"),
        (["<|a|>", ""], "special token 1 is the empty string"),
        ([b"<|bytes|>"], "special token 0 is a bytes"),
        (["bad \udc80"], "special token 0 is not valid Unicode"),
    ],
)
def test_bad_special_tokens(special_tokens, message):
    with pytest.raises(errors.SpecialTokenError, match=message):
        libbpe.Tokenizer.train_from_iterator(["abc"], 400, special_tokens=special_tokens)


def test_special_tokens_as_a_single_str():
    with pytest.raises(TypeError, match="sequence of str"):
        libbpe.Tokenizer.train_from_iterator(["abc"], 400, special_tokens="<|bos|>")


def test_a_pattern_that_does_not_compile():
    with pytest.raises(errors.PatternError, match="invalid split pattern"):
        libbpe.Tokenizer.train_from_iterator(["abc"], 300, pattern=r"(unclosed")
    with pytest.raises(errors.PatternError, match="NUL"):
        libbpe.Tokenizer.train_from_iterator(["abc"], 300, pattern="a\0b")
    with pytest.raises(TypeError, match="pattern must be a str"):
        libbpe.Tokenizer.train_from_iterator(["abc"], 300, pattern=None)


def test_bad_thread_counts():
    for threads in (-1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be"):
            libbpe.Tokenizer.train_from_iterator(["abc"], 300, threads=threads)


# ------------------------------------------------------------------------ tokenizer directory


@pytest.fixture()
def saved(tmp_path):
    tok = libbpe.Tokenizer.train_from_iterator(
        ["hello world, hello there"] * 5, 280, special_tokens=["<|bos|>"]
    )
    tok.save(tmp_path)
    return tmp_path


def test_a_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="the tokenizer directory is missing") as info:
        libbpe.Tokenizer.load(tmp_path / "nope")
    assert info.value.filename == str(tmp_path / "nope")


def test_a_directory_without_its_json(saved):
    (saved / "libbpe.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"libbpe.json \(not a libbpe tokenizer directory\?\)"):
        libbpe.Tokenizer.load(saved)


def test_a_directory_without_the_ranks(saved):
    (saved / "tokenizer.tiktoken").unlink()
    with pytest.raises(FileNotFoundError, match="the ranks file is missing"):
        libbpe.Tokenizer.load(saved)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        (b"\xff\xfe", "is not valid JSON"),
        ('{"model": {"type": "BPE"}}', "is not a libbpe tokenizer file"),
        (
            '{"format": "libbpe-tokenizer", "version": 99, "pattern": "x", "special_tokens": {}}',
            "format version 99",
        ),
        (
            '{"format": "libbpe-tokenizer", "version": 1, "pattern": 3, "special_tokens": {}}',
            '"pattern" must be',
        ),
        (
            '{"format": "libbpe-tokenizer", "version": 1, "pattern": "x", "special_tokens": ["a"]}',
            '"special_tokens"',
        ),
    ],
)
def test_a_corrupt_json(saved, content, message):
    path = saved / "libbpe.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(errors.VocabularyError, match=message):
        libbpe.Tokenizer.load(saved)


def test_a_corrupt_ranks_file_names_the_line(saved):
    path = saved / "tokenizer.tiktoken"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[4] = b"%%%not-base64%%% 4\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(errors.VocabularyError, match="line 5"):
        libbpe.Tokenizer.load(saved)


def test_a_truncated_ranks_file(saved):
    path = saved / "tokenizer.tiktoken"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-3]))  # cut at a line boundary: still parses
    with pytest.raises(errors.VocabularyError, match="truncated"):
        libbpe.Tokenizer.load(saved)
    path.write_bytes(b"".join(lines)[:-7])  # cut inside a line
    with pytest.raises(errors.VocabularyError):
        libbpe.Tokenizer.load(saved)


def test_a_ranks_file_without_every_single_byte(tmp_path):
    path = tmp_path / "r.tiktoken"
    libbpe.Tokenizer(BYTES).save(tmp_path)
    lines = (tmp_path / "tokenizer.tiktoken").read_bytes().splitlines(keepends=True)
    # Drop the byte 0xff (rank 255): the file is well-formed but some text has no encoding.
    path.write_bytes(b"".join(lines[:255]))
    with pytest.raises(errors.VocabularyError, match="0xff has no rank"):
        libbpe.Tokenizer.from_tiktoken_file(path, libbpe.GPT4_PATTERN)


def test_a_missing_or_corrupt_tiktoken_file(tmp_path):
    with pytest.raises(errors.FileError, match="nope.tiktoken") as info:
        libbpe.Tokenizer.from_tiktoken_file(tmp_path / "nope.tiktoken", libbpe.GPT4_PATTERN)
    assert isinstance(info.value, OSError)
    bad = tmp_path / "bad.tiktoken.gz"
    bad.write_bytes(gzip.compress(b"abc")[:-4])
    with pytest.raises(errors.VocabularyError):
        libbpe.Tokenizer.from_tiktoken_file(bad, libbpe.GPT4_PATTERN)


# ---------------------------------------------------------------------------------- encoding


def test_ranks_that_are_not_dense():
    with pytest.raises(errors.VocabularyError, match="ranks must be dense"):
        libbpe.Encoder(BYTES | {b"ab": 300}, libbpe.GPT4_PATTERN)
    with pytest.raises(errors.VocabularyError, match="rank 5 is given to both"):
        libbpe.Encoder({**BYTES, b"ab": 5}, libbpe.GPT4_PATTERN)
    with pytest.raises(errors.VocabularyError, match="0x41 has no rank"):
        libbpe.Encoder(
            {(b"A" if t == b"A" else t): r for t, r in BYTES.items() if t != b"A"} | {b"AB": 65},
            libbpe.GPT4_PATTERN,
        )


def test_special_token_ids_that_clash():
    with pytest.raises(errors.SpecialTokenError, match="which is a rank"):
        libbpe.Encoder(BYTES, libbpe.GPT4_PATTERN, {"<|x|>": 100})
    with pytest.raises(errors.SpecialTokenError, match="reuses id 300"):
        libbpe.Encoder(BYTES, libbpe.GPT4_PATTERN, {"<|x|>": 300, "<|y|>": 300})
    with pytest.raises(errors.SpecialTokenError, match="not an int"):
        libbpe.Encoder(BYTES, libbpe.GPT4_PATTERN, {"<|x|>": "300"})
    with pytest.raises(errors.SpecialTokenError, match="not a str"):
        libbpe.Encoder(BYTES, libbpe.GPT4_PATTERN, {300: 300})


def test_special_token_ids_out_of_range_when_loading(tmp_path):
    libbpe.Tokenizer(BYTES).save(tmp_path)
    for bad in (-1, 2**32, True):
        with pytest.raises(errors.SpecialTokenError, match="not an int in 0..2"):
            libbpe.Tokenizer.from_tiktoken_file(
                tmp_path / "tokenizer.tiktoken", libbpe.GPT4_PATTERN, {"<|x|>": bad}
            )


def test_decoding_an_unknown_id():
    enc = libbpe.Encoder(BYTES, libbpe.GPT4_PATTERN, {"<|x|>": 300})
    for ids in ([1, 256], [299], [301], [-1], [2**32], [2**40]):
        with pytest.raises(errors.UnknownIdError, match="not in the vocabulary"):
            enc.decode(ids)
    # tiktoken raises KeyError here, rustbpe ValueError: UnknownIdError is both.
    with pytest.raises(KeyError):
        enc.decode_bytes([999])
    with pytest.raises(ValueError):
        enc.decode([999])
    with pytest.raises(TypeError, match="ids must be integers"):
        enc.decode(["1"])
