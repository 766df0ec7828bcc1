"""Detection quality on the labelled dev set: precision, recall and F1 per actor and per
pair (sentence and document level) and for the on-topic decision.

    python bench/detect_quality.py            # print the scores
    python bench/detect_quality.py --check    # exit 1 if a score is below bench/quality_minimums.json
    python bench/detect_quality.py --errors   # also list the items that were wrong
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dyadwatch.actors import load_gazetteer
from dyadwatch.evaluate import Report, evaluate, load_devset
from dyadwatch.pipeline import read_seed, seed_files
from dyadwatch.topic import TopicModel

ROOT = Path(__file__).resolve().parent.parent
DEVSET = ROOT / "tests" / "devset" / "devset.jsonl"
MINIMUMS = ROOT / "bench" / "quality_minimums.json"


def run(threshold: float = 0.35) -> Report:
    gazetteer = load_gazetteer()
    topic = TopicModel.build(
        gazetteer, [read_seed(p)[0] for p in seed_files(ROOT / "seeds")], threshold
    )
    return evaluate(load_devset(DEVSET), gazetteer, topic)


def table(title: str, tallies: dict) -> None:
    print(f"\n{title}")
    print(f"  {'label':<10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for label in sorted(tallies):
        d = tallies[label].as_dict()
        print(
            f"  {label:<10} {d['precision']:>9.3f} {d['recall']:>7.3f} {d['f1']:>6.3f} {d['support']:>8}"
        )
    d = Report.micro(tallies).as_dict()
    print(
        f"  {'(micro)':<10} {d['precision']:>9.3f} {d['recall']:>7.3f} {d['f1']:>6.3f} {d['support']:>8}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when below the pinned minimums")
    parser.add_argument("--errors", action="store_true", help="list the items that were wrong")
    parser.add_argument("--threshold", type=float, default=0.35, help="on-topic threshold")
    args = parser.parse_args()
    report = run(args.threshold)
    print(f"dev set: {report.items} items ({DEVSET.relative_to(ROOT)})")
    table("Actors (document level)", report.actors)
    table("Pairs in one sentence", report.sentence_pairs)
    table("Pairs in one document", report.document_pairs)
    on = report.on_topic.as_dict()
    print(
        f"\nOn topic (threshold {args.threshold}): precision {on['precision']:.3f} recall "
        f"{on['recall']:.3f} f1 {on['f1']:.3f} over {len(report.topic_scores)} articles"
    )
    threshold, f1 = report.best_threshold()
    print(f"  best threshold on this dev set: {threshold:.2f} (f1 {f1:.3f})")
    summary = report.summary()
    print("\n" + json.dumps(summary, indent=2))
    if args.errors:
        for error in report.errors:
            print(json.dumps(error, ensure_ascii=False))
    if args.check:
        minimums = json.loads(MINIMUMS.read_text())
        below = {k: (summary[k], v) for k, v in minimums.items() if summary[k] < v}
        for key, (got, floor) in below.items():
            print(f"REGRESSION {key}: {got:.4f} < pinned minimum {floor:.4f}", file=sys.stderr)
        sys.exit(1 if below else 0)


if __name__ == "__main__":
    main()
