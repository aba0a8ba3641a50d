"""nanochat's tokenizer interface on libbpe.Tokenizer, and nanochat's switch to libbpe."""

from __future__ import annotations

import copy
import sys

import pytest
import rustbpe
import tiktoken

import libbpe
from libbpe.compat import rustbpe as compat_rustbpe

NANOCHAT_SPECIALS = libbpe.NANOCHAT_SPECIAL_TOKENS


def test_constants_are_nanochats():
    assert libbpe.NANOCHAT_SPECIAL_TOKENS == (
        "<|bos|>",
        "<|user_start|>",
        "<|user_end|>",
        "<|assistant_start|>",
        "<|assistant_end|>",
        "<|python_start|>",
        "<|python_end|>",
        "<|output_start|>",
        "<|output_end|>",
    )
    # nanochat's SPLIT_PATTERN, as its tokenizer.py writes it.
    assert libbpe.NANOCHAT_PATTERN == (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""
    )
    assert libbpe.GPT4_PATTERN == libbpe.NANOCHAT_PATTERN.replace(r"\p{N}{1,2}", r"\p{N}{1,3}")


def test_training_equals_nanochats_rustbpe_path(corpus):
    """nanochat trains vocab_size - 9 ranks with rustbpe and appends its nine special tokens;
    libbpe trains the same in one call, and the compat module gives the same through
    nanochat's own code path."""
    docs = corpus[::3]
    vocab_size = 1000
    ours = libbpe.Tokenizer.train_from_iterator(
        docs, vocab_size, pattern=libbpe.NANOCHAT_PATTERN, special_tokens=NANOCHAT_SPECIALS
    )

    def nanochat_encoding(module) -> tiktoken.Encoding:
        tokenizer = module.Tokenizer()
        tokenizer.train_from_iterator(
            iter(docs), vocab_size - len(NANOCHAT_SPECIALS), pattern=libbpe.NANOCHAT_PATTERN
        )
        mergeable_ranks = {bytes(k): v for k, v in tokenizer.get_mergeable_ranks()}
        offset = len(mergeable_ranks)
        return tiktoken.Encoding(
            name="rustbpe",
            pat_str=tokenizer.get_pattern(),
            mergeable_ranks=mergeable_ranks,
            special_tokens={name: offset + i for i, name in enumerate(NANOCHAT_SPECIALS)},
        )

    real, switched = nanochat_encoding(rustbpe), nanochat_encoding(compat_rustbpe)
    assert switched._mergeable_ranks == real._mergeable_ranks == ours.mergeable_ranks
    assert switched._special_tokens == real._special_tokens == ours.special_tokens
    assert switched._pat_str == real._pat_str == ours.pattern
    assert ours.encoding.n_vocab == real.n_vocab == vocab_size


def test_encode(nanochat_tokenizer, mixed_texts):
    tok = nanochat_tokenizer
    bos = tok.get_bos_token_id()
    end = tok.encode_special("<|assistant_end|>")
    for text in mixed_texts:
        ids = tok.encoding.encode_ordinary(text)
        assert tok.encode(text) == ids
        assert tok(text) == ids
        assert tok.encode(text, prepend="<|bos|>") == [bos, *ids]
        assert tok.encode(text, prepend=bos, append="<|assistant_end|>") == [bos, *ids, end]
        assert tok.encode(text, append=end) == [*ids, end]
    # Special tokens in the text are ordinary text, as in nanochat.
    assert bos not in tok.encode("<|bos|>")


def test_encode_a_list_as_a_batch(nanochat_tokenizer, mixed_texts):
    tok = nanochat_tokenizer
    bos = tok.get_bos_token_id()
    expected = [tok.encode(t) for t in mixed_texts]
    assert tok.encode(mixed_texts) == expected
    assert tok.encode(mixed_texts, num_threads=2, prepend="<|bos|>") == [[bos, *row] for row in expected]
    assert tok.encode(mixed_texts, num_threads=1, prepend=bos, append=bos) == [
        [bos, *row, bos] for row in expected
    ]
    assert tok.encode([]) == []
    with pytest.raises(ValueError, match="Invalid input type"):
        tok.encode(tuple(mixed_texts))


def test_decode_and_vocabulary(nanochat_tokenizer, mixed_texts):
    tok = nanochat_tokenizer
    for text in mixed_texts:
        assert tok.decode(tok.encode(text, prepend="<|bos|>")) == "<|bos|>" + text
    assert tok.get_vocab_size() == 2048
    assert tok.get_special_tokens() == set(NANOCHAT_SPECIALS)
    assert tok.encode_special("<|bos|>") == tok.get_bos_token_id() == 2048 - 9
    assert tok.encode_special("<|output_end|>") == 2047
    with pytest.raises(KeyError, match="not a special token"):
        tok.encode_special("<|nope|>")
    for id_ in (0, 65, 300, 1000, 2039, 2047):
        assert tok.id_to_token(id_) == tok.encoding.decode([id_])


def test_token_bytes(nanochat_tokenizer):
    np = pytest.importorskip("numpy")
    tok = nanochat_tokenizer
    token_bytes = tok.token_bytes()
    assert isinstance(token_bytes, np.ndarray) and token_bytes.dtype == np.int32
    assert token_bytes.shape == (2048,)
    assert (token_bytes[2039:] == 0).all()
    assert token_bytes[ord("a")] == 1
    for id_ in range(2039):
        assert token_bytes[id_] == len(tok.encoding.decode_single_token_bytes(id_))
    # nanochat's own computation (tok_train.py) agrees wherever a token is whole UTF-8.
    special_set = tok.get_special_tokens()
    for id_ in range(2048):
        text = tok.decode([id_])
        if "\ufffd" not in text:
            assert token_bytes[id_] == (0 if text in special_set else len(text.encode("utf-8")))


def test_token_bytes_without_numpy_is_a_list(nanochat_tokenizer, monkeypatch):
    monkeypatch.setitem(sys.modules, "numpy", None)
    token_bytes = nanochat_tokenizer.token_bytes()
    assert isinstance(token_bytes, list) and len(token_bytes) == 2048 and token_bytes[-1] == 0


CONVERSATION = {
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 12*34?"},
        {"role": "assistant", "content": "It is 408."},
        {"role": "user", "content": "Check it with Python."},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Sure: "},
                {"type": "python", "text": "12*34"},
                {"type": "python_output", "text": "408"},
                {"type": "text", "text": "Confirmed."},
            ],
        },
    ]
}


def expected_render(tok: libbpe.Tokenizer) -> tuple[list[int], list[int]]:
    """The conversation rendered by hand, following nanochat's rules."""
    s = tok.encode_special
    e = tok.encode
    pieces = [
        ([tok.get_bos_token_id()], 0),
        ([s("<|user_start|>")], 0),
        (e("You are terse.\n\nWhat is 12*34?"), 0),
        ([s("<|user_end|>")], 0),
        ([s("<|assistant_start|>")], 0),
        (e("It is 408."), 1),
        ([s("<|assistant_end|>")], 1),
        ([s("<|user_start|>")], 0),
        (e("Check it with Python."), 0),
        ([s("<|user_end|>")], 0),
        ([s("<|assistant_start|>")], 0),
        (e("Sure: "), 1),
        ([s("<|python_start|>")], 1),
        (e("12*34"), 1),
        ([s("<|python_end|>")], 1),
        ([s("<|output_start|>")], 0),
        (e("408"), 0),
        ([s("<|output_end|>")], 0),
        (e("Confirmed."), 1),
        ([s("<|assistant_end|>")], 1),
    ]
    ids = [i for part, _ in pieces for i in part]
    mask = [m for part, m in pieces for _ in part]
    return ids, mask


def test_render_conversation(nanochat_tokenizer):
    tok = nanochat_tokenizer
    original = copy.deepcopy(CONVERSATION)
    ids, mask = tok.render_conversation(CONVERSATION)
    assert (ids, mask) == expected_render(tok)
    assert CONVERSATION == original  # the system-message surgery works on a copy
    short_ids, short_mask = tok.render_conversation(CONVERSATION, max_tokens=7)
    assert (short_ids, short_mask) == (ids[:7], mask[:7])
    decoded = tok.decode(ids)
    assert decoded.startswith("<|bos|><|user_start|>You are terse.\n\nWhat is 12*34?<|user_end|>")
    assert "<|python_start|>12*34<|python_end|><|output_start|>408<|output_end|>" in decoded


def test_render_conversation_rejects_malformed_conversations(nanochat_tokenizer):
    tok = nanochat_tokenizer
    with pytest.raises(ValueError, match="should be from user"):
        tok.render_conversation({"messages": [{"role": "assistant", "content": "hi"}]})
    with pytest.raises(ValueError, match="less than 1 message"):
        tok.render_conversation({"messages": []})
    with pytest.raises(ValueError, match="Unknown part type"):
        tok.render_conversation(
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": [{"type": "image", "text": "x"}]},
                ]
            }
        )
    with pytest.raises(ValueError, match="followed by a user message"):
        tok.render_conversation(
            {"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}
        )


def test_render_for_completion(nanochat_tokenizer):
    tok = nanochat_tokenizer
    original = copy.deepcopy(CONVERSATION)
    ids = tok.render_for_completion(CONVERSATION)
    assert CONVERSATION == original
    prompt = copy.deepcopy(CONVERSATION)
    prompt["messages"].pop()
    assert ids == [*tok.render_conversation(prompt)[0], tok.encode_special("<|assistant_start|>")]
    with pytest.raises(ValueError, match="Last message must be from the Assistant"):
        tok.render_for_completion(prompt)


def test_visualize_tokenization(nanochat_tokenizer):
    ids, mask = nanochat_tokenizer.render_conversation(CONVERSATION)
    shown = nanochat_tokenizer.visualize_tokenization(ids[:5], mask[:5], with_token_id=True)
    assert "<|bos|>" in shown and f"({ids[0]})" in shown


def test_a_tiktoken_encoding_has_endoftext_as_bos(cl100k):
    assert cl100k.get_bos_token_id() == 100257
    enc = tiktoken.Encoding(
        "cl100k_like",
        pat_str=cl100k.pattern,
        mergeable_ranks=cl100k.mergeable_ranks,
        special_tokens=cl100k.special_tokens,
    )
    tok = libbpe.Tokenizer.from_tiktoken(enc)
    assert tok.name == "cl100k_like"
    assert tok.get_bos_token_id() == 100257
    assert tok.encode("hello world", prepend="<|endoftext|>") == [100257, 15339, 1917]
    with pytest.raises(KeyError, match="no BOS token"):
        libbpe.Tokenizer({bytes([b]): b for b in range(256)}).get_bos_token_id()
