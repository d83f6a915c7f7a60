"""scan_md.py -- scan.csv of configs/fig6/scan.sh as the Markdown table of docs/fig6.md.

usage: python3 configs/fig6/scan_md.py out/fig6/L16/scan.csv

Columns: architecture, lambda, HMC's xi2, the flow's acceptance, ESS_model
(A7) and ESS_target (A8) with errors and the mode-collapse flag, the
slowest observable's tau_int and the effective samples per second (one
core) of flow and HMC, their ratio, the cumulative training seconds, the
break-even ensemble size and the largest flow-HMC pull of <|m|>, chi2, xi2
(flagged when above 4).
"""
import csv
import sys


def g(x, fmt="{:.3g}"):
    try:
        return fmt.format(float(x))
    except ValueError:
        return "-"


def err(v, e):
    return f"{g(v)}({g(e, '{:.1g}')})"


rows = list(csv.DictReader(open(sys.argv[1])))
print("| arch | lambda | xi2 (HMC) | flow acc. | ESS model | ESS target | collapse | flow tau_int (slowest) "
      "| flow eff/s | HMC tau_int (slowest) | HMC eff/s | flow/HMC | training s (cum.) "
      "| break-even N | max pull |")
print("| --- " * 15 + "|")
for r in rows:
    pull = float(r["max_pull"])
    print(f"| {r['arch']} | {r['lambda']} | {err(r['xi2_hmc'], r['xi2_hmc_err'])} "
          f"| {g(r['flow_acceptance'])} | {err(r['ess_model'], r['ess_model_err'])} "
          f"| {err(r['ess_target'], r['ess_target_err'])} | {'yes' if r['mode_collapse'] == '1' else 'no'} "
          f"| {g(r['flow_tau_int_max'], '{:.0f}')} ({r['flow_slowest']}) | {g(r['flow_effective_per_s'])} "
          f"| {g(r['hmc_tau_int_max'], '{:.0f}')} ({r['hmc_slowest']}) | {g(r['hmc_effective_per_s'])} "
          f"| **{g(r['ratio'], '{:.2g}')}** | {g(r['setup_cum_s'], '{:.0f}')} "
          f"| {g(r['breakeven_n'], '{:.2g}')} | {pull:+.1f}{' (!)' if abs(pull) > 4 else ''} |")
