"""Trained merges equal the reference rule, rustbpe 0.1.0, and round-trip through tiktoken.

Three witnesses: the plain Python reference trainer (reference_bpe.py) on many small and
tie-heavy random corpora; rustbpe itself on real text (the Python standard library's
sources by default, the shared 61 MB corpus when BPE_SLOW=1); and tiktoken, whose
Encoding built from our ranks must round-trip text and give rustbpe's ids.
"""

import os
import pathlib
import random
import sysconfig

import pytest
import rustbpe
import tiktoken

import libbpe
import reference_bpe

PATTERNS = [libbpe.GPT4_PATTERN, libbpe.NANOCHAT_PATTERN, r"\w+|\s+|[^\w\s]+"]

# Characters whose Unicode classes are old and stable, so the `regex` module and
# fancy-regex agree on them; the Rust differential tests cover the exotic ones.
ALPHABET = list("aabbcdeilnorstuvwxyzSTLEDM'' \t\n\r0123456789.,!?-_()é中文ж😀") + ["  ", "\r\n", "'s", "'ll"]


def random_docs(rng: random.Random, n_docs: int, max_len: int, alphabet=ALPHABET) -> list[str]:
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_len))) for _ in range(n_docs)]


def ours(docs, vocab_size, pattern, **kw) -> dict[bytes, int]:
    return dict(libbpe.Tokenizer.train_from_iterator(iter(docs), vocab_size, pattern=pattern, **kw).mergeable_ranks)


def theirs(docs, vocab_size, pattern) -> dict[bytes, int]:
    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(iter(docs), vocab_size, pattern=pattern)
    return {bytes(k): v for k, v in tok.get_mergeable_ranks()}


@pytest.mark.parametrize("seed", range(40))
def test_equals_reference_on_random_corpora(seed):
    rng = random.Random(seed)
    pattern = PATTERNS[seed % len(PATTERNS)]
    docs = random_docs(rng, rng.randint(1, 12), 60)
    vocab = 256 + rng.randint(1, 60)
    assert ours(docs, vocab, pattern) == reference_bpe.train(docs, vocab, pattern)


@pytest.mark.parametrize("seed", range(30))
def test_equals_reference_and_rustbpe_on_ties(seed):
    rng = random.Random(1000 + seed)
    docs = random_docs(rng, rng.randint(1, 20), 40, alphabet=list("ab ab c"))
    vocab = 256 + rng.randint(1, 80)
    got = ours(docs, vocab, libbpe.GPT4_PATTERN)
    assert got == reference_bpe.train(docs, vocab, libbpe.GPT4_PATTERN)
    assert got == theirs(docs, vocab, libbpe.GPT4_PATTERN)


def stdlib_docs() -> list[str]:
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    return [p.read_text("utf-8", "replace") for p in sorted(root.glob("*.py"))]


@pytest.fixture(scope="module")
def stdlib():
    return stdlib_docs()


@pytest.mark.parametrize("pattern", [libbpe.GPT4_PATTERN, libbpe.NANOCHAT_PATTERN])
def test_equals_rustbpe_on_the_standard_library(stdlib, pattern):
    got = ours(stdlib, 4096, pattern)
    assert len(got) == 4096
    assert got == theirs(stdlib, 4096, pattern)


def test_equals_rustbpe_with_a_custom_pattern(stdlib):
    pattern = r"\s?\w+|\s+|[^\w\s]+"
    assert ours(stdlib[:80], 1000, pattern) == theirs(stdlib[:80], 1000, pattern)


def test_stops_early_when_no_pair_is_left():
    got = ours(["ab", "ab", "c"], 1000, libbpe.GPT4_PATTERN)
    assert got == theirs(["ab", "ab", "c"], 1000, libbpe.GPT4_PATTERN)
    assert len(got) == 257


def test_tiktoken_round_trips_and_matches_rustbpe_ids(stdlib):
    docs, held_out = stdlib[::2], stdlib[1::2][:40]
    ranks = ours(docs, 2048, libbpe.GPT4_PATTERN)
    enc = tiktoken.Encoding("trained", pat_str=libbpe.GPT4_PATTERN, mergeable_ranks=ranks, special_tokens={})
    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(iter(docs), 2048, pattern=libbpe.GPT4_PATTERN)
    for text in held_out + ["héllo wörld 中文 😀", " " * 100 + "x"]:
        ids = enc.encode_ordinary(text)
        assert enc.decode(ids) == text
        assert ids == tok.encode(text)


@pytest.mark.skipif(os.environ.get("BPE_SLOW") != "1", reason="opt-in slow run on the shared corpus (BPE_SLOW=1)")
def test_equals_rustbpe_on_the_shared_corpus():
    import json

    path = pathlib.Path(os.environ.get("BPE_CORPUS", "~/.cache/bpe-corpus/docs.jsonl")).expanduser()
    with open(path, encoding="utf-8") as f:
        docs = [json.loads(line)["text"] for line in f]
    assert ours(docs, 32768, libbpe.NANOCHAT_PATTERN) == theirs(docs, 32768, libbpe.NANOCHAT_PATTERN)
