"""scan_table.py -- the CSV of configs/fig6/scan.sh from the JSON of its stages.

usage: python3 scan_table.py OUT START "UP..." "DOWN..." > scan.csv

One row per architecture and lambda (lambda ascending). setup_cum_s is the
training time along the transfer chain from START (what the model at this
lambda cost in all); breakeven_n the ensemble size (effective samples) from
which the flow, its cumulative training included, is cheaper than HMC
(empty when HMC's rate is higher). pull_<obs> = (flow - HMC) / combined
error for <|m|>, chi2 and xi2; max_pull the largest in magnitude.
"""
import json
import math
import os
import sys

out, start = sys.argv[1], sys.argv[2]
up, down = sys.argv[3].split(), sys.argv[4].split()
chain = {start: None}
for seq in (up, down):
    prev = start
    for lam in seq:
        chain[lam] = prev
        prev = lam


def load(path):
    with open(path) as f:
        return json.load(f)


cols = ["L", "arch", "kernel", "layers", "lambda", "setup_s", "setup_cum_s", "flow_acceptance",
        "ess_model", "ess_model_err", "ess_target", "ess_target_err", "mode_collapse",
        "flow_tau_int_max", "flow_slowest", "flow_s_per_config", "flow_effective_per_s",
        "hmc_acceptance", "hmc_tau_int_max", "hmc_slowest", "hmc_s_per_config",
        "hmc_effective_per_s", "ratio", "breakeven_n", "xi2_hmc", "xi2_hmc_err",
        "abs_m_hmc", "abs_m_hmc_err", "pull_abs_m", "pull_chi2", "pull_xi2", "max_pull"]
print(",".join(cols))
L = os.path.basename(out.rstrip("/"))[1:].split("-")[0]
archs = sorted(a for a in os.listdir(out) if "x" in a and os.path.isdir(f"{out}/{a}"))
for arch in archs:
    k, nl = arch.split("-")[0].split("x")
    rows, setup = [], {}
    for lam in sorted(chain, key=float):
        d, h = f"{out}/{arch}/lambda_{lam}", f"{out}/hmc/lambda_{lam}"
        need = [f"{d}/compare.json", f"{d}/validate.json", f"{d}/analyze.json", f"{h}/analyze.json"]
        if all(os.path.exists(p) for p in need):
            rows.append((lam, need))
            setup[lam] = load(need[0])["flow"]["setup_s"]
    for lam, need in rows:
        c, v = load(need[0]), load(need[1])["validation"]
        fo, ho = load(need[2])["observables"], load(need[3])["observables"]
        f, m = c["flow"], c["hmc"]
        cum, p = 0.0, lam
        while p is not None:
            cum += setup.get(p, math.nan)
            p = chain[p]
        pulls = {}
        for o in ("abs_m", "chi2", "xi2"):
            a, b = fo[o], ho[o]
            e = math.hypot(a["err"], b["err"])
            pulls[o] = (a["mean"] - b["mean"]) / e if e > 0 else math.nan
        fe, he = f["effective_per_s"], m["effective_per_s"]
        brk = cum / (1.0 / he - 1.0 / fe) if fe > he and math.isfinite(cum) else None
        row = [L, arch, k, nl, lam, f["setup_s"], cum, f["acceptance"], v["ess_model"],
               v["ess_model_err"], v["ess_target"], v["ess_target_err"], int(v["mode_collapse"]),
               0.5 / f["ess_per_step"], f["slowest"], f["samp_s_per_config"], fe,
               m["acceptance"], 0.5 / m["ess_per_step"], m["slowest"], m["samp_s_per_config"], he,
               c["ratio"]["effective_per_s"], brk, ho["xi2"]["mean"], ho["xi2"]["err"],
               ho["abs_m"]["mean"], ho["abs_m"]["err"], pulls["abs_m"], pulls["chi2"],
               pulls["xi2"], max(pulls.values(), key=abs)]
        print(",".join("" if x is None else (f"{x:.6g}" if isinstance(x, float) else str(x))
                       for x in row))
