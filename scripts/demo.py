"""The demo behind scripts/demo: train on the Python standard library, save, load into
tiktoken, encode and decode a sample, encode the corpus with tiktoken and with the native
encoder (checking that every id agrees), check the ids of the Hugging Face tokenizer.json saved
beside them on a tenth of the files, report."""

import pathlib
import sys
import sysconfig
import time

import tiktoken

import libbpe


def stdlib_sources() -> list[str]:
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    return [p.read_text("utf-8", "replace") for p in files]


def main() -> None:
    vocab_size = int(sys.argv[1]) if len(sys.argv) > 1 else 8192
    out = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "target/demo-tokenizer")
    docs = stdlib_sources()
    n_bytes = sum(len(d.encode()) for d in docs)
    print(f"corpus: {len(docs)} Python standard library files, {n_bytes / 1e6:.1f} MB")

    t0 = time.perf_counter()
    tok = libbpe.Tokenizer.train_from_iterator(
        docs, vocab_size, pattern=libbpe.NANOCHAT_PATTERN, special_tokens=["<|endoftext|>"]
    )
    train_s = time.perf_counter() - t0
    tok.save(out, huggingface=True)

    # A fresh tiktoken.Encoding built from the saved files, as an inference user would.
    loaded = libbpe.Tokenizer.load(out)
    enc = tiktoken.Encoding(
        "demo", pat_str=loaded.pattern, mergeable_ranks=loaded.mergeable_ranks, special_tokens=loaded.special_tokens
    )
    sample = docs[len(docs) // 2][:2000]
    ids = enc.encode(sample)
    assert enc.decode(ids) == sample, "tiktoken did not round-trip the sample"
    assert libbpe.Encoder(loaded.mergeable_ranks, loaded.pattern).encode_ordinary(sample) == ids

    t0 = time.perf_counter()
    by_tiktoken = enc.encode_ordinary_batch(docs, num_threads=2)
    encode_s = time.perf_counter() - t0
    total_ids = sum(len(x) for x in by_tiktoken)
    t0 = time.perf_counter()
    by_native = loaded.encoder.encode_ordinary_batch(docs, num_threads=2)
    native_s = time.perf_counter() - t0
    differ = sum(a != b for a, b in zip(by_tiktoken, by_native))
    assert differ == 0, f"the native encoder and tiktoken disagree on {differ} of {len(docs)} files"
    print(f"trained:  vocab {tok.vocab_size} ({len(tok.mergeable_ranks)} ranks + 1 special token) "
          f"in {train_s:.2f} s ({n_bytes / 1e6 / train_s:.0f} MB/s)")
    print(f"saved:    {out}/ ({', '.join(sorted(p.name for p in out.iterdir()))})")
    print(f"tiktoken: round-trips the sample; {ids[:12]} ...")
    print(f"          whole corpus: {total_ids} tokens, {n_bytes / total_ids:.2f} bytes per token, "
          f"encoded in {encode_s:.2f} s")
    print(f"native:   libbpe.Encoder gives the same ids for every file, in {native_s:.2f} s "
          f"({encode_s / native_s:.1f}x tiktoken)")
    huggingface(docs[::10], by_tiktoken[::10], out / "tokenizer.json")


def huggingface(docs: list[str], expected: list[list[int]], path: pathlib.Path) -> None:
    """Checks that `tokenizers` gives tiktoken's ids with the saved tokenizer.json."""
    try:
        import tokenizers
    except ImportError:
        print("hugging face: not checked (pip install tokenizers)")
        return
    t0 = time.perf_counter()
    encoded = tokenizers.Tokenizer.from_file(str(path)).encode_batch(docs, add_special_tokens=False)
    hf_s = time.perf_counter() - t0
    differ = sum(e.ids != ids for e, ids in zip(encoded, expected))
    assert differ == 0, f"Hugging Face's tokenizer and tiktoken disagree on {differ} of {len(docs)} files"
    print(f"hugging face: {path} gives tiktoken's ids for {len(docs)} files, in {hf_s:.2f} s")


if __name__ == "__main__":
    main()
