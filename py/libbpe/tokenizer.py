"""The Tokenizer: train, save, load, and nanochat's tokenizer interface over the native encoder.

>>> import libbpe
>>> docs = ["the cat sat on the mat", "the end"] * 10
>>> tok = libbpe.Tokenizer.train_from_iterator(docs, 300, special_tokens=["<|bos|>"])
>>> ids = tok.encode("the cat", prepend="<|bos|>")
>>> ids[0] == tok.get_bos_token_id()
True
>>> tok.decode(ids)
'<|bos|>the cat'
"""

from __future__ import annotations

import copy
import os
from typing import Any, Iterable, Sequence

from . import _ffi
from . import directory as _directory
from . import huggingface as _huggingface
from .encoder import Encoder
from .presets import GPT4_PATTERN
from .train import check_special_tokens, train

__all__ = ["Tokenizer"]

# The BOS token looked for when none is named: nanochat's, then tiktoken's document delimiter.
_BOS_CANDIDATES = ("<|bos|>", "<|endoftext|>")


class Tokenizer:
    """A byte-level BPE tokenizer: ranks, split pattern and special tokens, with a native
    encoder.

    Make one with :meth:`train_from_iterator`, :meth:`load` (a directory written by
    :meth:`save`), :meth:`from_tiktoken_file`, or from the parts, as ``tiktoken.Encoding``
    takes them. ``pattern``, ``mergeable_ranks``, ``special_tokens`` and ``vocab_size``
    describe it; ``encoder`` is the native :class:`~libbpe.Encoder` and ``encoding`` the
    equivalent ``tiktoken.Encoding``. The methods ``encode``, ``decode``, ``render_conversation``
    and the rest are nanochat's tokenizer interface, unchanged.
    """

    def __init__(
        self,
        mergeable_ranks: dict[bytes, int],
        pattern: str = GPT4_PATTERN,
        special_tokens: dict[str, int] | None = None,
        *,
        bos_token: str | None = None,
        name: str = "libbpe",
    ):
        self._init(Encoder(mergeable_ranks, pattern, special_tokens, name=name), bos_token)

    def _init(self, encoder: Encoder, bos_token: str | None) -> None:
        self._encoder = encoder
        self._bos_token = bos_token
        self._encoding = None

    @classmethod
    def _from_vocab(cls, vocab: _ffi.Vocab, bos_token: str | None = None) -> Tokenizer:
        """The tokenizer of a native vocabulary; closes the vocabulary."""
        try:
            encoder = Encoder._from_vocab(vocab)
        finally:
            vocab.close()
        self = cls.__new__(cls)
        self._init(encoder, bos_token)
        return self

    # --------------------------------------------------------------------------------- making

    @classmethod
    def train_from_iterator(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        *,
        pattern: str = GPT4_PATTERN,
        special_tokens: Sequence[str] = (),
        threads: int | None = None,
        progress: bool = False,
    ) -> Tokenizer:
        """Trains on ``texts`` (any iterable of ``str``) up to ``vocab_size`` ids.

        The special tokens take the last ids and count toward ``vocab_size``. Training gives
        exactly rustbpe's merges (it stops early, without error, when no pair is left).
        ``threads=None`` uses every core; ``progress=True`` shows tqdm bars. An exception from
        the iterator propagates unchanged; Ctrl-C raises ``KeyboardInterrupt`` within a
        fraction of a second, during reading as during the merge loop.
        """
        vocab = train(
            texts,
            vocab_size,
            pattern=pattern,
            special_tokens=special_tokens,
            threads=threads,
            progress=progress,
        )
        return cls._from_vocab(vocab)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Tokenizer:
        """Loads a directory written by :meth:`save`."""
        return cls._from_vocab(_directory.load(directory))

    #: nanochat's name for :meth:`load`.
    from_directory = load

    @classmethod
    def from_tiktoken_file(
        cls,
        path: str | os.PathLike,
        pattern: str,
        special_tokens: dict[str, int] | Sequence[str] | None = None,
        *,
        bos_token: str | None = None,
    ) -> Tokenizer:
        """Loads a tiktoken ranks file (plain or gzipped), e.g. cl100k_base's, with its split
        pattern. ``special_tokens`` maps names to ids, or lists names that then take the ids
        after the last rank."""
        path = os.fspath(path)
        if special_tokens is not None and not isinstance(special_tokens, dict):
            names = check_special_tokens(special_tokens)
            bare = _ffi.Vocab.load(path, pattern, {})
            n_ranks = len(bare)
            bare.close()
            special_tokens = {name: n_ranks + i for i, name in enumerate(names)}
        return cls._from_vocab(_ffi.Vocab.load(path, pattern, dict(special_tokens or {})), bos_token)

    @classmethod
    def from_tiktoken(cls, encoding: Any, *, bos_token: str | None = None) -> Tokenizer:
        """The tokenizer of a ``tiktoken.Encoding``."""
        return cls(
            encoding._mergeable_ranks,
            encoding._pat_str,
            encoding._special_tokens,
            bos_token=bos_token,
            name=encoding.name,
        )

    @classmethod
    def from_pretrained(cls, tiktoken_name: str) -> Tokenizer:
        """A tiktoken encoding by name (``"cl100k_base"``...), as nanochat's ``from_pretrained``;
        tiktoken fetches the file."""
        import tiktoken

        return cls.from_tiktoken(tiktoken.get_encoding(tiktoken_name), bos_token="<|endoftext|>")

    def save(self, directory: str | os.PathLike, *, huggingface: bool = False) -> None:
        """Writes ``tokenizer.tiktoken`` (the ranks, in tiktoken's format) and ``libbpe.json``
        (the pattern and special tokens) into ``directory``; with ``huggingface=True`` also
        Hugging Face's ``tokenizer.json`` (:meth:`to_huggingface_json`), which makes the
        directory one that Hugging Face's tools read too."""
        text = self.to_huggingface_json() if huggingface else None
        _directory.save(directory, self.mergeable_ranks, self.pattern, self.special_tokens, text)

    def to_huggingface_json(self) -> str:
        """This tokenizer as the text of Hugging Face's ``tokenizer.json``, which
        ``tokenizers.Tokenizer.from_str`` (or ``.from_file``, once written) and
        ``transformers.PreTrainedTokenizerFast(tokenizer_file=...)`` load. Its ids are
        tiktoken's; its ``encode`` turns special tokens in the text into their ids, as
        :meth:`encode` does not. Finding each token's merge runs tiktoken's rule on the token,
        which takes a few seconds for 200k ranks. See :mod:`libbpe.huggingface`."""
        return _huggingface.tokenizer_json(self.mergeable_ranks, self.pattern, self.special_tokens)

    # -------------------------------------------------------------------------- description

    @property
    def encoder(self) -> Encoder:
        """The native encoder (tiktoken's method names)."""
        return self._encoder

    @property
    def pattern(self) -> str:
        return self._encoder.pattern

    @property
    def mergeable_ranks(self) -> dict[bytes, int]:
        """Token bytes to rank (the dict itself: do not modify it)."""
        return self._encoder.mergeable_ranks

    @property
    def special_tokens(self) -> dict[str, int]:
        return self._encoder.special_tokens

    @property
    def vocab_size(self) -> int:
        """One more than the highest id, special tokens included."""
        return self._encoder.n_vocab

    @property
    def name(self) -> str:
        return self._encoder.name

    @property
    def encoding(self):
        """The equivalent ``tiktoken.Encoding`` (built on first use, then cached)."""
        if self._encoding is None:
            try:
                import tiktoken
            except ImportError:
                raise ImportError("Tokenizer.encoding needs tiktoken: pip install tiktoken") from None
            self._encoding = tiktoken.Encoding(
                name=self.name,
                pat_str=self.pattern,
                mergeable_ranks=self.mergeable_ranks,
                special_tokens=self.special_tokens,
            )
        return self._encoding

    # ------------------------------------------------------------------- nanochat's interface

    def get_vocab_size(self) -> int:
        return self._encoder.n_vocab

    def get_special_tokens(self) -> set[str]:
        return self._encoder.special_tokens_set

    def id_to_token(self, id: int) -> str:
        return self._encoder.decode([id])

    def encode_special(self, text: str) -> int:
        """The id of a special token; ``KeyError`` if there is no such special token."""
        try:
            return self._encoder._special_tokens[text]
        except KeyError:
            raise KeyError(f"{text!r} is not a special token of this tokenizer") from None

    def get_bos_token_id(self) -> int:
        """The id of the BOS token: the one named at construction, else ``<|bos|>``, else
        ``<|endoftext|>``."""
        if self._bos_token is not None:
            return self.encode_special(self._bos_token)
        specials = self._encoder._special_tokens
        for name in _BOS_CANDIDATES:
            if name in specials:
                return specials[name]
        raise KeyError("this tokenizer has no BOS token (neither <|bos|> nor <|endoftext|>)")

    def _special_id(self, token: str | int) -> int:
        return token if isinstance(token, int) else self.encode_special(token)

    def encode(
        self,
        text: str | list[str],
        prepend: str | int | None = None,
        append: str | int | None = None,
        num_threads: int = 8,
    ) -> list[int] | list[list[int]]:
        """Encodes a ``str`` (special tokens in it are ordinary text), or a list of them in
        parallel. ``prepend``/``append`` add a special token (by name or id) to each."""
        prepend_id = None if prepend is None else self._special_id(prepend)
        append_id = None if append is None else self._special_id(append)
        if isinstance(text, str):
            ids = self._encoder.encode_ordinary(text)
            if prepend_id is not None:
                ids.insert(0, prepend_id)
            if append_id is not None:
                ids.append(append_id)
            return ids
        if isinstance(text, list):
            rows = self._encoder.encode_ordinary_batch(text, num_threads=num_threads)
            if prepend_id is not None:
                rows = [[prepend_id, *row] for row in rows]
            if append_id is not None:
                for row in rows:
                    row.append(append_id)
            return rows
        raise ValueError(f"Invalid input type: {type(text)}")

    __call__ = encode

    def decode(self, ids: Iterable[int]) -> str:
        return self._encoder.decode(ids)

    def token_bytes(self):
        """The number of bytes of every id (0 for special tokens and unused ids), for
        bits-per-byte: a numpy int32 array if numpy is importable, else a list."""
        lengths = [0] * self.vocab_size
        for token, rank in self.mergeable_ranks.items():
            lengths[rank] = len(token)
        try:
            import numpy as np
        except ImportError:
            return lengths
        return np.array(lengths, dtype=np.int32)

    def render_conversation(self, conversation: dict, max_tokens: int = 2048) -> tuple[list[int], list[int]]:
        """Tokenizes one chat conversation as nanochat does.

        Returns ``(ids, mask)``: ``mask`` is 1 on the tokens the assistant is trained on. A
        leading system message is merged into the first user message; messages must then
        alternate user, assistant, user... Both lists are cut to ``max_tokens``.
        """
        ids: list[int] = []
        mask: list[int] = []

        def add_tokens(token_ids: int | list[int], mask_val: int) -> None:
            if isinstance(token_ids, int):
                token_ids = [token_ids]
            ids.extend(token_ids)
            mask.extend([mask_val] * len(token_ids))

        messages = conversation["messages"]
        if messages and messages[0]["role"] == "system":
            conversation = copy.deepcopy(conversation)  # leave the caller's untouched
            messages = conversation["messages"]
            if len(messages) < 2 or messages[1]["role"] != "user":
                raise ValueError("System message must be followed by a user message")
            messages[1]["content"] = messages[0]["content"] + "\n\n" + messages[1]["content"]
            messages = messages[1:]
        if len(messages) < 1:
            raise ValueError(f"Conversation has less than 1 message: {messages}")

        bos = self.get_bos_token_id()
        user_start, user_end = self.encode_special("<|user_start|>"), self.encode_special("<|user_end|>")
        assistant_start = self.encode_special("<|assistant_start|>")
        assistant_end = self.encode_special("<|assistant_end|>")
        python_start, python_end = (
            self.encode_special("<|python_start|>"),
            self.encode_special("<|python_end|>"),
        )
        output_start, output_end = (
            self.encode_special("<|output_start|>"),
            self.encode_special("<|output_end|>"),
        )

        add_tokens(bos, 0)
        for i, message in enumerate(messages):
            must_be_from = "user" if i % 2 == 0 else "assistant"
            if message["role"] != must_be_from:
                raise ValueError(f"Message {i} is from {message['role']} but should be from {must_be_from}")
            content = message["content"]
            if message["role"] == "user":
                if not isinstance(content, str):
                    raise ValueError("User messages are simply expected to be strings")
                add_tokens(user_start, 0)
                add_tokens(self.encode(content), 0)
                add_tokens(user_end, 0)
            else:
                add_tokens(assistant_start, 0)
                if isinstance(content, str):
                    add_tokens(self.encode(content), 1)
                elif isinstance(content, list):
                    for part in content:
                        value_ids = self.encode(part["text"])
                        if part["type"] == "text":
                            add_tokens(value_ids, 1)
                        elif part["type"] == "python":
                            # A tool call: supervised, like the rest of the assistant's words.
                            add_tokens(python_start, 1)
                            add_tokens(value_ids, 1)
                            add_tokens(python_end, 1)
                        elif part["type"] == "python_output":
                            # The tool's output comes from Python at test time: not supervised.
                            add_tokens(output_start, 0)
                            add_tokens(value_ids, 0)
                            add_tokens(output_end, 0)
                        else:
                            raise ValueError(f"Unknown part type: {part['type']}")
                else:
                    raise ValueError(f"Unknown content type: {type(content)}")
                add_tokens(assistant_end, 1)

        return ids[:max_tokens], mask[:max_tokens]

    def render_for_completion(self, conversation: dict) -> list[int]:
        """The ids of a conversation whose last (assistant) message is removed, followed by
        ``<|assistant_start|>``: the prompt for the assistant's completion."""
        conversation = copy.deepcopy(conversation)
        messages = conversation["messages"]
        if not messages or messages[-1]["role"] != "assistant":
            raise ValueError("Last message must be from the Assistant")
        messages.pop()
        ids, _ = self.render_conversation(conversation)
        ids.append(self.encode_special("<|assistant_start|>"))
        return ids

    def visualize_tokenization(self, ids: list[int], mask: list[int], with_token_id: bool = False) -> str:
        """The tokens of a rendered conversation, green where supervised and red where not."""
        red, green, gray, reset = "\033[91m", "\033[92m", "\033[90m", "\033[0m"
        tokens = []
        for token_id, mask_val in zip(ids, mask):
            tokens.append(f"{green if mask_val == 1 else red}{self.decode([token_id])}{reset}")
            if with_token_id:
                tokens.append(f"{gray}({token_id}){reset}")
        return "|".join(tokens)

    # ---------------------------------------------------------------------- lifetime, pickling

    def close(self) -> None:
        """Frees the native encoder now, or when the calls that other threads are making with
        it return (it is freed on garbage collection otherwise)."""
        self._encoder.close()

    def __enter__(self) -> Tokenizer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        # The ranks, never the native pointer: the encoder is rebuilt on unpickling.
        return {
            "mergeable_ranks": self.mergeable_ranks,
            "pattern": self.pattern,
            "special_tokens": self.special_tokens,
            "bos_token": self._bos_token,
            "name": self.name,
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(
            state["mergeable_ranks"],
            state["pattern"],
            state["special_tokens"],
            bos_token=state["bos_token"],
            name=state["name"],
        )

    def __repr__(self) -> str:
        specials = len(self._encoder._special_tokens)
        return f"<libbpe.Tokenizer vocab_size={self.vocab_size} special_tokens={specials}>"
