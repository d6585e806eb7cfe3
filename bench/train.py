#!/usr/bin/python3
"""Training throughput of the PyTorch mirrors of radfed's built-in models
(tests/ref/torch_models.py): the peer figure of bench_train (bench/train.c),
started by bench/train.sh; see docs/benchmarks.md.

usage: train.py MODEL [SIDE [STEPS [BATCH]]]

Same work as bench_train: 1 x SIDE x SIDE random images in [0, 1], two
classes, random labels, batch BATCH (32), 2 warm-up steps then STEPS (20)
timed steps of forward, backward and SGD (lr 0.01, momentum 0.9, weight
decay 1e-4), float32 on the CPU with torch.set_num_threads(2) (or
$RADFED_BENCH_THREADS, as bench/train.sh sets it). Prints one line of
key=value pairs like bench_train (rates from the median step), plus the
RSS after importing torch (base_rss_mb): the interpreter and torch alone
weigh that much.
"""
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "ref"))
import torch_models  # noqa: E402

WARMUP = 2


def main():
    if not 2 <= len(sys.argv) <= 5:
        sys.exit("usage: train.py MODEL [SIDE [STEPS [BATCH]]]")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    name = sys.argv[1]
    side = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    torch.set_num_threads(int(os.environ.get("RADFED_BENCH_THREADS", 2)))
    torch.manual_seed(1)
    model = torch_models.build(name, 1, 2, 0.0).float().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                          weight_decay=1e-4)
    lossf = torch.nn.CrossEntropyLoss()
    x = torch.rand(batch, 1, side, side)
    y = torch.randint(0, 2, (batch,))
    times = []
    for s in range(WARMUP + steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        if s >= WARMUP:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("model=%s side=%d batch=%d steps=%d images_per_s=%.1f "
          "ms_per_step=%.2f mean_ms_per_step=%.2f peak_rss_mb=%.1f "
          "base_rss_mb=%.1f loss=%.4f"
          % (name, side, batch, steps, batch / med, med * 1e3,
             statistics.mean(times) * 1e3, peak, base, loss.item()))


if __name__ == "__main__":
    main()
