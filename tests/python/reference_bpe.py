"""A slow, obviously-correct BPE trainer: the rule libbpe must follow, written plainly.

Split every document with the pattern (the `regex` module, independent of fancy-regex),
count the chunks, then at every step recount all adjacent pairs (overlaps included,
weighted by chunk count), take the highest count, break ties by the smallest
(left_id, right_id), and replace non-overlapping occurrences left to right.
"""

from collections import Counter

import regex


def train(docs: list[str], vocab_size: int, pattern: str) -> dict[bytes, int]:
    chunks = Counter(c.encode("utf-8") for d in docs for c in regex.findall(pattern, d))
    words = [(list(c), n) for c, n in chunks.items()]
    tokens = [bytes([b]) for b in range(256)]
    for new in range(256, vocab_size):
        pairs: Counter = Counter()
        for ids, n in words:
            for pair in zip(ids, ids[1:]):
                pairs[pair] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))[0]
        for k, (ids, n) in enumerate(words):
            out, i = [], 0
            while i < len(ids):
                if i + 1 < len(ids) and (ids[i], ids[i + 1]) == best:
                    out.append(new)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            words[k] = (out, n)
        tokens.append(tokens[best[0]] + tokens[best[1]])
    return {t: r for r, t in enumerate(tokens)}
