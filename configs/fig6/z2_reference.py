#!/usr/bin/env python3
"""The Z2-symmetric HMC reference of docs/fig6.md for the broken phase.

Deep in the broken phase (lambda = 0.9 at L = 16, m2 = -4) HMC does not
change the sign of the magnetisation in 10^5 trajectories: its ensemble
samples one sector, and its connected susceptibility V(<m^2> - <m>^2)
(flowgen's chi2, and xi2, which is computed from it) misses the sign
fluctuations that the exact distribution has. phi -> -phi is an exact
symmetry of the action, so counting every HMC configuration together with
its mirror image gives a sample of the symmetric distribution, where
<m> = 0 and

  <|m|>  unchanged,
  chi2 = V <m^2> = <G~(0)>,
  xi2  = (<G~(0)> / <G~(p_min)> - 1) / (4 sin^2(pi / L)),

G~(p) = |sum_x phi(x) exp(i p x)|^2 / V, G~(p_min) averaged over the two
directions (both even in phi: the mirror images change nothing but <m>).
Errors: jackknife over 100 consecutive blocks of the chain (blocks of
1000 trajectories, far longer than the within-sector tau_int of ~16).

The flow's values are read from `flowgen analyze --json` results (a z2
flow's chain samples both signs, so its connected chi2 is V<m^2> up to
V<m>^2, which is zero within its error).

Usage: z2_reference.py HMC.h5 [NAME=FLOW_ANALYZE.json ...]
Prints a markdown table: the symmetric HMC reference and, per flow, its
value and the pull (flow - HMC) / sqrt(err_flow^2 + err_HMC^2).
"""
import json
import math
import sys

import h5py
import numpy as np

BLOCKS = 100


def per_config(path):
    """|m|, G~(0) and G~(p_min) of every chain element ([n, 1, L, L]
    configurations; the chain's index says which one each element is)."""
    with h5py.File(path, "r") as f:
        index = f["chain/index"][:]
        configs = f["configs"]
        n, _, l0, l1 = configs.shape
        if l0 != l1:
            sys.exit("z2_reference.py: %s: a square lattice is needed" % path)
        vol = l0 * l1
        absm, g0, gp = np.empty(n), np.empty(n), np.empty(n)
        for a in range(0, n, 4096):
            phi = configs[a:a + 4096, 0, :, :]
            ft = np.fft.fft2(phi)
            absm[a:a + 4096] = np.abs(phi.sum(axis=(1, 2))) / vol
            g0[a:a + 4096] = np.abs(ft[:, 0, 0]) ** 2 / vol
            gp[a:a + 4096] = 0.5 * (np.abs(ft[:, 1, 0]) ** 2 + np.abs(ft[:, 0, 1]) ** 2) / vol
    return absm[index], g0[index], gp[index], l0


def jackknife(columns, estimator):
    """estimator(means of the columns) with its blocked jackknife error."""
    n = len(columns[0]) // BLOCKS * BLOCKS
    blocks = [c[:n].reshape(BLOCKS, -1).mean(axis=1) for c in columns]
    total = [b.mean() for b in blocks]
    full = estimator(*total)
    loo = np.array([estimator(*[(t * BLOCKS - b[k]) / (BLOCKS - 1) for t, b in zip(total, blocks)])
                    for k in range(BLOCKS)])
    err = math.sqrt((BLOCKS - 1) * np.mean((loo - loo.mean()) ** 2))
    return full, err


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    absm, g0, gp, size = per_config(sys.argv[1])
    s2 = 4.0 * math.sin(math.pi / size) ** 2
    ref = {
        "abs_m": jackknife([absm], lambda a: a),
        "chi2": jackknife([g0], lambda a: a),
        "xi2": jackknife([g0, gp], lambda a, b: (a / b - 1.0) / s2),
    }
    names = ["abs_m", "chi2", "xi2"]
    print("| ensemble | <abs m> | chi2 = V<m^2> | xi2 | max pull |")
    print("| --- | --- | --- | --- | --- |")
    print("| HMC, mirrored (%d configurations) | %s | |" % (
        len(absm), " | ".join("%.5g(%.2g)" % ref[k] for k in names)))
    for arg in sys.argv[2:]:
        name, _, path = arg.partition("=")
        with open(path) as f:
            obs = json.load(f)["observables"]
        cells, worst = [], 0.0
        for k in names:
            v, e = obs[k]["mean"], obs[k]["err"]
            pull = (v - ref[k][0]) / math.sqrt(e * e + ref[k][1] ** 2)
            worst = pull if abs(pull) > abs(worst) else worst
            cells.append("%.5g(%.2g): %+.1f" % (v, e, pull))
        print("| %s | %s | %+.1f%s |" % (name, " | ".join(cells), worst,
                                         " (!)" if abs(worst) > 4 else ""))


if __name__ == "__main__":
    main()
