"""anchors.py's encode benchmark with each pass on its own (scripts/bench encode-apart).

anchors.py frees a pass's output inside the next pass's timing (the assignment that keeps the
new output drops the old), and the collector traces the old output while the new one is
made. So each implementation pays for the one before it: the project's single-thread pass
comes right after tiktoken's batch, whose 5 million freshly made ints cost about 0.1 s to free
and trace, while gigatoken's comes after the project's batch, whose ints are shared.

Here the same encoders (anchors.encoders, a fresh object for every pass) run in the same
order on the same documents, but the previous output is freed and collected before the clock
starts. It prints the table anchors.py prints, with these timings.

  scripts/bench encode-apart [--vocab trained|cl100k_base|o200k_base] [--rounds 3]
"""

import argparse
import gc
import pathlib
import statistics
import tempfile
import time

from bench_bound import HELD_OUT, anchors, print_table


def vocabulary(name: str, docs: list[str]) -> tuple[dict[bytes, int], str]:
    """Ranks and pattern as anchors.run_encode makes them."""
    if name != "trained":
        ranks, pattern, _ = anchors.openai_vocab(name)
        return ranks, pattern
    import rustbpe

    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(iter(docs[:4000]), 32768, pattern=anchors.PATTERN)
    return {bytes(k): v for k, v in tok.get_mergeable_ranks()}, anchors.PATTERN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", default="cl100k_base", choices=["trained", "cl100k_base", "o200k_base"])
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    docs = anchors.load_docs()
    test = docs[HELD_OUT]
    ranks, pattern = vocabulary(a.vocab, docs)
    mb = sum(len(d.encode()) for d in test) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        ranks_file = str(pathlib.Path(tmp) / "ranks.tiktoken")
        anchors.write_tiktoken_file(ranks, ranks_file)
        made = anchors.encoders(a.vocab, ranks, pattern, ranks_file)
        times: dict[str, list[float]] = {name: [] for name in made}
        same: dict[str, bool] = {}
        ref = None
        for _ in range(a.rounds):
            for name, (kind, make) in made.items():
                fn = make()
                gc.collect()  # the previous pass's output is gone; nothing of it is left to trace
                t0 = time.perf_counter()
                out = [fn(d) for d in test] if kind == "single" else fn(test)
                times[name].append(time.perf_counter() - t0)
                ref = out if ref is None else ref  # the first run is tiktoken's
                same[name] = same.get(name, True) and out == ref
                del out
    print_table(
        f"{len(test)} documents, {mb:.1f} MB, vocabulary {a.vocab}; fresh encoder object for every pass, "
        "the previous pass's output freed before the clock starts",
        {name: (mb / statistics.median(t), same[name]) for name, t in times.items()},
    )


if __name__ == "__main__":
    main()
