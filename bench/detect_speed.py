"""Detection throughput: MB/s of text through dyadwatch's detection on one core.

Compares, in the same run, against a baseline: one Python regular expression with every
alias as an alternative (the straightforward way to match a gazetteer). The text is the
bundled demo articles and the seeds, plus the real article texts in ../shared/realdata
when that folder is present, repeated to about --megabytes MB. Each stage goes over the
text --repeat times; the fastest pass is reported (other processes on the machine only
ever slow a pass down), with the median pass, and the CPU time other processes took
during the benchmark is reported at the end.

    python bench/detect_speed.py [--megabytes 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from pathlib import Path

from cpu import busy_seconds, own_seconds  # bench/cpu.py

from dyadwatch.actors import load_gazetteer
from dyadwatch.extract import extract_article
from dyadwatch.pipeline import read_seed, seed_files
from dyadwatch.text import normalise
from dyadwatch.topic import TopicModel

ROOT = Path(__file__).resolve().parent.parent
REALDATA = ROOT.parent / "shared" / "realdata" / "html"


def corpus(megabytes: float) -> tuple[list[str], dict[str, int]]:
    texts = [
        normalise(extract_article(p.read_bytes()).text)
        for p in sorted((ROOT / "dyadwatch" / "demo_site" / "articles").glob("*.html"))
    ]
    texts += [read_seed(p)[0] for p in seed_files(ROOT / "seeds")]
    sources = {"demo and seeds": len(texts)}
    if REALDATA.is_dir():
        real = [
            normalise(p.read_text(errors="replace")) for p in sorted(REALDATA.glob("*.ref.txt"))
        ]
        texts += real
        sources["realdata articles"] = len(real)
    size = sum(len(t.encode()) for t in texts)
    return texts * max(1, round(megabytes * 1e6 / size)), sources


def baseline_pattern(gazetteer) -> re.Pattern[str]:
    words = sorted({a.base for a in gazetteer.aliases}, key=len, reverse=True)
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) + r"\w*" for w in words) + r")(?!\w)", re.I
    )


def rate(label: str, texts: list[str], fn, repeat: int = 1) -> float:
    """MB/s of the fastest of ``repeat`` passes of ``fn`` over ``texts``."""
    size = sum(len(t.encode()) for t in texts) / 1e6
    passes = []
    for _ in range(repeat):
        started = time.perf_counter()
        for text in texts:
            fn(text)
        passes.append(time.perf_counter() - started)
    seconds = min(passes)
    spread = f"; median pass {size / statistics.median(passes):.2f} MB/s" if repeat > 1 else ""
    print(f"  {label:<44} {size / seconds:7.2f} MB/s  ({size:.1f} MB in {seconds:.2f} s{spread})")
    return size / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3, help="passes per stage (best counts)")
    args = parser.parse_args()
    texts, sources = corpus(args.megabytes)
    busy, own, began = busy_seconds(), own_seconds(), time.perf_counter()
    started = time.perf_counter()
    gazetteer = load_gazetteer()
    print(f"gazetteer: loaded and compiled in {time.perf_counter() - started:.2f} s")
    topic = TopicModel.build(gazetteer, [read_seed(p)[0] for p in seed_files(ROOT / "seeds")])
    mentions = sum(len(gazetteer.find_mentions(t)[0]) for t in texts[: len(texts) // 10 or 1])
    size = sum(len(t.encode()) for t in texts[: len(texts) // 10 or 1])
    print(
        f"text: {', '.join(f'{n} {k}' for k, n in sources.items())}; "
        f"{len(gazetteer.aliases):,} aliases; one mention per {size / max(1, mentions):.0f} bytes"
    )
    pattern = baseline_pattern(gazetteer)
    # The baseline is slow: it gets a tenth of the text (MB/s does not depend on the amount).
    base = rate(
        "baseline: one regex of all aliases (match only)",
        texts[: max(1, len(texts) // 10)],
        lambda t: list(pattern.finditer(t)),
    )
    r = args.repeat
    ours = rate("dyadwatch: mentions, guards, terms of office", texts, gazetteer.find_mentions, r)
    full = rate("dyadwatch: detect (mentions + sentence pairs)", texts, gazetteer.detect, r)
    rate(
        "dyadwatch: detect + topic score",
        texts,
        lambda t: topic.score(t, gazetteer.detect(t)),
        r,
    )
    print(f"detect is {full / base:.1f}x the baseline's speed (mentions alone: {ours / base:.1f}x)")
    others = busy_seconds() - busy - (own_seconds() - own)
    if others > 0:
        share = others / ((os.cpu_count() or 1) * (time.perf_counter() - began))
        print(
            f"other processes used {others:.0f} CPU-seconds during the benchmark "
            f"({share:.0%} of the machine's cores' time)"
        )


if __name__ == "__main__":
    main()
