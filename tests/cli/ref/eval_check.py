#!/usr/bin/python3
"""Checks `radfed eval --json` output against the dataset: the images
evaluated are the labelled records, the confusion matrix adds up to them
and its trace over them is the accuracy.

usage: eval_check.py EVAL.json DATASET.h5"""
import json
import sys

import h5py
import numpy as np


def main():
    r = json.load(open(sys.argv[1], encoding="utf-8"))
    for k in ("model", "arch_version", "round", "images", "loss", "acc",
              "bal_acc", "auc", "confusion"):
        if k not in r:
            sys.exit(f"missing {k}")
    with h5py.File(sys.argv[2], "r") as f:
        labels = f["labels"][()]
    n = int(np.sum(labels >= 0))
    conf = np.array(r["confusion"])
    if r["images"] != n or conf.sum() != n:
        sys.exit(f"{r['images']} images, confusion {conf.sum()}, "
                 f"dataset has {n} labelled")
    if abs(np.trace(conf) / n - r["acc"]) > 1e-6:
        sys.exit(f"accuracy {r['acc']} != trace/n {np.trace(conf) / n}")
    rows = conf.sum(axis=1)
    if not np.array_equal(rows, np.bincount(labels[labels >= 0],
                                            minlength=len(rows))):
        sys.exit("confusion rows are not the label counts")
    print(r)


if __name__ == "__main__":
    main()
