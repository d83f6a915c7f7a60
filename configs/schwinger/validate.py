#!/usr/bin/env python3
"""The Schwinger-model validation table of docs/schwinger.md.

Reads the `flowgen analyze --json` results of the HMC ensembles made by
configs/schwinger/validate.sh and prints, as markdown:

  * pure gauge (kappa = 0), 8x8, beta = 2, 4 and 6: the plaquette and <Q^2>
    against the exact finite-volume values of periodic 2D U(1) (character
    expansion, computed here), with the tau_int of Q^2;
  * two flavours, 8x8, beta = 2, kappa = 0.25 and 0.263: pseudofermion HMC
    against exact-determinant HMC on the plaquette, <Q^2>, C(t) and a M_pi.

The pull column is (a - b) / sqrt(da^2 + db^2); |pull| < 4 is agreement.

Exact pure-gauge values (V plaquettes, periodic lattice):
  Z = sum_n I_n(beta)^V,  <cos p> = sum_n I_n^(V-1) I_n'(beta) / Z,
  <Q^2> = V sum_n I_n^(V-1) M_n / Z,
  M_n = (1/2pi) int_-pi^pi exp(beta cos p) (p / 2pi)^2 cos(n p) dp,
with I_n(beta) = (1/2pi) int exp(beta cos p) cos(n p) dp (Simpson's rule on
a fine grid; the integrands are smooth and periodic, so it converges fast).

Usage: validate.py RESULTS_DIR   (holds <config name>.analyze.json)
"""
import json
import math
import os
import sys

import numpy as np


def exact_pure_gauge(beta, volume, nmax=40, points=20001):
    p = np.linspace(-math.pi, math.pi, points)
    w = np.ones(points)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    w *= (p[1] - p[0]) / 3.0 / (2.0 * math.pi)
    e = np.exp(beta * (np.cos(p) - 1.0))  # exp(-beta) scales every I_n alike
    z = dz = q2 = 0.0
    for n in range(-nmax, nmax + 1):
        c = np.cos(n * p)
        i_n = float(np.sum(w * e * c))
        di_n = float(np.sum(w * e * c * np.cos(p)))  # I_n' = (I_(n-1) + I_(n+1)) / 2
        m_n = float(np.sum(w * e * c * (p / (2.0 * math.pi)) ** 2))
        z += i_n ** volume
        dz += i_n ** (volume - 1) * di_n
        q2 += volume * i_n ** (volume - 1) * m_n
    return dz / z, q2 / z


def load(results, name):
    path = os.path.join(results, name + ".analyze.json")
    with open(path) as f:
        return json.load(f)


def obs(r, name):
    o = r["observables"][name]
    return o["mean"], o["err"], o["tau_int"]


def fmt(v, e):
    digits = max(1, min(6, 1 - int(math.floor(math.log10(e))) if e > 0 else 4))
    return f"{v:.{digits}f} +- {e:.{digits}f}"


def main():
    results = sys.argv[1]
    print("Pure gauge (kappa = 0), 8x8, periodic: HMC against the exact values\n")
    print("| beta | observable | HMC | exact | pull | tau_int | trajectories |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for beta in (2, 4, 6):
        r = load(results, f"hmc_b{beta}_k0")
        plaq_x, q2_x = exact_pure_gauge(float(beta), 64)
        for name, exact in (("plaq", plaq_x), ("q2", q2_x)):
            m, e, tau = obs(r, name)
            print(f"| {beta} | {name} | {fmt(m, e)} | {exact:.5f} | {(m - exact) / e:+.2f} | "
                  f"{tau:.1f} | {r['n_configs']} |")
    print("\nTwo flavours, 8x8, beta = 2: pseudofermion HMC against exact-determinant HMC\n")
    print("| kappa | observable | pseudofermion HMC | exact-determinant HMC | pull | "
          "tau_int (pf, exact) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kappa in ("0.25", "0.263"):
        a = load(results, f"hmc_b2_k{kappa}_pf")
        b = load(results, f"hmc_b2_k{kappa}_exact")
        for name in ("plaq", "q2", "C_1", "C_2", "C_4", "m_pi"):
            ma, ea, ta = obs(a, name)
            mb, eb, tb = obs(b, name)
            pull = (ma - mb) / math.hypot(ea, eb)
            print(f"| {kappa} | {name} | {fmt(ma, ea)} | {fmt(mb, eb)} | {pull:+.2f} | "
                  f"{ta:.1f}, {tb:.1f} |")
        print(f"| {kappa} | trajectories | {a['n_configs']} | {b['n_configs']} | | |")


if __name__ == "__main__":
    main()
