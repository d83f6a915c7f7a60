"""fig7.py -- the table of scripts/experiments/fig7.sh, as CSV on stdout.

For each out/fig7/<kappa>/L<L>.h5 (a flow ensemble of flowgen sample) the
model-sample ESS (eq. A7) of its proposals, w = exp(-S - log q),
ESS = (sum w)^2 / (N sum w^2), with a bootstrap error (200 resamples, fixed
seed); the extrapolation ESS(8)^(V/64) of the seed's eq. 8 from the L = 8
point, with its error propagated; the floor 1/N; and from `flowgen analyze
--json` (L<L>.json) the chain's acceptance and a M_pi and plaquette with
their Gamma-method errors (empty where the analysis has none).
usage: /usr/bin/python3 fig7.py out/fig7
"""
import json
import os
import sys

import h5py
import numpy as np


def ess_of(logw):
    w = np.exp(logw - logw.max())
    return w.sum() ** 2 / (len(w) * (w * w).sum())


def main(top):
    rng = np.random.default_rng(7)
    print("kappa,L,proposals,ess,ess_err,ess_extrap,ess_extrap_err,floor,acceptance,"
          "m_pi,m_pi_err,plaq,plaq_err")
    for kappa in ("0", "0.25", "0.263"):
        d = os.path.join(top, kappa)
        if not os.path.isdir(d):
            continue
        e8 = de8 = None
        for L in (8, 12, 16, 20, 24):
            h5 = os.path.join(d, "L%d.h5" % L)
            js = os.path.join(d, "L%d.json" % L)
            if not (os.path.exists(h5) and os.path.exists(js)):
                continue
            with h5py.File(h5, "r") as f:
                logw = -f["proposals/action"][...] - f["proposals/logq"][...]
            n = len(logw)
            ess = ess_of(logw)
            boot = [ess_of(logw[rng.integers(0, n, n)]) for _ in range(200)]
            err = float(np.std(boot))
            if L == 8:
                e8, de8 = ess, err
            r = (L * L) / 64.0
            ext = e8 ** r if e8 else float("nan")
            dext = r * e8 ** (r - 1) * de8 if e8 else float("nan")
            a = json.load(open(js))
            obs = a.get("observables", {})

            def me(k):
                o = obs.get(k)
                if o is None or o.get("mean") is None:
                    return "", ""
                return "%.6g" % o["mean"], "%.3g" % o["err"] if o.get("err") is not None else ""
            mp, dmp = me("m_pi")
            pl, dpl = me("plaq")
            print("%s,%d,%d,%.6g,%.3g,%.6g,%.3g,%.6g,%.4f,%s,%s,%s,%s" % (
                kappa, L, n, ess, err, ext, dext, 1.0 / n, a.get("acceptance", float("nan")),
                mp, dmp, pl, dpl))


if __name__ == "__main__":
    main(sys.argv[1])
