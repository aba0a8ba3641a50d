"""libbpe.Encoder gives tiktoken's ids, errors and names on any text."""

from __future__ import annotations

import pickle
import random
import threading

import pytest
import tiktoken

import libbpe
from libbpe.errors import StateError


def tiktoken_twin(tok: libbpe.Tokenizer) -> tiktoken.Encoding:
    """A tiktoken.Encoding built independently of Tokenizer.encoding, from the same parts."""
    return tiktoken.Encoding(
        name="twin",
        pat_str=tok.pattern,
        mergeable_ranks=tok.mergeable_ranks,
        special_tokens=tok.special_tokens,
    )


def random_texts(seed: int, n: int) -> list[str]:
    """Random mixes of the characters and runs that stress the split pattern."""
    rng = random.Random(seed)
    pieces = [
        "the",
        " cat",
        "'s",
        "'LL",
        " ",
        "  ",
        "\n",
        "\r\n",
        "\t",
        "123",
        "4567",
        "3.14",
        "中文",
        "日本",
        "😀",
        "👨‍👩‍👧",
        "é",
        "ß",
        "ﬁ",
        "()",
        "{}",
        "->",
        "==",
        "#",
        "\u00a0",
        "\u3000",
        "x" * 40,
        " " * 30,
    ]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))) for _ in range(n)]


@pytest.fixture(scope="module", params=["nanochat", "gpt4"])
def trained(request, nanochat_tokenizer, gpt4_tokenizer):
    tok = nanochat_tokenizer if request.param == "nanochat" else gpt4_tokenizer
    return tok.encoder, tiktoken_twin(tok)


def test_encode_ordinary_equals_tiktoken(trained, corpus, mixed_texts):
    enc, twin = trained
    for text in mixed_texts + corpus[:40] + random_texts(0, 300):
        assert enc.encode_ordinary(text) == twin.encode_ordinary(text), text[:80]


def test_encode_ordinary_equals_tiktoken_on_cl100k(cl100k, corpus, mixed_texts):
    twin = tiktoken_twin(cl100k)
    enc = cl100k.encoder
    for text in mixed_texts + corpus[:20] + random_texts(1, 300):
        assert enc.encode_ordinary(text) == twin.encode_ordinary(text), text[:80]
    # A known anchor: tiktoken's documented ids for this text under cl100k_base.
    assert enc.encode_ordinary("hello world") == [15339, 1917]


def test_lone_surrogates_are_replaced_as_tiktoken_does(trained):
    enc, twin = trained
    for text in ["a\ud800b", "\udfff", "x \ud83d\ude00 \ud83d y"]:
        assert enc.encode_ordinary(text) == twin.encode_ordinary(text)
        assert enc.encode(text) == twin.encode(text)


def test_encode_with_special_tokens_equals_tiktoken(gpt4_tokenizer):
    enc, twin = gpt4_tokenizer.encoder, tiktoken_twin(gpt4_tokenizer)
    text = "a<|endoftext|>b <|fim|><|fim_longer|> <|fim|>_longer|> c"
    for allowed in ["all", {"<|endoftext|>"}, {"<|fim|>", "<|fim_longer|>"}, {"<|fim_longer|>"}, set()]:
        kwargs = {"allowed_special": allowed, "disallowed_special": ()}
        assert enc.encode(text, **kwargs) == twin.encode(text, **kwargs), allowed
    assert enc.encode(text, allowed_special="all")[1] == gpt4_tokenizer.special_tokens["<|endoftext|>"]
    # Allowed names that are not special tokens of this vocabulary are ignored, as in tiktoken.
    assert enc.encode("x<|nope|>", allowed_special={"<|nope|>"}) == twin.encode(
        "x<|nope|>", allowed_special={"<|nope|>"}
    )


def test_disallowed_special_raises_value_error_like_tiktoken(gpt4_tokenizer):
    enc, twin = gpt4_tokenizer.encoder, tiktoken_twin(gpt4_tokenizer)
    text = "hello <|endoftext|>"
    with pytest.raises(ValueError):
        twin.encode(text)
    with pytest.raises(ValueError, match="disallowed special token '<|endoftext|>'"):
        enc.encode(text)
    with pytest.raises(libbpe.DisallowedSpecialError):
        enc.encode(text, allowed_special={"<|fim|>"})
    with pytest.raises(ValueError):
        enc.encode(text, disallowed_special={"<|endoftext|>"})
    with pytest.raises(ValueError):
        enc.encode_batch(["fine", text])
    # Allowed, or the check switched off: no error.
    assert enc.encode(text, allowed_special={"<|endoftext|>"})[-1] == enc.special_tokens["<|endoftext|>"]
    assert enc.encode(text, disallowed_special=()) == twin.encode_ordinary(text)
    # Only the listed special tokens are disallowed.
    assert enc.encode("<|fim|>", disallowed_special={"<|endoftext|>"}) == twin.encode_ordinary("<|fim|>")


def test_batches_equal_one_by_one(trained, corpus, mixed_texts):
    enc, twin = trained
    texts = mixed_texts + corpus[:30] + random_texts(2, 100)
    expected = [twin.encode_ordinary(t) for t in texts]
    for num_threads in (1, 2, 0):
        assert enc.encode_ordinary_batch(texts, num_threads=num_threads) == expected
    assert enc.encode_ordinary_batch([]) == []
    assert enc.encode_batch(texts, disallowed_special=()) == expected
    special_texts = ["<|endoftext|>x", "y", ""]
    assert enc.encode_batch(special_texts, allowed_special="all") == [
        enc.encode(t, allowed_special="all") for t in special_texts
    ]


def test_decode_equals_tiktoken(trained, mixed_texts):
    enc, twin = trained
    for text in mixed_texts:
        ids = enc.encode_ordinary(text)
        assert enc.decode(ids) == text
        assert enc.decode_bytes(ids) == twin.decode_bytes(ids)
    # A token that is half of a multi-byte character decodes with U+FFFD, as tiktoken's does.
    partial = next(rank for token, rank in enc.mergeable_ranks.items() if token == b"\xe4")
    assert enc.decode([partial]) == twin.decode([partial]) == "\ufffd"
    assert enc.decode([partial], errors="ignore") == ""
    assert enc.decode_single_token_bytes(partial) == b"\xe4"
    assert enc.decode_tokens_bytes([partial, partial]) == [b"\xe4", b"\xe4"]
    assert enc.decode([]) == ""
    special = max(enc.special_tokens.values())
    assert enc.decode([special]) == twin.decode([special])


def test_description_matches_tiktoken(gpt4_tokenizer):
    enc, twin = gpt4_tokenizer.encoder, tiktoken_twin(gpt4_tokenizer)
    assert enc.n_vocab == twin.n_vocab == 4096
    assert enc.max_token_value == twin.max_token_value
    assert enc.special_tokens_set == twin.special_tokens_set
    assert enc.pattern == libbpe.GPT4_PATTERN
    assert enc.name == "libbpe"
    assert enc.encode_single_token("<|fim|>") == twin.encode_single_token("<|fim|>")
    assert enc.encode_single_token(b" the") == twin.encode_single_token(b" the")
    assert enc.encode_single_token("a") == ord("a")
    with pytest.raises(KeyError):
        enc.encode_single_token("definitely not one token")
    assert "libbpe.Encoder" in repr(enc)


def test_constructor_takes_tiktoken_parts():
    ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256, b"abc": 257}
    enc = libbpe.Encoder(ranks, libbpe.GPT4_PATTERN, {"<|end|>": 300}, name="tiny")
    twin = tiktoken.Encoding(
        "tiny", pat_str=libbpe.GPT4_PATTERN, mergeable_ranks=ranks, special_tokens={"<|end|>": 300}
    )
    assert enc.n_vocab == twin.n_vocab == 301
    for text in ["abc", "abcabc ab", "x<|end|>"]:
        assert enc.encode(text, allowed_special="all") == twin.encode(text, allowed_special="all")
    # Ranks given in any order, and a pattern passed by keyword, as the benchmark does.
    shuffled = dict(sorted(ranks.items(), key=lambda kv: -kv[1]))
    assert libbpe.Encoder(shuffled, pattern=libbpe.GPT4_PATTERN).encode_ordinary("abc") == [257]


def test_a_custom_pattern_gives_tiktokens_ids(corpus):
    pattern = r"""\w+|\s+|[^\w\s]+"""
    tok = libbpe.Tokenizer.train_from_iterator(corpus[:30], 600, pattern=pattern)
    twin = tiktoken_twin(tok)
    for text in random_texts(3, 100):
        assert tok.encoder.encode_ordinary(text) == twin.encode_ordinary(text)


def test_one_encoder_serves_many_threads(nanochat_tokenizer, corpus):
    enc = nanochat_tokenizer.encoder
    texts = corpus[:40]
    expected = [enc.encode_ordinary(t) for t in texts]
    results: dict[int, list] = {}

    def work(i: int) -> None:
        results[i] = [enc.encode_ordinary(t) for t in texts]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[i] == expected for i in range(4))


def test_close_frees_and_then_refuses(nanochat_tokenizer):
    enc = libbpe.Encoder(nanochat_tokenizer.mergeable_ranks, nanochat_tokenizer.pattern)
    with enc:
        assert enc.encode_ordinary("hi") == nanochat_tokenizer.encode("hi")
    enc.close()  # a second close does nothing
    with pytest.raises(StateError, match="closed"):
        enc.encode_ordinary("hi")
    with pytest.raises(StateError):
        enc.decode([1])


def test_encoder_pickles_through_its_ranks(gpt4_tokenizer):
    enc = gpt4_tokenizer.encoder
    data = pickle.dumps(enc)
    assert b"cdata" not in data
    copy = pickle.loads(data)
    assert copy is not enc
    assert copy.encode("x<|fim|>", allowed_special="all") == enc.encode("x<|fim|>", allowed_special="all")
    assert copy.special_tokens == enc.special_tokens and copy.name == enc.name


def test_non_str_input_is_a_type_error(nanochat_tokenizer):
    with pytest.raises(TypeError):
        nanochat_tokenizer.encoder.encode_ordinary(b"bytes")
    with pytest.raises(TypeError):
        nanochat_tokenizer.encoder.encode_ordinary_batch(["ok", 3])
