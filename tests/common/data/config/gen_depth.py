#!/usr/bin/env python3
"""Writes depth.yaml: one key whose value is 40 nested flow sequences.

The top-level mapping is nesting level 1, so the k-th '[' (at column 6 + k)
opens level k + 1: level 33, the first one over the limit of 32, is the 32nd
'[' at line 1, column 38.
"""
with open("depth.yaml", "w") as f:
    f.write("bomb: " + "[" * 40 + "]" * 40 + "\n")
