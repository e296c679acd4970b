"""Write the questions of some folds of SQuAD 2.0 dev half A (split by article, qa.augment.fold_of) to a file.

    .venv/bin/python scripts/half-a-folds.py runs/half-a-fold4.json --folds 4

The shipped reader trains on folds 0-3; fold 4 is what it is calibrated and reported on.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.augment import fold_of, parse_folds  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--folds", default="4")
ap.add_argument("--squad", default="../shared/squad/dev-v2.0-half-a.json")
args = ap.parse_args()
data = json.loads(Path(args.squad).read_text())
keep = parse_folds(args.folds)
data["data"] = [a for a in data["data"] if fold_of(a["title"]) in keep]
Path(args.out).parent.mkdir(parents=True, exist_ok=True)
Path(args.out).write_text(json.dumps(data))
print(f"{sum(len(p['qas']) for a in data['data'] for p in a['paragraphs'])} questions of "
      f"{len(data['data'])} articles → {args.out}")
