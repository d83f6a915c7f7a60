# train_log.awk -- reads a flowgen training log (the CSV that `flowgen train`
# writes to train.log) and writes, as CSV, the columns the plots use, found
# by name in the header, and the rolling mean of the batch ESS over the last
# `window` steps (the number the stop rule and reach.awk use; NaN, which
# gnuplot skips, until the window is full):
#   step,n_train,wall_s,batch_global,lr,loss,ess,ess_rolling
# A file that lacks one of these columns, or has no rows, is not a training
# log: a message on stderr and exit status 1.
# usage: awk -v window=20 -f train_log.awk train.csv > plot.csv
BEGIN {
  FS = ","
  if (window == "") window = 20
  ncol = split("step n_train wall_s batch_global lr loss ess", want, " ")
}
NR == 1 {
  for (c = 1; c <= NF; ++c) col[$c] = c
  for (k = 1; k <= ncol; ++k)
    if (!(want[k] in col)) {
      printf "%s is not a flowgen training log (no column '%s' in its header)\n",
             FILENAME, want[k] > "/dev/stderr"
      bad = 1
      exit 1
    }
  print "step,n_train,wall_s,batch_global,lr,loss,ess,ess_rolling"
  next
}
{
  i = NR - 1
  ess[i] = $col["ess"]
  sum += ess[i]
  if (i > window) sum -= ess[i - window]
  rolling = i < window ? "NaN" : sprintf("%.6g", sum / window)
  line = ""
  for (k = 1; k <= ncol; ++k) line = line $col[want[k]] ","
  print line rolling
}
END {
  if (bad) exit 1
  if (NR < 2) {
    printf "%s is not a flowgen training log (no rows after the header)\n",
           (FILENAME == "" ? "the input" : FILENAME) > "/dev/stderr"
    exit 1
  }
}
