#!/usr/bin/python3
"""Checks the JSON lines of `radfed train --json`: one object per epoch
with the documented keys, epochs 1..N in order, a patient split of about
80/20, and the last epoch's validation AUC at least MIN_AUC.

usage: train_check.py FILE.jsonl EPOCHS MIN_AUC"""
import json
import math
import sys

KEYS = {"epoch", "loss", "val_loss", "val_acc", "val_bal_acc", "val_auc",
        "train_images", "val_images", "seconds", "images_per_s", "confusion"}


def main():
    path, epochs, min_auc = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    if len(rows) != epochs:
        sys.exit(f"{len(rows)} epoch objects, expected {epochs}")
    for i, r in enumerate(rows, 1):
        missing = KEYS - set(r)
        if missing:
            sys.exit(f"epoch {i}: missing {sorted(missing)}")
        if r["epoch"] != i:
            sys.exit(f"object {i} says epoch {r['epoch']}")
        for k in ("loss", "val_loss", "val_auc", "val_acc"):
            if r[k] is None or not math.isfinite(r[k]):
                sys.exit(f"epoch {i}: {k} is {r[k]}")
        conf = r["confusion"]
        if sum(map(sum, conf)) != r["val_images"]:
            sys.exit(f"epoch {i}: confusion does not add up")
        print(f"epoch {i}: loss {r['loss']:.4f} val_loss {r['val_loss']:.4f}"
              f" val_acc {r['val_acc']:.3f} val_auc {r['val_auc']:.4f}"
              f" ({r['train_images']} train, {r['val_images']} val,"
              f" {r['images_per_s']:.0f} img/s)")
    last = rows[-1]
    total = last["train_images"] + last["val_images"]
    share = last["val_images"] / total
    if not 0.1 <= share <= 0.3:
        sys.exit(f"validation share {share:.2f}, expected about 0.2")
    if last["val_auc"] < min_auc:
        sys.exit(f"validation AUC {last['val_auc']:.4f} < {min_auc}")


if __name__ == "__main__":
    main()
