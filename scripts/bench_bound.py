"""What `anchors.py encode` allows at best through Python (scripts/bench encode-bound).

Runs anchors.py's encode benchmark unchanged, except that the project's two places in it are
taken by an encoder that costs nothing: it returns a copy of ids found before the clock
starts (a dict lookup and a list copy per document, ints shared as the project's are). What
remains is what any encoder returning a new `list` per document pays in that place: making
the lists, the collector's passes over what the benchmark keeps alive, and freeing the
output of the run before (anchors.py frees it inside the next timed pass).

Prints anchors.py's table with the bound's rows, then, for each target of the encoder issue
(5x tiktoken on one thread, 1.5x the fastest exact peer), the throughput it asks for, the
bound, and how fast encoding itself would have to be to meet it there.

  scripts/bench encode-bound [--vocab trained|cl100k_base|o200k_base] [--rounds 5]
"""

import argparse
import pathlib
import sys

BENCH = pathlib.Path(__file__).resolve().parents[2] / "shared" / "bench"
sys.path.insert(0, str(BENCH))
import anchors  # noqa: E402

import libbpe  # noqa: E402

SINGLE, BATCH = "project, 1 thread", "project batch, 2 threads"
# The documents anchors.run_encode encodes: the held-out ones.
HELD_OUT = slice(4000, 12000)
BOUND_SINGLE, BOUND_BATCH = "zero-cost encoder, 1 thread", "zero-cost encoder, batch"


def with_bound(encoders):
    """anchors.encoders with the project's entries replaced, in place, by the bound's."""

    def made(vocab, ranks, pattern, ranks_file):
        entries = encoders(vocab, ranks, pattern, ranks_file)
        # The ids of the documents (from libbpe, so that each id's int is shared as in the
        # project's own lists).
        encoder = libbpe.Encoder(ranks, pattern=pattern)
        found = {d: encoder.encode_ordinary(d) for d in anchors.load_docs()[HELD_OUT]}
        bound = {
            SINGLE: (BOUND_SINGLE, ("single", lambda: lambda d: found[d].copy())),
            BATCH: (BOUND_BATCH, ("batch", lambda: lambda ds: [found[d].copy() for d in ds])),
        }
        return dict(bound.get(name, (name, entry)) for name, entry in entries.items())

    return made


def print_table(title: str, res: dict[str, tuple[float, bool]]) -> None:
    """``res`` ({run: (MB/s, identical ids)}) as anchors.py's encode table prints it."""
    base = res["tiktoken, 1 thread"][0]
    print(title)
    print("| run | MB/s (median) | x tiktoken 1 thread | identical ids to tiktoken |")
    print("|---|---|---|---|")
    for name, (mbps, ok) in res.items():
        print(f"| {name} | {mbps:.1f} | {mbps / base:.2f} | {ok} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", default="cl100k_base", choices=["trained", "cl100k_base", "o200k_base"])
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    anchors.encoders = with_bound(anchors.encoders)
    mb, res = anchors.run_encode(a.vocab, rounds=a.rounds)
    base = res["tiktoken, 1 thread"][0]
    print_table(
        f"{HELD_OUT.stop - HELD_OUT.start} documents, {mb:.1f} MB, vocabulary {a.vocab}; "
        f"anchors.py encode with the project's places taken by an encoder that costs nothing",
        res,
    )

    def best_peer(kind: str) -> tuple[str, float]:
        peers = [
            (n, r[0])
            for n, r in res.items()
            if not n.startswith(("tiktoken", "zero-cost")) and ("batch" in n) == (kind == "batch")
        ]
        return max(peers, key=lambda p: p[1], default=("none", 0.0))

    print()
    # A pass takes what the bound takes plus what encoding takes. On one thread the two add
    # up; in a batch on two cores, making lists can overlap encoding, and at best the two
    # share the cores' time evenly. So a target of `asks` MB/s leaves encoding
    # cores/asks - 1/bound core-seconds per MB.
    print(
        "| target | asks for (MB/s) | zero-cost bound (MB/s) | so encoding itself must run at (MB/s per core) |"
    )
    print("|---|---|---|---|")
    targets = [("5x tiktoken, 1 thread", 5 * base, res[BOUND_SINGLE][0], 1)]
    for kind, bound, cores in (("single", res[BOUND_SINGLE][0], 1), ("batch", res[BOUND_BATCH][0], 2)):
        name, mbps = best_peer(kind)
        if mbps:
            targets.append((f"1.5x {name}", 1.5 * mbps, bound, cores))
    for target, asks, bound, cores in targets:
        left = cores / asks - 1 / bound
        need = f"{1 / left:.0f}" if left > 0 else "out of reach"
        print(f"| {target} | {asks:.1f} | {bound:.1f} | {need} |")


if __name__ == "__main__":
    main()
