"""``python -m libbpe``: train a tokenizer from files, and encode or decode from the shell.

    python -m libbpe train --vocab-size 65536 --output tok/ --preset nanochat data/*.parquet
    echo "hello world" | python -m libbpe encode tok/
    python -m libbpe decode tok/ 31373 995

Inputs for ``train``: Parquet (read one row group at a time, the ``text`` column by default),
JSON Lines (one object per line, the same field), and any other file as one plain-text
document. ``--max-chars`` and ``--doc-cap`` count characters, as nanochat's ``tok_train.py``
does: each document is cut to ``--doc-cap`` characters, and reading stops once more than
``--max-chars`` characters have been read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .directory import HUGGINGFACE_FILE, META_FILE, RANKS_FILE, is_libbpe_json
from .errors import BpeError
from .presets import PRESETS
from .tokenizer import Tokenizer

__all__ = ["main", "read_documents"]


def _parquet_documents(path: Path, column: str) -> Iterator[str]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(f"reading {path} needs pyarrow: pip install pyarrow") from None
    parquet = pq.ParquetFile(path)
    if column not in parquet.schema_arrow.names:
        raise ValueError(f"{path} has no column {column!r} (it has {', '.join(parquet.schema_arrow.names)})")
    for i in range(parquet.num_row_groups):
        # One row group at a time, so memory stays bounded by the largest group.
        yield from parquet.read_row_group(i, columns=[column]).column(column).to_pylist()


def _jsonl_documents(path: Path, column: str) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                yield record[column]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ValueError(
                    f"{path}:{line_number}: no {column!r} field in a JSON object ({e})"
                ) from None


def read_documents(paths: Sequence[str | Path], column: str = "text") -> Iterator[str]:
    """The documents of every file, in order: Parquet and JSON Lines by their suffix, any other
    file as one plain-text document."""
    for p in paths:
        path = Path(p)
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            yield from _parquet_documents(path, column)
        elif suffix in (".jsonl", ".ndjson"):
            yield from _jsonl_documents(path, column)
        else:
            yield path.read_text(encoding="utf-8")


class _Limited:
    """Documents cut to ``doc_cap`` characters, stopping once more than ``max_chars`` have
    passed (nanochat's rule); counts what it yields."""

    def __init__(self, documents: Iterable[str], max_chars: int | None, doc_cap: int | None):
        self._documents = documents
        self._max_chars = max_chars
        self._doc_cap = doc_cap
        self.documents = 0
        self.chars = 0

    def __iter__(self) -> Iterator[str]:
        for text in self._documents:
            if self._doc_cap is not None and isinstance(text, str) and len(text) > self._doc_cap:
                text = text[: self._doc_cap]
            self.documents += 1
            self.chars += len(text) if isinstance(text, str) else 0
            yield text
            if self._max_chars is not None and self.chars > self._max_chars:
                return


def _train(args: argparse.Namespace) -> int:
    pattern, specials = PRESETS[args.preset]
    if args.pattern is not None:
        pattern = args.pattern
    if args.special_token:
        specials = tuple(args.special_token)
    documents = _Limited(read_documents(args.inputs, args.column), args.max_chars, args.doc_cap)
    start = time.perf_counter()
    tokenizer = Tokenizer.train_from_iterator(
        documents,
        args.vocab_size,
        pattern=pattern,
        special_tokens=specials,
        threads=args.threads,
        progress=not args.quiet,
    )
    seconds = time.perf_counter() - start
    out = Path(args.output)
    tokenizer.save(out, huggingface=args.huggingface)
    token_bytes = tokenizer.token_bytes()
    lengths = [int(n) for n in token_bytes if n > 0]
    wrote = [out / RANKS_FILE, out / META_FILE] + ([out / HUGGINGFACE_FILE] if args.huggingface else [])
    try:
        import numpy as np
    except ImportError:
        print("numpy is not installed: token_bytes.npy was not written", file=sys.stderr)
    else:
        np.save(out / "token_bytes.npy", np.asarray(token_bytes, dtype=np.int32))
        wrote.append(out / "token_bytes.npy")
    print(f"trained on {documents.documents:,} documents, {documents.chars:,} characters in {seconds:.2f} s")
    print(
        f"vocab size {tokenizer.vocab_size:,} ({len(tokenizer.mergeable_ranks):,} ranks, "
        f"{len(tokenizer.special_tokens)} special tokens)"
    )
    print(f"token bytes: min {min(lengths)}, max {max(lengths)}, mean {sum(lengths) / len(lengths):.2f}")
    print("wrote " + ", ".join(str(p) for p in wrote))
    return 0


def _encode(args: argparse.Namespace) -> int:
    tokenizer = Tokenizer.load(args.tokenizer)
    text = " ".join(args.text) if args.text else sys.stdin.read()
    if args.allow_special:
        ids = tokenizer.encoder.encode(text, allowed_special="all")
    else:
        ids = tokenizer.encoder.encode_ordinary(text)
    print(" ".join(map(str, ids)))
    return 0


def _decode(args: argparse.Namespace) -> int:
    tokenizer = Tokenizer.load(args.tokenizer)
    words = args.ids if args.ids else sys.stdin.read().split()
    try:
        ids = [int(w) for w in words]
    except ValueError as e:
        raise ValueError(f"ids must be integers: {e}") from None
    sys.stdout.write(tokenizer.decode(ids))
    if sys.stdout.isatty():
        sys.stdout.write("\n")
    return 0


def _huggingface(args: argparse.Namespace) -> int:
    source = Path(args.tokenizer)
    tokenizer = Tokenizer.load(source)
    if args.output is None:
        # Saving again also moves an older directory's own JSON out of tokenizer.json.
        tokenizer.save(source, huggingface=True)
        out = source / HUGGINGFACE_FILE
    else:
        out = Path(args.output)
        if is_libbpe_json(out):
            raise ValueError(f"{out} is a libbpe tokenizer's own JSON: write Hugging Face's elsewhere")
        out.write_text(tokenizer.to_huggingface_json(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m libbpe", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a tokenizer from Parquet, JSONL or text files")
    train.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="Parquet (.parquet), JSON Lines (.jsonl) or text files"
    )
    train.add_argument(
        "--vocab-size", type=int, required=True, help="ids in the vocabulary, special tokens included"
    )
    train.add_argument("--output", required=True, metavar="DIR", help="directory to write the tokenizer into")
    train.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="gpt4",
        help="split pattern and special tokens (nanochat: its pattern and nine special tokens)",
    )
    train.add_argument("--pattern", help="split pattern (overrides the preset's)")
    train.add_argument(
        "--special-token",
        action="append",
        metavar="TOKEN",
        help="a special token (repeat; overrides the preset's)",
    )
    train.add_argument(
        "--column", default="text", help="Parquet column / JSON field of the text (default: text)"
    )
    train.add_argument("--max-chars", type=int, help="stop reading after this many characters")
    train.add_argument("--doc-cap", type=int, help="cut each document to this many characters")
    train.add_argument("--threads", type=int, help="threads (default: one per core)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.add_argument(
        "--huggingface", action="store_true", help="also write Hugging Face's tokenizer.json into DIR"
    )
    train.set_defaults(run=_train)

    encode = commands.add_parser("encode", help="print the ids of a text (arguments or stdin)")
    encode.add_argument("tokenizer", metavar="DIR", help="tokenizer directory")
    encode.add_argument("text", nargs="*", help="text to encode (default: stdin)")
    encode.add_argument(
        "--allow-special", action="store_true", help="turn special tokens in the text into their ids"
    )
    encode.set_defaults(run=_encode)

    decode = commands.add_parser("decode", help="print the text of ids (arguments or stdin)")
    decode.add_argument("tokenizer", metavar="DIR", help="tokenizer directory")
    decode.add_argument("ids", nargs="*", help="ids to decode (default: stdin, whitespace-separated)")
    decode.set_defaults(run=_decode)

    huggingface = commands.add_parser(
        "huggingface", help="write a tokenizer as Hugging Face's tokenizer.json (the same ids as tiktoken)"
    )
    huggingface.add_argument("tokenizer", metavar="DIR", help="tokenizer directory")
    huggingface.add_argument(
        "output", metavar="FILE", nargs="?", help="where to write it (default: DIR/tokenizer.json)"
    )
    huggingface.set_defaults(run=_huggingface)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (BpeError, OSError, ValueError, TypeError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
