# stats.awk -- groups the rows of a CSV (header line first) by the columns
# named in `keys` and writes, per group in order of first appearance, for
# each column named in `values`: the mean, the sample standard deviation
# (empty for one value), the minimum, the maximum and the count of the
# non-empty values. Empty cells (a run that never reached a level) are left
# out, so the count says how many runs a summary stands on.
#   KEYS...,<v>_mean,<v>_sd,<v>_min,<v>_max,<v>_count for each v in values
# usage: awk -v keys="level" -v values="ratio_n_train ratio_seconds" -f stats.awk runs.csv
BEGIN {
  FS = ","; OFS = ","
  nk = split(keys, key, " ")
  nv = split(values, val, " ")
}
NR == 1 {
  for (c = 1; c <= NF; ++c) col[$c] = c
  for (i = 1; i <= nk; ++i) need(key[i])
  for (i = 1; i <= nv; ++i) need(val[i])
  line = ""
  for (i = 1; i <= nk; ++i) line = line key[i] ","
  for (i = 1; i <= nv; ++i)
    line = line sprintf("%s_mean,%s_sd,%s_min,%s_max,%s_count%s", val[i], val[i], val[i],
                        val[i], val[i], i < nv ? "," : "")
  print line
  next
}
function need(name) {
  if (!(name in col)) {
    printf "stats.awk: %s has no column '%s'\n", FILENAME, name > "/dev/stderr"
    bad = 1
    exit 1
  }
}
{
  g = ""
  for (i = 1; i <= nk; ++i) g = g $col[key[i]] ","
  if (!(g in seen)) { seen[g] = 1; group[++ng] = g }
  for (i = 1; i <= nv; ++i) {
    x = $col[val[i]]
    if (x == "") continue
    x += 0
    cnt[g, i]++; sum[g, i] += x; sq[g, i] += x * x
    if (cnt[g, i] == 1 || x < lo[g, i]) lo[g, i] = x
    if (cnt[g, i] == 1 || x > hi[g, i]) hi[g, i] = x
  }
}
END {
  if (bad) exit 1
  for (j = 1; j <= ng; ++j) {
    g = group[j]
    line = g
    for (i = 1; i <= nv; ++i) {
      n = cnt[g, i] + 0
      if (n == 0) { line = line ",,,,0,"; continue }
      m = sum[g, i] / n
      v = n > 1 ? (sq[g, i] - n * m * m) / (n - 1) : ""
      sd = n > 1 ? sprintf("%.4g", v > 0 ? sqrt(v) : 0) : ""
      line = line sprintf("%.4g,%s,%.4g,%.4g,%d,", m, sd, lo[g, i], hi[g, i], n)
    }
    sub(/,$/, "", line)
    print line
  }
}
