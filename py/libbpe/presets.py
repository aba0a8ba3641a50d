"""Named split patterns and special tokens.

The pattern strings are byte-for-byte those of ``crates/bpe-core/src/pretokenize/mod.rs``: the
native pre-tokenizer recognises them verbatim and then runs its fast scanner instead of the
regex engine, so a pattern that differs by one character still works, only slower.
"""

from __future__ import annotations

__all__ = ["GPT4_PATTERN", "NANOCHAT_PATTERN", "GPT2_PATTERN", "NANOCHAT_SPECIAL_TOKENS", "PRESETS"]

#: GPT-4's split pattern (cl100k_base): numbers in runs of at most three digits.
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)

#: nanochat's split pattern: GPT-4's, with numbers in runs of at most two digits.
NANOCHAT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)

#: GPT-2's split pattern (r50k_base).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

#: nanochat's nine special tokens, in its order (they take the last ids of the vocabulary).
NANOCHAT_SPECIAL_TOKENS = (
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

#: ``--preset`` names: the split pattern and the special tokens each stands for.
PRESETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "gpt4": (GPT4_PATTERN, ()),
    "nanochat": (NANOCHAT_PATTERN, NANOCHAT_SPECIAL_TOKENS),
    "gpt2": (GPT2_PATTERN, ()),
}
