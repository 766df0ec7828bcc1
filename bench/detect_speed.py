"""Detection throughput: MB/s of text through dyadwatch's detection on one core.

Compares, in the same run, against a baseline: one Python regular expression with every
alias as an alternative (the straightforward way to match a gazetteer). The text is the
bundled demo articles and the seeds, plus the real article texts in ../shared/realdata
when that folder is present, repeated to about --megabytes MB.

    python bench/detect_speed.py [--megabytes 20]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

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


def rate(label: str, texts: list[str], fn) -> float:
    size = sum(len(t.encode()) for t in texts) / 1e6
    started = time.perf_counter()
    for text in texts:
        fn(text)
    seconds = time.perf_counter() - started
    print(f"  {label:<44} {size / seconds:7.2f} MB/s  ({size:.1f} MB in {seconds:.2f} s)")
    return size / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=20.0)
    args = parser.parse_args()
    texts, sources = corpus(args.megabytes)
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
    ours = rate("dyadwatch: mentions, guards, terms of office", texts, gazetteer.find_mentions)
    full = rate("dyadwatch: detect (mentions + sentence pairs)", texts, gazetteer.detect)
    rate("dyadwatch: detect + topic score", texts, lambda t: topic.score(t, gazetteer.detect(t)))
    print(f"detect is {full / base:.1f}x the baseline's speed (mentions alone: {ours / base:.1f}x)")


if __name__ == "__main__":
    main()
