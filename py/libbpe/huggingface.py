"""Hugging Face's ``tokenizer.json``: a byte-level BPE tokenizer that ``tokenizers.Tokenizer``,
``transformers.PreTrainedTokenizerFast`` and the tools built on them load, giving tiktoken's ids.

Four things make the file exact rather than close:

- **Merges.** Hugging Face's BPE joins the adjacent pair that comes first in its list of
  merges; tiktoken joins the adjacent parts whose joined bytes have the lowest rank. The two
  agree when each token's merge is the last join that tiktoken's own rule makes on the
  token's bytes (its *canonical* split), listed in the order of the tokens' ranks: tiktoken
  never joins two parts into a token other than by that token's canonical split (the joins
  inside a part's bytes are the ones tiktoken makes on those bytes alone). A merge list from
  training can differ: training may make ``x`` + ``yz`` where tiktoken's rule, on the bytes
  ``xyz``, makes ``xy`` first.
- **Whole chunks.** tiktoken takes a chunk that is a token as that token, even one that no
  sequence of joins reaches; ``"ignore_merges": true`` does the same.
- **Special tokens' ids.** ``tokenizers`` numbers the tokens added beside its model from the
  model's size on, whatever ids the file gives them, unless the model's vocabulary has them:
  so it has them, with their own ids.
- **The pattern.** ``tokenizers`` splits with Oniguruma, whose syntax differs from
  fancy-regex's in two places that tiktoken's patterns use: ``^`` and ``$`` there also match
  at line breaks, and ``{1,3}+`` repeats the interval instead of making it possessive.
  :func:`onig_pattern` rewrites both.
"""

from __future__ import annotations

import json
from functools import lru_cache

from .errors import SpecialTokenError

__all__ = ["canonical_merges", "onig_pattern", "tokenizer_json"]


@lru_cache(maxsize=1)
def _byte_chars() -> tuple[str, ...]:
    """GPT-2's printable stand-in for each byte, as byte-level ``tokenizers`` models spell
    tokens: printable Latin-1 bytes stand for themselves, the others take the code points
    from 256 on, in order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = {b: chr(b) for b in printable}
    others = (b for b in range(256) if b not in chars)
    chars.update((b, chr(256 + i)) for i, b in enumerate(others))
    return tuple(chars[b] for b in range(256))


def _spell(token: bytes) -> str:
    chars = _byte_chars()
    return "".join(chars[b] for b in token)


def _last_join(ranks: dict[bytes, int], token: bytes) -> tuple[bytes, bytes] | None:
    """The two parts that tiktoken's rule joins last on ``token``'s bytes alone (the lowest
    rank first, the leftmost among equals), or None if the rule stops before the whole
    token."""
    parts = [token[i : i + 1] for i in range(len(token))]
    last = None
    while len(parts) > 1:
        best = None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, i)
        if best is None:
            return None
        i = best[1]
        last = (parts[i], parts[i + 1])
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
    return last


def canonical_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The merge of every token of two bytes or more that tiktoken's rule reaches from its
    bytes, in the order of the tokens' ranks (see the module's docstring)."""
    merges = []
    for token, _ in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) > 1:
            pair = _last_join(ranks, token)
            if pair is not None:
                merges.append(pair)
    return merges


def onig_pattern(pattern: str) -> str:
    r"""``pattern`` (fancy-regex's syntax, as tiktoken writes patterns) in Oniguruma's, as
    ``tokenizers`` reads it: ``^`` and ``$`` outside classes become ``\A`` and ``\z``
    (the whole text's ends, as in fancy-regex), and a possessive interval ``X{m,n}+``
    becomes the atomic group ``(?>X{m,n})``. Everything else means the same in both.

    >>> print(onig_pattern(r"\p{N}{1,3}+|\s++$"))
    (?>\p{N}{1,3})|\s++\z
    """
    out: list[str] = []
    starts: list[int] = []  # where the atom before the current position starts in `out`
    groups: list[int] = []  # where each open group starts in `out`
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            j = _escape_end(pattern, i)
            starts.append(len(out))
            out.append(pattern[i:j])
            i = j
        elif c == "[":
            j = _class_end(pattern, i)
            starts.append(len(out))
            out.append(pattern[i:j])
            i = j
        elif c == "(":
            groups.append(len(out))
            out.append(c)
            i += 1
        elif c == ")":
            starts.append(groups.pop())
            out.append(c)
            i += 1
        elif c == "{" and starts and "}" in pattern[i:]:
            j = pattern.index("}", i) + 1
            if pattern[j : j + 1] == "+":
                atom = "".join(out[starts[-1] :])
                del out[starts[-1] :]
                out.append(f"(?>{atom}{pattern[i:j]})")
                j += 1
            else:
                out.append(pattern[i:j])
            i = j
        elif c in "^$":
            starts.append(len(out))
            out.append("\\A" if c == "^" else "\\z")
            i += 1
        else:
            if c not in "?*+|":
                starts.append(len(out))
            out.append(c)
            i += 1
    return "".join(out)


# Escapes longer than a backslash and one character: `\p{L}` or `\pL`, `\x{41}` or `\x41`,
# `\u{41}` or `\u0041`, `\U{41}` or `\U00000041`: the letter, then the characters after it.
_ESCAPE_TAILS = {"p": 1, "P": 1, "x": 2, "u": 4, "U": 8}


def _escape_end(pattern: str, start: int) -> int:
    """The index just past the escape that starts at ``start`` (a backslash)."""
    letter = pattern[start + 1 : start + 2]
    after = start + 2
    if letter not in _ESCAPE_TAILS:
        return after
    if pattern[after : after + 1] == "{":
        return pattern.index("}", after) + 1
    return after + _ESCAPE_TAILS[letter]


def _class_end(pattern: str, start: int) -> int:
    """The index just past the character class that opens at ``start`` (classes may nest)."""
    depth, i = 0, start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            depth += 1
            # A `]` right after the opening (or after `^`) is a literal.
            i += 1
            if pattern[i : i + 1] == "^":
                i += 1
            if pattern[i : i + 1] == "]":
                i += 1
            continue
        if c == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unterminated character class at {start} in {pattern!r}")


def tokenizer_json(ranks: dict[bytes, int], pattern: str, special_tokens: dict[str, int]) -> str:
    """The text of a ``tokenizer.json`` for these ranks, split pattern and special tokens.
    Its ``encode`` turns special tokens in the text into their ids (tiktoken's
    ``allowed_special="all"``); decoding gives the text back."""
    merges = canonical_merges(ranks)
    vocab = {_spell(token): rank for token, rank in sorted(ranks.items(), key=lambda item: item[1])}
    # `tokenizers` gives an added token the id its model has for the same text, and numbers
    # the others from the model's size on, whatever id the file says: so the special tokens
    # join the model's vocabulary with their ids. No merge makes them, and the split pattern
    # never leaves one whole for the model (they are cut out of the text before it).
    for name, id_ in special_tokens.items():
        if vocab.setdefault(name, id_) != id_:
            raise SpecialTokenError(
                f"special token {name!r} is spelled like rank {vocab[name]} in Hugging Face's "
                "byte-level vocabulary, so that format cannot give it its own id"
            )
    document = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": id_,
                "content": name,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for name, id_ in sorted(special_tokens.items(), key=lambda item: item[1])
        ],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"Regex": onig_pattern(pattern)},
                    "behavior": "Isolated",
                    "invert": False,
                },
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ],
        },
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": True,
            "vocab": vocab,
            "merges": [f"{_spell(left)} {_spell(right)}" for left, right in merges],
        },
    }
    return json.dumps(document, ensure_ascii=False, indent=1)
