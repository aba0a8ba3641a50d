"""Hugging Face's tokenizer.json: `tokenizers` loads it and gives tiktoken's ids.

The witness is tiktoken itself: the same texts through `tokenizers.Tokenizer` (from the
exported JSON) and through `tiktoken.Encoding` (from the same parts) give the same ids, for
vocabularies trained here and for cl100k_base and o200k_base, whose patterns use the syntax
that Oniguruma reads differently.
"""

from __future__ import annotations

import json

import pytest
import tiktoken
import tokenizers

import libbpe
from libbpe.huggingface import canonical_merges, onig_pattern
from test_encoder import _openai, generated_texts, random_texts, tiktoken_twin


def hf_of(tok: libbpe.Tokenizer):
    return tokenizers.Tokenizer.from_str(tok.to_huggingface_json())


def assert_same_ids(hf, twin: tiktoken.Encoding, texts: list[str]) -> None:
    for text in texts:
        expected = twin.encode(text, allowed_special="all")
        assert hf.encode(text, add_special_tokens=False).ids == expected, repr(text[:120])
        assert hf.decode(expected, skip_special_tokens=False) == text, repr(text[:120])


def usable(texts: list[str]) -> list[str]:
    """Without lone surrogates, which neither a JSON string nor `tokenizers` takes."""
    return [t for t in texts if t.encode("utf-8", "surrogatepass") == t.encode("utf-8", "replace")]


@pytest.fixture(scope="module")
def gpt2_tokenizer(corpus) -> libbpe.Tokenizer:
    return libbpe.Tokenizer.train_from_iterator(
        corpus, 1500, pattern=libbpe.GPT2_PATTERN, special_tokens=["<|endoftext|>"]
    )


@pytest.mark.parametrize("name", ["nanochat_tokenizer", "gpt4_tokenizer", "gpt2_tokenizer"])
def test_trained_vocabularies_give_tiktokens_ids(name, request, corpus, mixed_texts):
    tok = request.getfixturevalue(name)
    specials = sorted(tok.special_tokens)
    texts = mixed_texts + corpus[:20] + random_texts(7, 300) + generated_texts(8, 300, specials)
    assert_same_ids(hf_of(tok), tiktoken_twin(tok), usable(texts))


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_openai_vocabularies_give_tiktokens_ids(name, corpus, mixed_texts):
    ranks, pattern, specials = _openai(name)
    tok = libbpe.Tokenizer(ranks, pattern, specials)
    twin = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)
    texts = mixed_texts + corpus[:10] + generated_texts(9, 300, sorted(specials))
    # Digit runs: cl100k_base's possessive `\p{N}{1,3}+` is where Oniguruma reads differently.
    texts += ["2020", "12350000 and 1234567890123", "x$ \n", "end  "]
    assert_same_ids(hf_of(tok), twin, usable(texts))


def test_the_file_describes_the_tokenizer(gpt4_tokenizer):
    document = json.loads(gpt4_tokenizer.to_huggingface_json())
    model = document["model"]
    assert model["type"] == "BPE" and model["ignore_merges"] is True
    ranks, specials = gpt4_tokenizer.mergeable_ranks, gpt4_tokenizer.special_tokens
    # The special tokens are in the model's vocabulary too: `tokenizers` takes their ids from it.
    assert sorted(model["vocab"].values()) == sorted([*ranks.values(), *specials.values()])
    assert all(model["vocab"][name] == id_ for name, id_ in specials.items())
    added = {t["content"]: t["id"] for t in document["added_tokens"]}
    assert added == specials
    assert all(t["special"] for t in document["added_tokens"])


def test_a_special_token_spelled_like_a_rank_is_refused():
    ranks = {bytes([b]): b for b in range(256)}
    ranks[b"xy"] = 256
    tok = libbpe.Tokenizer(ranks, r"\S+|\s+", {"xy": 257})
    with pytest.raises(libbpe.SpecialTokenError, match="'xy' is spelled like rank 256"):
        tok.to_huggingface_json()


def test_merges_are_tiktokens_last_joins_not_the_training_order():
    # Training could make "xyz" from "x" + "yz"; tiktoken's rule, on the bytes "xyz", joins
    # "xy" first (the lower rank), so "xy" + "z" is the merge that reproduces its ids.
    ranks = {bytes([b]): b for b in range(256)}
    ranks.update({b"xy": 256, b"yz": 257, b"xyz": 258, b"abc": 259})
    assert canonical_merges(ranks) == [(b"x", b"y"), (b"y", b"z"), (b"xy", b"z")]
    # "abc" is in no merge (no join reaches it), yet a chunk that is exactly "abc" is one token.
    tok = libbpe.Tokenizer(ranks, r"\S+|\s+")
    hf = hf_of(tok)
    for text in ["abc", "abc abcx xyz xyzz yz", "zxyz"]:
        assert hf.encode(text).ids == tok.encoding.encode_ordinary(text) == tok.encode(text)


def test_anchors_mean_the_ends_of_the_text(corpus):
    # In Oniguruma `$` also matches before a line break: "  " would end a line here.
    pattern = r"^\S+|\s+$|\S+|\s+"
    tok = libbpe.Tokenizer.train_from_iterator(corpus[:30], 600, pattern=pattern)
    texts = ["a  \nb", "x \n\n y  ", "  lead\n  trail \n", "one\ntwo\n"]
    assert_same_ids(hf_of(tok), tiktoken_twin(tok), texts + random_texts(11, 100))


@pytest.mark.parametrize(
    ("pattern", "onig"),
    [
        (r"\p{N}{1,3}+", r"(?>\p{N}{1,3})"),
        (r"a|[0-9]{2}+|b", r"a|(?>[0-9]{2})|b"),
        (r"(ab|c){1,}+x", r"(?>(ab|c){1,})x"),
        (r"\s++$|^x", r"\s++\z|\Ax"),
        (r"[$^]\$\^", r"[$^]\$\^"),
        (r"[^\]\[a]{3}", r"[^\]\[a]{3}"),
        (r"[[a-z]&&[^x]]{2}+", r"(?>[[a-z]&&[^x]]{2})"),
        (r"\x{41}{2}+\p{L}?+", r"(?>\x{41}{2})\p{L}?+"),
        (r"\pL{2}+\x41{1,2}+\u0041{3}+", r"(?>\pL{2})(?>\x41{1,2})(?>\u0041{3})"),
        (libbpe.NANOCHAT_PATTERN, libbpe.NANOCHAT_PATTERN),
    ],
)
def test_onig_pattern(pattern, onig):
    assert onig_pattern(pattern) == onig
