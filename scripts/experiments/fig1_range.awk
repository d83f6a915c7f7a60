# fig1_range.awk -- reads the runs.csv of fig1_range.sh
#   arm,seed,measure,level,step,n_train,seconds,fresh_ess,fresh_err
# (arm lr or bs; empty step/n_train/seconds where the run never reached the
# level) and writes, per seed, measure and level, the cost of the lr arm over that of
# the bs arm in trained samples and in seconds; the ratio is empty where
# either arm did not reach the level. stats.awk summarises the ratios.
#   seed,measure,level,lr_n_train,bs_n_train,ratio_n_train,lr_seconds,bs_seconds,ratio_seconds
# usage: awk -f fig1_range.awk runs.csv > ratios.csv
BEGIN { FS = ","; OFS = "," }
NR == 1 {
  for (c = 1; c <= NF; ++c) col[$c] = c
  if (!("arm" in col) || !("measure" in col) || !("n_train" in col) || !("seconds" in col)) {
    print "fig1_range.awk: " FILENAME " is not a fig1_range.sh runs.csv" > "/dev/stderr"
    bad = 1
    exit 1
  }
  next
}
{
  k = $col["seed"] OFS $col["measure"] OFS $col["level"]
  n[$col["arm"], k] = $col["n_train"]
  s[$col["arm"], k] = $col["seconds"]
  if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
}
function ratio(a, b) { return a != "" && b != "" && b > 0 ? sprintf("%.4g", a / b) : "" }
END {
  if (bad) exit 1
  print "seed,measure,level,lr_n_train,bs_n_train,ratio_n_train,lr_seconds,bs_seconds,ratio_seconds"
  for (i = 1; i <= nk; ++i) {
    k = order[i]
    print k, n["lr", k], n["bs", k], ratio(n["lr", k], n["bs", k]),
          s["lr", k], s["bs", k], ratio(s["lr", k], s["bs", k])
  }
}
