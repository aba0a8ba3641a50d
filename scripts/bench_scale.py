"""Training at scale, beside rustbpe where it can run in the same time (scripts/bench scale).

  stream   the shared corpus fed 32 times from a Python generator (about 2 GB), vocab 65536:
           end-to-end MB/s and peak memory
  huge     100 MB as ONE document with no newlines, against the same bytes as many documents:
           counting throughput of each (vocab 257: splitting and counting only)
  corpus2  corpora of another character (all Python code; mostly CJK text): libbpe and
           rustbpe side by side, with a ranks digest

Every figure comes from a fresh child process (`bench_scale.py one KIND IMPL ...`).
"""

import hashlib
import json
import os
import pathlib
import resource
import subprocess
import sys
import sysconfig
import time

NANOCHAT = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""


def corpus() -> list[str]:
    path = pathlib.Path(os.environ.get("BPE_CORPUS", "~/.cache/bpe-corpus/docs.jsonl")).expanduser()
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def code_docs() -> list[str]:
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    return [p.read_text("utf-8", "replace") for p in files]


def cjk_docs() -> list[str]:
    def cjk_share(t: str) -> float:
        return sum(1 for c in t if "\u3040" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af") / max(1, len(t))

    return [d for d in corpus() if cjk_share(d) > 0.2]


def digest(ranks: dict[bytes, int]) -> str:
    items = sorted(ranks.items(), key=lambda kv: kv[1])
    return hashlib.sha256(b"\0".join(k for k, _ in items)).hexdigest()[:16]


def train(impl: str, docs, vocab: int) -> dict[bytes, int]:
    if impl == "libbpe":
        import libbpe

        return dict(libbpe.Tokenizer.train_from_iterator(docs, vocab, pattern=NANOCHAT).mergeable_ranks)
    import rustbpe

    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(iter(docs), vocab, pattern=NANOCHAT)
    return {bytes(k): v for k, v in tok.get_mergeable_ranks()}


def one(kind: str, impl: str) -> dict:
    if kind == "stream":
        docs = corpus()
        nbytes = 32 * sum(len(d.encode()) for d in docs)
        source, vocab = (d for _ in range(32) for d in docs), 65536
    elif kind in ("huge-one", "huge-many"):
        docs, n, pool = [], 0, corpus()
        while n < 100e6:  # the corpus is 61 MB: cycle through it
            d = pool[len(docs) % len(pool)].replace("\r", " ").replace("\n", " ")
            docs.append(d)
            n += len(d.encode())
        source = [" ".join(docs)] if kind == "huge-one" else docs
        nbytes, vocab = sum(len(d.encode()) for d in source), 257
    else:
        source = code_docs() if kind == "code" else cjk_docs()
        nbytes, vocab = sum(len(d.encode()) for d in source), 32768
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    ranks = train(impl, source, vocab)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(kind=kind, impl=impl, mb=round(nbytes / 1e6, 1), vocab=vocab, seconds=round(dt, 2),
                mb_per_s=round(nbytes / 1e6 / dt, 1), peak_rss_mb=peak // 1024, extra_rss_mb=(peak - rss0) // 1024,
                tokens=len(ranks), digest=digest(ranks))


def child(*args) -> dict:
    r = subprocess.run([sys.executable, __file__, "one", *args], capture_output=True, text=True)
    if r.returncode != 0:
        return dict(kind=args[0], impl=args[1], error=(r.stderr.strip().splitlines() or ["failed"])[-1])
    return json.loads(r.stdout.strip().splitlines()[-1])


def show(rows: list[dict]) -> None:
    keys = ["kind", "impl", "mb", "vocab", "seconds", "mb_per_s", "peak_rss_mb", "extra_rss_mb", "tokens", "digest"]
    print("| " + " | ".join(keys) + " |")
    print("|---" * len(keys) + "|")
    for r in rows:
        print("| " + " | ".join(str(r.get(k, r.get("error", ""))) for k in keys) + " |")


def main() -> None:
    if sys.argv[1:2] == ["one"]:
        print(json.dumps(one(sys.argv[2], sys.argv[3])))
        return
    what = sys.argv[1:] or ["stream", "huge", "corpus2"]
    rows = []
    if "stream" in what:
        rows.append(child("stream", "libbpe"))
    if "huge" in what:
        rows += [child("huge-one", "libbpe"), child("huge-many", "libbpe")]
        one_doc, many = rows[-2], rows[-1]
        if "mb_per_s" in one_doc and "mb_per_s" in many:
            print(f"one 100 MB document: {one_doc['mb_per_s'] / many['mb_per_s']:.0%} of the throughput of many documents",
                  file=sys.stderr)
    if "corpus2" in what:
        for kind in ("code", "cjk"):
            rows += [child(kind, "libbpe"), child(kind, "rustbpe")]
    show(rows)


if __name__ == "__main__":
    main()
