#!/usr/bin/env bash
# The Schwinger model through the program, as a user runs it: hmc (two
# flavours and pure gauge) -> analyze -> verify -> info, train and sample
# with the gauge flow (also with rectangle inputs and the spline circle
# map), and a real-field flow
# base refused by key. Prints a Check-style summary line.
#   schwinger.sh FLOWGEN
set -uo pipefail
fg=$1
work=$(mktemp -d -t flowgen-schwinger.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1
checks=0 failures=0
check() {
  checks=$((checks + 1))
  if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1"; failures=$((failures + 1)); fi
}
has() { grep -q -- "$2" "$1"; }
cat > "$work/two.yaml" <<'YAML'
seed: 3
theory: {name: schwinger, lattice: [4, 4], beta: 2.0, kappa: 0.2}
model: {coupling_layers: 2, kernel_size: 3, hidden_channels: [4]}
train: {steps: 5, batch_size: 4, checkpoint: m.h5}
sample: {model: m.h5, proposals: 40, batch_size: 16, output: flow.h5}
hmc: {trajectories: 60, thermalization: 10, md_steps: 6, integrator: omelyan, output: two.h5}
YAML
sed -e 's/kappa: 0.2/kappa: 0/' -e 's/two.h5/pure.h5/' "$work/two.yaml" > "$work/pure.yaml"

"$fg" hmc "$work/two.yaml" --json > "$work/hmc.json" 2> "$work/hmc.err"
check "two flavours: hmc runs" test $? -eq 0
check "the --json result counts the pseudofermion CG solves" /usr/bin/python3 - "$work/hmc.json" <<'PY'
import sys, json
s = json.load(open(sys.argv[1]))["streams"][0]
assert s["cg_solves"] > 0 and s["cg_iterations"] >= s["cg_solves"], s
assert abs(s["cg_iterations_per_solve"] - s["cg_iterations"] / s["cg_solves"]) < 0.01, s
assert 0 < s["cg_iterations_per_solve"] <= s["cg_max_iterations"], s
PY
check "the progress line shows CG iterations per solve" has "$work/hmc.err" "it/solve"
check "kappa 0.2 gives no massless-point warning" bash -c "! grep -q warning '$work/hmc.err'"
check "analyze gives plaq, q2, the pion correlator and m_pi" \
  bash -c "'$fg' analyze '$work/two.h5' --json > '$work/an.json' && grep -q '\"plaq\"' '$work/an.json' && grep -q '\"q2\"' '$work/an.json' && grep -q '\"C_2\"' '$work/an.json' && grep -q '\"m_pi\"' '$work/an.json'"
check "the stored configurations are angles in (-pi, pi] and Q is an integer" \
  /usr/bin/python3 - "$work/two.h5" <<'PY'
import sys, math, h5py, numpy as np
f = h5py.File(sys.argv[1], "r"); c = f["configs"][()]
assert c.shape == (60, 2, 4, 4), c.shape
assert (c > -math.pi).all() and (c <= math.pi).all()
t0, t1 = c[:, 0], c[:, 1]
p = t0 + np.roll(t1, -1, axis=1) - np.roll(t0, -1, axis=2) - t1
q = np.angle(np.exp(1j * p)).sum(axis=(1, 2)) / (2 * math.pi)
assert np.abs(q - np.round(q)).max() < 1e-9
assert f.attrs["theory"] in ("schwinger", b"schwinger")
PY
check "verify recomputes every action (the exact determinant)" "$fg" verify "$work/two.h5"
check "info names the theory and its couplings" \
  bash -c "'$fg' info '$work/two.h5' > '$work/info.txt' && grep -q schwinger '$work/info.txt' && grep -q kappa '$work/info.txt'"
check "pure gauge (kappa 0): hmc runs" "$fg" hmc "$work/pure.yaml" > /dev/null 2>&1
check "pure gauge: analyze has plaq but no pion" \
  bash -c "'$fg' analyze '$work/pure.h5' --json > '$work/pure.json' && grep -q '\"plaq\"' '$work/pure.json' && ! grep -q m_pi '$work/pure.json'"
sed -e 's/trajectories: 60,/trajectories: 3000,/' -e 's/two.h5/long.h5/' "$work/two.yaml" > "$work/long.yaml"
sed -e 's/long.h5/stop.h5/' "$work/long.yaml" > "$work/stop.yaml"
"$fg" hmc "$work/long.yaml" > /dev/null 2>&1
timeout -s TERM 1 "$fg" hmc "$work/stop.yaml" > /dev/null 2>&1
[ -f "$work/stop.h5.tmp" ] || echo "note: the stopped run finished before the signal"
"$fg" hmc "$work/stop.yaml" --resume > /dev/null 2>&1 || [ -f "$work/stop.h5" ]
check "a stopped two-flavour HMC resumed equals the uninterrupted run" \
  /usr/bin/python3 - "$work/long.h5" "$work/stop.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for d in ("configs", "proposals/action", "chain/accepted"):
    assert np.array_equal(a[d][()], b[d][()]), d
PY
sed -e 's/kappa: 0.2/kappa: 0.263/' -e 's/two.h5/exact.h5/' \
  -e 's/integrator: omelyan,/integrator: omelyan, fermions: exact_determinant,/' \
  "$work/two.yaml" > "$work/exact.yaml"
check "exact-determinant HMC runs (hmc.fermions), without CG" bash -c \
  "'$fg' hmc '$work/exact.yaml' --json > '$work/exact.json' 2> '$work/exact.err' && ! grep -q cg_solves '$work/exact.json'"
check "kappa 0.263 warns of the massless point" has "$work/exact.err" "warning: .*theory.kappa = 0.263"
check "the exact-determinant ensemble verifies" "$fg" verify "$work/exact.h5"
sed -e 's/beta: 2.0,/beta: 2.0, fermion_bc: [periodic],/' -e 's/two.h5/bc.h5/' "$work/two.yaml" > "$work/bc.yaml"
"$fg" hmc "$work/bc.yaml" > /dev/null 2> "$work/bc.err"
check "a fermion_bc with one entry is refused with exit 2 naming the key" \
  bash -c "[ $? -eq 2 ] && grep -q 'bc.yaml:2: theory.fermion_bc' '$work/bc.err'"
check "train runs on the Schwinger model (Haar base, gauge layers, exact determinant)" \
  bash -c "'$fg' train '$work/two.yaml' > /dev/null 2> '$work/train.err' && '$fg' info '$work/m.h5' | grep -q 'base  *haar'"
check "sample draws a flow ensemble of link angles from it" \
  bash -c "'$fg' sample '$work/two.yaml' > /dev/null 2> '$work/sample.err' && '$fg' verify '$work/flow.h5' > /dev/null 2>&1"
check "the flow ensemble holds [40, 2, 4, 4] angles in (-pi, pi]" \
  /usr/bin/python3 - "$work/flow.h5" <<'PY'
import sys, math, h5py
c = h5py.File(sys.argv[1], "r")["configs"][()]
assert c.shape == (40, 2, 4, 4), c.shape
assert (c > -math.pi).all() and (c <= math.pi).all()
PY
sed -e 's/lattice: \[4, 4\]/lattice: [8, 8]/' -e 's/flow.h5/flow8.h5/' -e '/^hmc:/d' \
  -e 's/^train: {/train: {init_from: m.h5, /' -e 's/checkpoint: m.h5/checkpoint: m8.h5/' \
  "$work/two.yaml" > "$work/vol8.yaml"
check "volume transfer: the 4x4 model samples an 8x8 ensemble without retraining" bash -c \
  "'$fg' sample '$work/vol8.yaml' > /dev/null 2>&1 && '$fg' verify '$work/flow8.h5' > /dev/null 2>&1 && /usr/bin/python3 -c \"import h5py; assert h5py.File('$work/flow8.h5', 'r')['configs'].shape == (40, 2, 8, 8)\""
check "volume transfer: training on 8x8 starts from the 4x4 model (train.init_from)" bash -c \
  "'$fg' train '$work/vol8.yaml' > /dev/null 2>&1 && '$fg' info '$work/m8.h5' | grep -q '^ *lattice  *8 x 8'"
sed -e 's/batch_size: 4,/batch_size: 2,/' -e 's/m.h5/m2.h5/g' -e '/^hmc:/d' "$work/two.yaml" > "$work/two2.yaml"
check "train on 2 ranks of batch 2 agrees with 1 rank of batch 4 (as test_train_mpi: 1e-4)" \
  bash -c "mpirun --oversubscribe -n 2 '$fg' train '$work/two2.yaml' < /dev/null > /dev/null 2>&1 && /usr/bin/python3 - '$work/m.h5' '$work/m2.h5'" <<'PY'
import sys, h5py, numpy as np
def params(path):
    out = []
    h5py.File(path, "r")["model"].visititems(
        lambda n, o: out.append((n, o[()])) if isinstance(o, h5py.Dataset) else None)
    return dict(out)
a, b = params(sys.argv[1]), params(sys.argv[2])
assert a.keys() == b.keys() and len(a) > 0
for k in a:
    assert np.abs(a[k] - b[k]).max() <= 1e-4 * (1e-3 + np.abs(a[k]).max()), k
PY
sed -e 's/model: {/model: {base: normal, /' -e 's/m.h5/normal.h5/' "$work/two.yaml" > "$work/normal.yaml"
"$fg" train "$work/normal.yaml" > /dev/null 2> "$work/train.err"
check "train refuses a real-field base for the Schwinger model with exit 2 at theory.name" \
  bash -c "[ $? -eq 2 ] && grep -q 'normal.yaml:2: theory.name' '$work/train.err' && grep -q 'model.base normal' '$work/train.err'"
# The score-function gradient estimator: it trains (finite loss, a model
# that differs from the reparameterised run's), a resume with the other
# estimator is refused by key, a bad value and a free-field base are refused.
sed -e 's/train: {steps: 5,/train: {steps: 5, gradient: score_function,/' -e 's/m.h5/ms.h5/g' \
  -e '/^hmc:/d' "$work/two.yaml" > "$work/score.yaml"
check "train.gradient score_function trains the gauge flow (finite loss, other parameters)" \
  bash -c "'$fg' train '$work/score.yaml' --json > '$work/score.json' 2>/dev/null && /usr/bin/python3 - '$work/score.json' '$work/m.h5' '$work/ms.h5'" <<'PY'
import sys, json, math, h5py, numpy as np
r = json.load(open(sys.argv[1]))
assert r["step"] == 5 and math.isfinite(r["loss"]), r
def params(path):
    out = []
    h5py.File(path, "r")["model"].visititems(
        lambda n, o: out.append((n, o[()])) if isinstance(o, h5py.Dataset) else None)
    return dict(out)
a, b = params(sys.argv[2]), params(sys.argv[3])
assert any(np.abs(a[k] - b[k]).max() > 1e-6 for k in a)
PY
sed -e 's/gradient: score_function/gradient: path/' -e 's/ms.h5/mp.h5/g' "$work/score.yaml" > "$work/path.yaml"
check "train.gradient path trains the gauge flow (finite loss)" \
  bash -c "'$fg' train '$work/path.yaml' --json 2>/dev/null | /usr/bin/python3 -c 'import sys, json, math; r = json.load(sys.stdin); assert r[\"step\"] == 5 and math.isfinite(r[\"loss\"])'"
sed -e 's/steps: 5,/steps: 8,/' -e 's/gradient: score_function/gradient: reparameterization/' \
  "$work/score.yaml" > "$work/score2.yaml"
"$fg" train "$work/score2.yaml" --resume > /dev/null 2> "$work/score2.err"
check "a resume with the other gradient estimator is refused naming train.gradient" \
  bash -c "[ $? -eq 2 ] && grep -q 'train.gradient' '$work/score2.err'"
sed -e 's/gradient: score_function/gradient: reinforce/' "$work/score.yaml" > "$work/score3.yaml"
"$fg" train "$work/score3.yaml" > /dev/null 2> "$work/score3.err"
check "an unknown train.gradient is refused with exit 2 naming the key and value" \
  bash -c "[ $? -eq 2 ] && grep -q 'train.gradient' '$work/score3.err' && grep -q reinforce '$work/score3.err'"
cat > "$work/ff.yaml" <<'YAML'
seed: 3
theory: {name: phi4, lattice: [4, 4], m2: -1.0, lambda: 1.0}
model: {base: free_field, coupling_layers: 2, kernel_size: 3, hidden_channels: [4], symmetry: z2}
train: {steps: 2, batch_size: 4, gradient: score_function, checkpoint: ff.h5}
YAML
# The free-field base solves with its own M^-1 (flow.h): the score, and z2's
# mirror branch, work with it; the mass is trained (it leaves mu_init).
check "score_function and z2 with a free-field base train (finite loss, mu moved)" \
  bash -c "'$fg' train '$work/ff.yaml' --json 2>/dev/null | /usr/bin/python3 -c 'import sys, json, math; r = json.load(sys.stdin); assert r[\"step\"] == 2 and math.isfinite(r[\"loss\"])' && /usr/bin/python3 -c 'import h5py, sys; mu = float(h5py.File(sys.argv[1], \"r\")[\"model/base/mu\"][()]); assert abs(mu - 1.0) > 1e-6, mu' '$work/ff.h5'"
# model.gauge_loops: a flow with rectangles trains, info names them,
# sampling takes the architecture from the checkpoint, and a resume without
# them is refused by key.
sed -e 's/model: {/model: {gauge_loops: rectangle, /' -e 's/m.h5/mr.h5/g' \
  -e 's/flow.h5/flowr.h5/' -e '/^hmc:/d' "$work/two.yaml" > "$work/rect.yaml"
check "model.gauge_loops rectangle trains and samples; info names the rectangles" bash -c \
  "'$fg' train '$work/rect.yaml' > /dev/null 2>&1 && '$fg' info '$work/mr.h5' | grep -q 'plaquettes and rectangles' && '$fg' sample '$work/rect.yaml' > /dev/null 2>&1 && '$fg' verify '$work/flowr.h5' > /dev/null 2>&1"
sed -e 's/gauge_loops: rectangle, //' -e 's/steps: 5,/steps: 8,/' "$work/rect.yaml" > "$work/rect2.yaml"
"$fg" train "$work/rect2.yaml" --resume > /dev/null 2> "$work/rect2.err"
check "a resume without the rectangles is refused with exit 2 naming model.gauge_loops" \
  bash -c "[ $? -eq 2 ] && grep -q 'model.gauge_loops is rectangle in the file, plaquette' '$work/rect2.err'"
# model.gauge_map spline: trains, info names the spline, the file is
# format_version 4, sampling takes the map from the checkpoint; a resume
# with other bins or the NCP map, and a transfer to the NCP map, are refused
# by key.
sed -e 's/model: {/model: {gauge_map: spline, spline_bins: 6, gauge_order: alternating, /' -e 's/m.h5/msp.h5/g' \
  -e 's/flow.h5/flows.h5/' -e '/^hmc:/d' "$work/two.yaml" > "$work/spline.yaml"
check "model.gauge_map spline trains and samples; info names it; format_version 4" bash -c \
  "'$fg' train '$work/spline.yaml' > /dev/null 2>&1 && '$fg' info '$work/msp.h5' | grep -q 'circle map spline of 6 bins' && '$fg' info '$work/msp.h5' | grep -q 'version 4' && '$fg' sample '$work/spline.yaml' > /dev/null 2>&1 && '$fg' verify '$work/flows.h5' > /dev/null 2>&1"
sed -e 's/spline_bins: 6, //' -e 's/steps: 5,/steps: 8,/' "$work/spline.yaml" > "$work/spline8.yaml"
"$fg" train "$work/spline8.yaml" --resume > /dev/null 2> "$work/spline8.err"
check "a resume with other bins is refused with exit 2 naming model.spline_bins" \
  bash -c "[ $? -eq 2 ] && grep -q 'model.spline_bins is 6 in the file, 8 in the config' '$work/spline8.err'"
sed -e 's/gauge_map: spline, spline_bins: 6, //' -e 's/steps: 5,/steps: 8,/' "$work/spline.yaml" > "$work/splinencp.yaml"
"$fg" train "$work/splinencp.yaml" --resume > /dev/null 2> "$work/splinencp.err"
check "a resume with the NCP map is refused with exit 2 naming model.gauge_map" \
  bash -c "[ $? -eq 2 ] && grep -q 'model.gauge_map is spline in the file, ncp in the config' '$work/splinencp.err'"
sed -e 's/gauge_map: spline, spline_bins: 6, //' -e 's/msp.h5/mt.h5/g' -e 's/batch_size: 4,/batch_size: 4, init_from: msp.h5,/' \
  "$work/spline.yaml" > "$work/transfer.yaml"
"$fg" train "$work/transfer.yaml" > /dev/null 2> "$work/transfer.err"
check "a transfer from the spline to the NCP map is refused with exit 2 naming model.gauge_map" \
  bash -c "[ $? -eq 2 ] && grep -q 'another architecture: model.gauge_map is spline in the file, ncp' '$work/transfer.err'"
# model.gauge_order blocked (the default with base haar, written here):
# trains and samples, info names it, the file is format_version 5; a resume
# with the alternating order is refused by key.
sed -e 's/model: {/model: {gauge_order: blocked, /' -e 's/m.h5/mbl.h5/g' \
  -e 's/flow.h5/flowbl.h5/' -e '/^hmc:/d' "$work/two.yaml" > "$work/blocked.yaml"
check "model.gauge_order blocked trains and samples; info names it; format_version 5" bash -c \
  "'$fg' train '$work/blocked.yaml' > /dev/null 2>&1 && '$fg' info '$work/mbl.h5' | grep -q 'masks blocked' && '$fg' info '$work/mbl.h5' | grep -q 'version 5' && '$fg' sample '$work/blocked.yaml' > /dev/null 2>&1 && '$fg' verify '$work/flowbl.h5' > /dev/null 2>&1"
sed -e 's/gauge_order: blocked, /gauge_order: alternating, /' -e 's/steps: 5,/steps: 8,/' "$work/blocked.yaml" > "$work/blocked2.yaml"
"$fg" train "$work/blocked2.yaml" --resume > /dev/null 2> "$work/blocked2.err"
check "a resume with the alternating masks is refused with exit 2 naming model.gauge_order" \
  bash -c "[ $? -eq 2 ] && grep -q 'model.gauge_order is blocked in the file, alternating in the config' '$work/blocked2.err'"
# A file of the alternating order holds no gauge_order attribute, as files
# from before the key: resuming it with a config that leaves the key out
# (now blocked) is refused by key, not run with other masks.
sed -e 's/gauge_order: blocked, /gauge_order: alternating, /' -e 's/mbl.h5/malt.h5/g' -e 's/flowbl.h5/flowalt.h5/' \
  "$work/blocked.yaml" > "$work/alt.yaml"
"$fg" train "$work/alt.yaml" > /dev/null 2>&1
sed -e 's/gauge_order: alternating, //' -e 's/steps: 5,/steps: 8,/' "$work/alt.yaml" > "$work/alt2.yaml"
"$fg" train "$work/alt2.yaml" --resume > /dev/null 2> "$work/alt2.err"
check "an alternating file (version 3, no attribute) resumed with the default order is refused naming model.gauge_order" \
  bash -c "[ $? -eq 2 ] && '$fg' info '$work/malt.h5' | grep -q 'version 3' && grep -q 'model.gauge_order is alternating in the file, blocked in the config' '$work/alt2.err'"
sed -i 's/kappa: 0.2/kappa: -0.1/' "$work/two.yaml"
"$fg" hmc "$work/two.yaml" > /dev/null 2> "$work/bad.err"
check "a negative kappa is refused with exit 2 naming the key" \
  bash -c "[ $? -eq 2 ] && grep -q 'theory.kappa' '$work/bad.err'"
echo "100%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
