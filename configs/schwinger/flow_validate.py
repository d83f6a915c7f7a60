#!/usr/bin/env python3
"""The flows-against-HMC table of docs/schwinger.md.

Reads what configs/schwinger/flow_validate.sh wrote (flow_<point>.analyze.json
from `flowgen analyze FLOW --validate HMC --json`, flow_<point>.compare.json
from `flowgen compare`, <hmc>.analyze.json) and prints, as markdown:

  * per point (beta, kappa): flow against HMC on the plaquette, <Q^2>, C(t)
    and a M_pi (kappa > 0), with pulls (a - b) / sqrt(da^2 + db^2), and at
    kappa = 0 the exact finite-volume values (validate.py);
  * ESS_model against ESS_target (eq. A8 on the HMC configurations) and
    flowgen's verdict (consistent / mode collapse suspected);
  * tau_int of Q for both chains, acceptance, seconds per configuration and
    effective samples per second (slowest observable) of both.

Usage: flow_validate.py RESULTS_DIR
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from validate import exact_pure_gauge  # noqa: E402

POINTS = [("b2_k0", 2.0, 0.0, "hmc_b2_k0"), ("b2_k0.25", 2.0, 0.25, "hmc_b2_k0.25_pf"),
          ("b2_k0.263", 2.0, 0.263, "hmc_b2_k0.263_pf"), ("b4_k0", 4.0, 0.0, "hmc_b4_k0")]


def load(d, name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) else None


def fmt(m, e):
    digits = max(0, 2 - int(math.floor(math.log10(e)))) if e > 0 else 4
    return "%.*f +- %.*f" % (digits, m, digits, e)


def main(d):
    rows, summary = [], []
    worst = 0.0
    for name, beta, kappa, hmc in POINTS:
        fl = load(d, "flow_%s.analyze.json" % name)
        hm = load(d, "%s.analyze.json" % hmc)
        cmp_ = load(d, "flow_%s.compare.json" % name)
        if fl is None or hm is None or cmp_ is None:
            continue
        exact = exact_pure_gauge(beta, 64) if kappa == 0 else None
        names = ["plaq", "q2"] + (["C_1", "C_2", "C_4", "m_pi"] if kappa > 0 else [])
        for o in names:
            a, b = fl["observables"].get(o), hm["observables"].get(o)
            if a is None or b is None:
                continue
            pull = (a["mean"] - b["mean"]) / math.hypot(a["err"], b["err"])
            worst = max(worst, abs(pull))
            ex = ""
            if exact is not None and o in ("plaq", "q2"):
                x = exact[0] if o == "plaq" else exact[1]
                ex = "%.5f (flow %+.2f)" % (x, (a["mean"] - x) / a["err"])
            rows.append("| %g | %g | %s | %s | %s | %+.2f | %s |" % (
                beta, kappa, o, fmt(a["mean"], a["err"]), fmt(b["mean"], b["err"]), pull, ex))
        v = fl.get("validation", {})
        f, h = cmp_["flow"], cmp_["hmc"]
        verdict = "MODE COLLAPSE suspected" if v.get("mode_collapse") else (
            "disagree" if v.get("disagree") else "consistent")
        summary.append("| %g | %g | %d | %.3f | %s | %s | %s | %.1f | %.1f | %.2e | %.2e | %.0f | %.0f | %.2f |" % (
            beta, kappa, f["n_chain"], f["acceptance"], fmt(v.get("ess_model", float("nan")), v.get("ess_model_err", 0)),
            fmt(v.get("ess_target", float("nan")), v.get("ess_target_err", 0)), verdict,
            f["tau_int"]["q"], h["tau_int"]["q"], f["samp_s_per_config"], h["samp_s_per_config"],
            f["effective_per_s"], h["effective_per_s"], cmp_["ratio"]["effective_per_s"]))
    print("**Observables: flow ensembles (independence Metropolis, 20000 proposals) against HMC**\n")
    print("| beta | kappa | observable | flow | HMC | pull | exact (flow's pull) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print("\nLargest |pull| flow against HMC: %.2f\n" % worst)
    print("**ESS, topology and cost**\n")
    print("| beta | kappa | proposals | acceptance | ESS_model | ESS_target | verdict | tau_int Q flow | tau_int Q HMC | s/config flow | s/config HMC | eff/s flow | eff/s HMC | flow/HMC |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(summary))


if __name__ == "__main__":
    main(sys.argv[1])
