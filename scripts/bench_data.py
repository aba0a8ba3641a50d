"""Writes the inputs of the encoding benchmarks that run outside Python (the C program
`tests/c/bench_encode.c` and the Rust example `bench_encode`) to a directory:

  NAME.tiktoken, NAME.pattern   for NAME in trained, cl100k_base, o200k_base
  docs.bin                      the held-out documents, each as a little-endian u64 length
                                and its UTF-8 bytes

The vocabularies and documents are exactly those of `../shared/bench/anchors.py encode`
(it is imported from there), so the figures compare with its tables.

Usage: python scripts/bench_data.py [DIR]   (default: target/bench-data)
"""

from __future__ import annotations

import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "shared" / "bench"))

import anchors  # noqa: E402


def main() -> None:
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/bench-data")
    out.mkdir(parents=True, exist_ok=True)
    docs = anchors.load_docs()
    for name in ["cl100k_base", "o200k_base"]:
        ranks, pattern, _ = anchors.openai_vocab(name)
        anchors.write_tiktoken_file(ranks, str(out / f"{name}.tiktoken"))
        (out / f"{name}.pattern").write_text(pattern, encoding="utf-8")
    import rustbpe

    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(iter(docs[:4000]), 32768, pattern=anchors.PATTERN)
    anchors.write_tiktoken_file(
        {bytes(k): v for k, v in tok.get_mergeable_ranks()}, str(out / "trained.tiktoken")
    )
    (out / "trained.pattern").write_text(anchors.PATTERN, encoding="utf-8")
    with open(out / "docs.bin", "wb") as f:
        for d in docs[4000:12000]:
            data = d.encode("utf-8")
            f.write(struct.pack("<Q", len(data)))
            f.write(data)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
