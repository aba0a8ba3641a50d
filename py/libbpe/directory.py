"""The tokenizer directory: the ranks in tiktoken's format plus a small JSON of the rest.

``tokenizer.tiktoken`` holds one ``base64(token) rank`` line per rank, the file
``tiktoken.load.load_tiktoken_bpe`` reads. ``libbpe.json`` holds the split pattern, the
special tokens and a format version. Nothing is pickled: loading a directory runs no code.
On request the directory also gets Hugging Face's ``tokenizer.json``
(:mod:`libbpe.huggingface`), the name Hugging Face's tools look for.

Directories written by earlier builds kept that JSON as ``tokenizer.json``: they still load,
and saving over one moves its JSON to ``libbpe.json``.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import tempfile
from pathlib import Path

from . import _ffi
from .errors import VocabularyError

__all__ = [
    "RANKS_FILE",
    "META_FILE",
    "HUGGINGFACE_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "save",
    "load",
    "is_libbpe_json",
]

RANKS_FILE = "tokenizer.tiktoken"
META_FILE = "libbpe.json"
#: Hugging Face's file, written when asked for; older directories had libbpe's JSON here.
HUGGINGFACE_FILE = "tokenizer.json"
#: Written in the JSON so that another program's JSON is recognised as such.
FORMAT = "libbpe-tokenizer"
#: Bumped only when the directory changes in a way older versions cannot read.
FORMAT_VERSION = 1


def _write_atomically(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file, so that a crash never leaves a
    half-written file where a good one was."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def tiktoken_bytes(mergeable_ranks: dict[bytes, int]) -> bytes:
    """The ranks in tiktoken's file format, ordered by rank."""
    items = sorted(mergeable_ranks.items(), key=lambda item: item[1])
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for token, rank in items)


def save(
    directory: str | os.PathLike,
    mergeable_ranks: dict[bytes, int],
    pattern: str,
    special_tokens: dict[str, int],
    huggingface: str | None = None,
) -> Path:
    """Writes the two files into ``directory`` (created if needed), and ``huggingface``, the
    text of Hugging Face's file, when given; returns the directory's path."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "pattern": pattern,
        "special_tokens": special_tokens,
        "n_ranks": len(mergeable_ranks),
    }
    _write_atomically(path / RANKS_FILE, tiktoken_bytes(mergeable_ranks))
    _write_atomically(
        path / META_FILE, (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    )
    hf_path = path / HUGGINGFACE_FILE
    if huggingface is not None:
        _write_atomically(hf_path, huggingface.encode("utf-8"))
    elif is_libbpe_json(hf_path):
        # An older layout's JSON, now stale, must not stand where Hugging Face's tools look.
        hf_path.unlink()
    return path


def is_libbpe_json(path: Path) -> bool:
    """Whether ``path`` is a JSON file that libbpe wrote (and not, say, Hugging Face's)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return False


def _missing(path: Path, what: str) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, f"{what} is missing", str(path))


def load(directory: str | os.PathLike) -> _ffi.Vocab:
    """Reads a directory written by :func:`save`; returns the native vocabulary (caller owns it).

    A missing directory or file raises ``FileNotFoundError``; a corrupt one
    :class:`~libbpe.errors.VocabularyError` naming the file and what is wrong with it.
    """
    path = Path(directory)
    if not path.is_dir():
        raise _missing(path, "the tokenizer directory")
    meta_path = path / META_FILE
    if not meta_path.is_file() and is_libbpe_json(path / HUGGINGFACE_FILE):
        meta_path = path / HUGGINGFACE_FILE  # the older layout
    if not meta_path.is_file():
        raise _missing(meta_path, f"{META_FILE} (not a libbpe tokenizer directory?)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise VocabularyError(f"{meta_path} is not valid JSON: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise VocabularyError(f'{meta_path} is not a libbpe tokenizer file (no "format": {FORMAT!r})')
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise VocabularyError(
            f"{meta_path} has format version {version!r}; this libbpe reads version {FORMAT_VERSION}"
        )
    pattern = meta.get("pattern")
    specials = meta.get("special_tokens")
    if not isinstance(pattern, str):
        raise VocabularyError(f'{meta_path}: "pattern" must be a string')
    if not isinstance(specials, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**32
        for k, v in specials.items()
    ):
        raise VocabularyError(f'{meta_path}: "special_tokens" must map names to ids')
    ranks_path = path / RANKS_FILE
    if not ranks_path.is_file():
        raise _missing(ranks_path, "the ranks file")
    vocab = _ffi.Vocab.load(str(ranks_path), pattern, specials)
    # A file cut at a line boundary still parses: the count in the JSON catches it.
    n_ranks = meta.get("n_ranks")
    if n_ranks is not None and n_ranks != len(vocab):
        found = len(vocab)
        vocab.close()
        raise VocabularyError(f"{ranks_path} has {found} ranks but {meta_path} says {n_ranks}: truncated?")
    return vocab
