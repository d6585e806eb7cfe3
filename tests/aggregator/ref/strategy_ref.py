#!/usr/bin/python3
"""Reference server steps of the aggregation strategies, in numpy.

Written from the papers, not from radfed's code:
  fedavg   McMahan et al. 2017: w <- w + eta * mean_k(n_k delta_k) / N
  fedavgm  Hsu et al. 2019, "Measuring the effects of non-identical data
           distribution": v <- beta v + d; w <- w + eta v
  fedadam  Reddi et al. 2021, "Adaptive Federated Optimization", Alg. 2:
           m <- b1 m + (1-b1) d; v <- b2 v + (1-b2) d^2;
           w <- w + eta m / (sqrt(v) + tau); m_{-1} = 0, v_{-1} = tau^2
  fedyogi  same, v <- v - (1-b2) d^2 sign(v - d^2)
  fedprox  Li et al. 2020: the server step is fedavg's
where d is the sample-weighted average of the sites' deltas, computed here
from the per-site deltas (the C side only ever sees their weighted sum).

Storage: the global weights and the state vectors are float32 (model files
and state files hold float32); each step is computed in float64 from the
stored values and rounded to float32 when stored, as any float32 model
store must.

Usage: strategy_ref.py IN OUT
IN (text):  "len L", "w0 x...", "counts R n_1 ... n_S" per round,
            "delta R K x..." per round and site,
            "run LABEL STRATEGY [key=value ...]" per run
OUT (text): "avg R x..." per round, "w LABEL R x..." per run and round
"""
import sys

import numpy as np

DEFAULTS = {
    "fedavg": {"eta": 1.0},
    "fedprox": {"eta": 1.0, "mu": 0.01},
    "fedavgm": {"eta": 1.0, "momentum": 0.9},
    "fedadam": {"eta": 1e-2, "beta_1": 0.9, "beta_2": 0.99, "tau": 1e-3},
    "fedyogi": {"eta": 1e-2, "beta_1": 0.9, "beta_2": 0.99, "tau": 1e-3},
}


def f32(x):
    return np.asarray(x, dtype=np.float32)


def main(inp, outp):
    counts, deltas, runs = {}, {}, []
    w0 = None
    with open(inp) as f:
        for line in f:
            t = line.split()
            if not t:
                continue
            if t[0] == "w0":
                w0 = f32([float(x) for x in t[1:]])
            elif t[0] == "counts":
                counts[int(t[1])] = [int(x) for x in t[2:]]
            elif t[0] == "delta":
                deltas[(int(t[1]), int(t[2]))] = f32([float(x)
                                                     for x in t[3:]])
            elif t[0] == "run":
                hp = dict(DEFAULTS[t[2]])
                for kv in t[3:]:
                    k, v = kv.split("=")
                    assert k in hp, k
                    hp[k] = float(v)
                runs.append((t[1], t[2], hp))
    rounds = sorted(counts)
    avg = {}
    out = []
    for r in rounds:
        n = np.array(counts[r], dtype=np.float64)
        d = np.stack([deltas[(r, k)].astype(np.float64)
                      for k in range(len(n))])
        # the weighted mean from the per-site deltas
        mean = (n[:, None] * d).sum(axis=0) / n.sum()
        avg[r] = f32(mean)
        out.append("avg %d %s" % (r, " ".join("%.9g" % x for x in avg[r])))
    for label, strat, hp in runs:
        w = w0.copy()
        m = f32(np.zeros_like(w0))
        if strat in ("fedadam", "fedyogi"):
            v = f32(np.full_like(w0, hp["tau"] ** 2))
        else:
            v = f32(np.zeros_like(w0))
        for r in rounds:
            d = avg[r].astype(np.float64)
            if strat in ("fedavg", "fedprox"):
                w = f32(w.astype(np.float64) + hp["eta"] * d)
            elif strat == "fedavgm":
                v64 = hp["momentum"] * v.astype(np.float64) + d
                v = f32(v64)
                w = f32(w.astype(np.float64) + hp["eta"] * v64)
            else:
                b1, b2 = hp["beta_1"], hp["beta_2"]
                m64 = b1 * m.astype(np.float64) + (1 - b1) * d
                vo = v.astype(np.float64)
                if strat == "fedadam":
                    v64 = b2 * vo + (1 - b2) * d * d
                else:
                    v64 = vo - (1 - b2) * d * d * np.sign(vo - d * d)
                m, v = f32(m64), f32(v64)
                w = f32(w.astype(np.float64) +
                        hp["eta"] * m64 / (np.sqrt(v64) + hp["tau"]))
            out.append("w %s %d %s" % (label, r,
                                        " ".join("%.9g" % x for x in w)))
    with open(outp, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
