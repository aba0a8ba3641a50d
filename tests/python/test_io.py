"""Saving, loading, pickling, tiktoken files, and the `python -m libbpe` commands."""

from __future__ import annotations

import gzip
import json
import pickle
import subprocess
import sys

import pytest
import tiktoken
import tiktoken.load

import libbpe
from libbpe.directory import FORMAT, FORMAT_VERSION


def same_tokenizer(a: libbpe.Tokenizer, b: libbpe.Tokenizer, texts) -> None:
    assert a.mergeable_ranks == b.mergeable_ranks
    assert a.pattern == b.pattern
    assert a.special_tokens == b.special_tokens
    assert a.vocab_size == b.vocab_size
    for text in texts:
        assert a.encode(text) == b.encode(text)


def test_save_and_load_round_trip(nanochat_tokenizer, mixed_texts, tmp_path):
    nanochat_tokenizer.save(tmp_path / "tok")
    assert sorted(p.name for p in (tmp_path / "tok").iterdir()) == ["libbpe.json", "tokenizer.tiktoken"]
    loaded = libbpe.Tokenizer.load(tmp_path / "tok")
    same_tokenizer(loaded, nanochat_tokenizer, mixed_texts)
    assert loaded.get_bos_token_id() == nanochat_tokenizer.get_bos_token_id()
    # nanochat's name for it, and a str path.
    same_tokenizer(libbpe.Tokenizer.from_directory(str(tmp_path / "tok")), nanochat_tokenizer, mixed_texts)
    # Saving again over an existing directory replaces the files.
    loaded.save(tmp_path / "tok")
    same_tokenizer(libbpe.Tokenizer.load(tmp_path / "tok"), nanochat_tokenizer, mixed_texts)


def test_saved_files_are_tiktokens_format_and_small_json(nanochat_tokenizer, tmp_path):
    nanochat_tokenizer.save(tmp_path)
    # tiktoken's own loader reads the ranks file.
    assert (
        tiktoken.load.load_tiktoken_bpe(str(tmp_path / "tokenizer.tiktoken"))
        == nanochat_tokenizer.mergeable_ranks
    )
    meta = json.loads((tmp_path / "libbpe.json").read_text(encoding="utf-8"))
    assert meta["format"] == FORMAT and meta["version"] == FORMAT_VERSION
    assert meta["pattern"] == libbpe.NANOCHAT_PATTERN
    assert meta["special_tokens"] == nanochat_tokenizer.special_tokens
    assert meta["n_ranks"] == len(nanochat_tokenizer.mergeable_ranks)
    # Nothing is pickled.
    for path in tmp_path.iterdir():
        assert not path.read_bytes().startswith(b"\x80"), path


def test_a_directory_can_hold_hugging_faces_file_too(nanochat_tokenizer, mixed_texts, tmp_path):
    import tokenizers

    nanochat_tokenizer.save(tmp_path, huggingface=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["libbpe.json", "tokenizer.json", "tokenizer.tiktoken"]
    hf = tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    text = "<|bos|>hello world 中文"
    assert hf.encode(text).ids == nanochat_tokenizer.encoding.encode(text, allowed_special="all")
    same_tokenizer(libbpe.Tokenizer.load(tmp_path), nanochat_tokenizer, mixed_texts)
    # Saving again without it leaves Hugging Face's file alone.
    nanochat_tokenizer.save(tmp_path)
    assert tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json")).encode(text).ids == hf.encode(text).ids


def test_the_older_layout_still_loads_and_saving_moves_its_json(nanochat_tokenizer, mixed_texts, tmp_path):
    # Earlier builds wrote libbpe's JSON as tokenizer.json, the name Hugging Face's tools read.
    nanochat_tokenizer.save(tmp_path)
    (tmp_path / "libbpe.json").rename(tmp_path / "tokenizer.json")
    same_tokenizer(libbpe.Tokenizer.load(tmp_path), nanochat_tokenizer, mixed_texts)
    libbpe.Tokenizer.load(tmp_path).save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["libbpe.json", "tokenizer.tiktoken"]
    same_tokenizer(libbpe.Tokenizer.load(tmp_path), nanochat_tokenizer, mixed_texts)


def test_encoding_is_an_equivalent_cached_tiktoken_encoding(gpt4_tokenizer, mixed_texts):
    enc = gpt4_tokenizer.encoding
    assert isinstance(enc, tiktoken.Encoding)
    assert gpt4_tokenizer.encoding is enc
    assert enc.n_vocab == gpt4_tokenizer.vocab_size
    assert enc.special_tokens_set == set(gpt4_tokenizer.special_tokens)
    for text in mixed_texts:
        assert enc.encode(text, disallowed_special=()) == gpt4_tokenizer.encode(text)


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_tokenizer_pickles_through_its_ranks(nanochat_tokenizer, mixed_texts, protocol):
    data = pickle.dumps(nanochat_tokenizer, protocol=protocol)
    copy = pickle.loads(data)
    assert copy is not nanochat_tokenizer and copy.encoder is not nanochat_tokenizer.encoder
    same_tokenizer(copy, nanochat_tokenizer, mixed_texts)
    assert copy.get_bos_token_id() == nanochat_tokenizer.get_bos_token_id()
    # Closing the copy leaves the original working: each owns its native encoder.
    copy.close()
    assert nanochat_tokenizer.encode("still fine") == nanochat_tokenizer.encoding.encode("still fine")


def test_from_tiktoken_file_plain_and_gzipped(gpt4_tokenizer, mixed_texts, tmp_path):
    gpt4_tokenizer.save(tmp_path)
    plain = tmp_path / "tokenizer.tiktoken"
    zipped = tmp_path / "ranks.tiktoken.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    specials = gpt4_tokenizer.special_tokens
    for path in (plain, zipped, str(zipped)):
        tok = libbpe.Tokenizer.from_tiktoken_file(path, libbpe.GPT4_PATTERN, specials)
        same_tokenizer(tok, gpt4_tokenizer, mixed_texts)
    # Special tokens given as names take the ids after the last rank.
    tok = libbpe.Tokenizer.from_tiktoken_file(
        plain, libbpe.GPT4_PATTERN, ["<|endoftext|>", "<|fim|>", "<|fim_longer|>"]
    )
    assert tok.special_tokens == specials
    assert libbpe.Tokenizer.from_tiktoken_file(plain, libbpe.GPT4_PATTERN).special_tokens == {}


def test_cl100k_loads_from_its_gzipped_file(cl100k):
    assert len(cl100k.mergeable_ranks) == 100256
    assert cl100k.vocab_size == 100277
    assert cl100k.encode("hello world") == [15339, 1917]
    assert cl100k.encoder.encode("<|endoftext|>", allowed_special="all") == [100257]


# ------------------------------------------------------------------------------------ the CLI


def run_cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "libbpe", *args], input=input, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, corpus):
    """The same documents as Parquet, JSON Lines and text files."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    root = tmp_path_factory.mktemp("inputs")
    docs = corpus[:12]
    table = pa.table({"text": docs[:8], "other": list(range(8))})
    pq.write_table(table, root / "a.parquet", row_group_size=3)  # several row groups
    with open(root / "b.jsonl", "w", encoding="utf-8") as f:
        for d in docs[8:11]:
            f.write(json.dumps({"text": d}) + "\n")
    (root / "c.txt").write_text(docs[11], encoding="utf-8")
    return root, docs


def test_cli_train_writes_the_tokenizer_and_token_bytes(inputs, tmp_path):
    np = pytest.importorskip("numpy")
    root, docs = inputs
    out = tmp_path / "tok"
    result = run_cli(
        "train",
        "--vocab-size",
        "700",
        "--output",
        str(out),
        "--preset",
        "nanochat",
        "--quiet",
        str(root / "a.parquet"),
        str(root / "b.jsonl"),
        str(root / "c.txt"),
    )
    assert result.returncode == 0, result.stderr
    assert "trained on 12 documents" in result.stdout
    assert "vocab size 700 (691 ranks, 9 special tokens)" in result.stdout
    tok = libbpe.Tokenizer.load(out)
    expected = libbpe.Tokenizer.train_from_iterator(
        docs, 700, pattern=libbpe.NANOCHAT_PATTERN, special_tokens=libbpe.NANOCHAT_SPECIAL_TOKENS
    )
    same_tokenizer(tok, expected, docs[:2])
    token_bytes = np.load(out / "token_bytes.npy")
    assert token_bytes.dtype == np.int32 and (token_bytes == expected.token_bytes()).all()


def test_cli_max_chars_and_doc_cap_follow_nanochat(inputs, tmp_path):
    root, docs = inputs
    out = tmp_path / "tok"
    result = run_cli(
        "train",
        "--vocab-size",
        "400",
        "--output",
        str(out),
        "--quiet",
        "--doc-cap",
        "1000",
        "--max-chars",
        "2500",
        str(root / "a.parquet"),
    )
    assert result.returncode == 0, result.stderr
    # nanochat's rule: each document cut to 1000 characters, stop once more than 2500 have passed.
    capped, n = [], 0
    for d in docs[:8]:
        capped.append(d[:1000])
        n += len(capped[-1])
        if n > 2500:
            break
    assert len(capped) < 8
    assert f"trained on {len(capped)} documents, {n:,} characters" in result.stdout
    assert (
        libbpe.Tokenizer.load(out).mergeable_ranks
        == libbpe.Tokenizer.train_from_iterator(capped, 400).mergeable_ranks
    )


def test_cli_encode_and_decode(nanochat_tokenizer, tmp_path):
    nanochat_tokenizer.save(tmp_path)
    text = "hello world 中文 <|bos|>"
    encoded = run_cli("encode", str(tmp_path), input=text)
    assert encoded.returncode == 0, encoded.stderr
    ids = [int(i) for i in encoded.stdout.split()]
    assert ids == nanochat_tokenizer.encode(text)
    special = run_cli("encode", "--allow-special", str(tmp_path), "x<|bos|>")
    assert special.stdout.split()[-1] == str(nanochat_tokenizer.get_bos_token_id())
    decoded = run_cli("decode", str(tmp_path), *map(str, ids))
    assert decoded.returncode == 0 and decoded.stdout == text
    assert run_cli("decode", str(tmp_path), input=encoded.stdout).stdout == text


def test_cli_writes_hugging_faces_tokenizer_json(nanochat_tokenizer, tmp_path):
    import tokenizers

    text = "<|bos|>hello world 中文"
    expected = nanochat_tokenizer.encoding.encode(text, allowed_special="all")
    tok = tmp_path / "tok"
    nanochat_tokenizer.save(tok)
    # Into the directory, by default.
    result = run_cli("huggingface", str(tok))
    assert result.returncode == 0, result.stderr
    assert tokenizers.Tokenizer.from_file(str(tok / "tokenizer.json")).encode(text).ids == expected
    # Anywhere else.
    out = tmp_path / "elsewhere.json"
    assert run_cli("huggingface", str(tok), str(out)).returncode == 0
    assert tokenizers.Tokenizer.from_file(str(out)).encode(text).ids == expected
    # A directory of the older layout: its own JSON moves to libbpe.json, not lost.
    old = tmp_path / "old"
    nanochat_tokenizer.save(old)
    (old / "libbpe.json").rename(old / "tokenizer.json")
    clobber = run_cli("huggingface", str(old), str(old / "tokenizer.json"))
    assert clobber.returncode == 1 and "elsewhere" in clobber.stderr
    assert run_cli("huggingface", str(old)).returncode == 0
    assert tokenizers.Tokenizer.from_file(str(old / "tokenizer.json")).encode(text).ids == expected
    assert libbpe.Tokenizer.load(old).mergeable_ranks == nanochat_tokenizer.mergeable_ranks


def test_cli_train_can_write_hugging_faces_file(inputs, tmp_path):
    root, _ = inputs
    out = tmp_path / "tok"
    args = ["--vocab-size", "300", "--output", str(out), "--quiet", "--huggingface", str(root / "b.jsonl")]
    result = run_cli("train", *args)
    assert result.returncode == 0, result.stderr
    assert "tokenizer.json" in result.stdout
    import tokenizers

    tok = libbpe.Tokenizer.load(out)
    text = "def f(x):\n    return x  # 123"
    hf = tokenizers.Tokenizer.from_file(str(out / "tokenizer.json"))
    assert hf.encode(text).ids == tok.encoding.encode_ordinary(text)


def test_cli_reports_errors_in_one_line(tmp_path):
    result = run_cli("encode", str(tmp_path / "missing"), "x")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "missing" in result.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"body": "no text"}\n', encoding="utf-8")
    result = run_cli("train", "--vocab-size", "300", "--output", str(tmp_path / "o"), "--quiet", str(bad))
    assert result.returncode == 1 and "bad.jsonl:2" in result.stderr
