"""Reference optimizer trajectories for tests/trainers/test_optim.c.

usage: /usr/bin/python3 optim_ref.py OUTDIR

Five parameter tensors of odd sizes (1, 7, 5x3, 33, 1029 elements: blocks
and vector tails of every length) start from fixed random values; ten
fixed random gradients per tensor are applied with torch.optim.SGD or
torch.optim.Adam (PyTorch's defaults otherwise: foreach off, so the
single-tensor code path), float32 on the CPU. FedProx cases add
mu * (w - w0) to p.grad before optimizer.step(), w0 the initial values.
Every hyper-parameter is a float32 value (the C API takes floats), passed
to PyTorch as the Python float of that value.

Writes, all little-endian float32, tensors concatenated in order:
  OUTDIR/inputs.f32       initial values, then the gradients of step 0..9
  OUTDIR/<case>.f32       the values after step 1..10
  OUTDIR/cases.txt        one line per case:
      name kind lr momentum weight_decay beta1 beta2 eps mu lr_at_5
  (lr_at_5: the learning rate set before step 6, 0 for none; schedules
  set param_groups[0]["lr"].)
"""
import os
import sys

import numpy as np
import torch

SIZES = [(1,), (7,), (5, 3), (33,), (1029,)]
STEPS = 10


def f32(x):
    return float(np.float32(x))


# name, kind, lr, momentum, weight_decay, beta1, beta2, eps, mu, lr_at_5
CASES = [
    ("sgd", "sgd", 0.05, 0.0, 0.0, 0, 0, 0, 0.0, 0),
    ("sgd_wd", "sgd", 0.05, 0.0, 1e-2, 0, 0, 0, 0.0, 0),
    ("sgd_mom", "sgd", 0.05, 0.9, 0.0, 0, 0, 0, 0.0, 0),
    ("sgd_mom_wd", "sgd", 0.05, 0.9, 1e-2, 0, 0, 0, 0.0, 0),
    ("adam", "adam", 0.01, 0, 0.0, 0.9, 0.999, 1e-8, 0.0, 0),
    ("adam_wd", "adam", 0.01, 0, 1e-2, 0.9, 0.999, 1e-8, 0.0, 0),
    ("sgd_prox", "sgd", 0.05, 0.0, 0.0, 0, 0, 0, 0.1, 0),
    ("sgd_mom_wd_prox", "sgd", 0.05, 0.9, 1e-2, 0, 0, 0, 0.1, 0),
    ("adam_prox", "adam", 0.01, 0, 0.0, 0.9, 0.999, 1e-8, 0.1, 0),
    ("adam_wd_prox", "adam", 0.01, 0, 1e-2, 0.9, 0.999, 1e-8, 0.1, 0),
    ("adam_sched", "adam", 0.01, 0, 0.0, 0.8, 0.99, 1e-6, 0.0, 0.003),
    ("sgd_sched", "sgd", 0.05, 0.5, 0.0, 0, 0, 0, 0.0, 0.02),
]


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(20240601)
    init = [rng.standard_normal(s).astype(np.float32) for s in SIZES]
    grads = [[(rng.standard_normal(s) * 0.5 + 0.1).astype(np.float32)
              for s in SIZES] for _ in range(STEPS)]
    with open(os.path.join(out, "inputs.f32"), "wb") as f:
        for t in init:
            f.write(t.astype("<f4").tobytes())
        for step in grads:
            for g in step:
                f.write(g.astype("<f4").tobytes())

    lines = []
    for (name, kind, lr, mom, wd, b1, b2, eps, mu, lr5) in CASES:
        lr, mom, wd, b1, b2, eps, mu, lr5 = map(
            f32, (lr, mom, wd, b1, b2, eps, mu, lr5))
        params = [torch.nn.Parameter(torch.from_numpy(t.copy()))
                  for t in init]
        anchor = [torch.from_numpy(t.copy()) for t in init]
        if kind == "sgd":
            opt = torch.optim.SGD(params, lr=lr, momentum=mom,
                                  weight_decay=wd)
        else:
            opt = torch.optim.Adam(params, lr=lr, betas=(b1, b2), eps=eps,
                                   weight_decay=wd)
        traj = []
        for s in range(STEPS):
            if s == 5 and lr5:
                opt.param_groups[0]["lr"] = lr5
            for p, g, a in zip(params, grads[s], anchor):
                p.grad = torch.from_numpy(g.copy())
                if mu:
                    p.grad += mu * (p.detach() - a)
            opt.step()
            for p in params:
                traj.append(p.detach().numpy().astype("<f4").tobytes())
        with open(os.path.join(out, name + ".f32"), "wb") as f:
            f.write(b"".join(traj))
        lines.append(" ".join([name, kind] + [repr(v) for v in
                     (lr, mom, wd, b1, b2, eps, mu, lr5)]))
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
