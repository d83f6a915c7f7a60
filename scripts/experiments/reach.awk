# reach.awk -- reads a flowgen training log (CSV) and prints, for each level
# in `levels` (space-separated), the first step at which the mean of the
# batch ESS over the last `window` steps reaches it:
#   level step n_train wall_s      or      level never - -
# usage: awk -v window=20 -v levels="0.2 0.6" -f reach.awk train.csv
BEGIN { FS = ","; n = split(levels, level, " ") }
NR == 1 {
  for (c = 1; c <= NF; ++c) col[$c] = c
  if (!("ess" in col) || !("n_train" in col) || !("wall_s" in col)) {
    print "reach.awk: " FILENAME " is not a flowgen training log" > "/dev/stderr"
    exit 1
  }
  next
}
{
  i = NR - 1
  ess[i] = $col["ess"]
  sum += ess[i]
  if (i > window) sum -= ess[i - window]
  if (i < window) next
  for (k = 1; k <= n; ++k)
    if (!(k in step) && sum / window >= level[k]) {
      step[k] = $col["step"]; ntrain[k] = $col["n_train"]; wall[k] = $col["wall_s"]
    }
}
END {
  for (k = 1; k <= n; ++k)
    if (k in step) printf "%s %d %d %.1f\n", level[k], step[k], ntrain[k], wall[k]
    else printf "%s never - -\n", level[k]
}
