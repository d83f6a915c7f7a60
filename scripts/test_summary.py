#!/usr/bin/env python3
"""Sums the Check results of a meson test log into one line: N passed, N failed.

A test binary that printed no Check summary counts as one check, passed or
failed by its exit status. Exits 1 if anything failed."""
import json
import re
import sys

passed = failed = 0
pattern = re.compile(r"(\d+)%: Checks: (\d+), Failures: (\d+), Errors: (\d+)")
with open(sys.argv[1]) as log:
    for line in log:
        test = json.loads(line)
        ok = test.get("result") == "OK"
        found = pattern.findall(test.get("stdout", "") + test.get("stderr", ""))
        if found:
            checks = sum(int(c) for _, c, _, _ in found)
            bad = sum(int(f) + int(e) for _, _, f, e in found)
            passed += checks - bad
            failed += bad
            if not ok and bad == 0:  # crashed or leaked after its checks passed
                failed += 1
        elif ok:
            passed += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
