# lib.sh -- shell functions shared by the experiment scripts that keep
# finished stages (fig1_range.sh, fig3.sh, fig4.sh, fig5.sh). Source it
# after setting `bin` (the flowgen executable) and `here` (this folder).

# json FILE KEY: the number after "KEY": in a one-line JSON object.
json() { sed -n "s/.*\"$2\": \([-0-9.eE+]*\).*/\1/p" "$1"; }

# config_set SRC DEST KEY VALUE [KEY VALUE ...]: DEST is SRC with the value
# of each KEY replaced, in block style (`  lambda: 1.0`) or inside a flow
# mapping (`stop: {target_ess: 0.6, window: 20}`). A key matches only as a
# whole word, so `checkpoint` leaves `checkpoint_every` and `batch_size`
# leaves `max_batch_size` alone. Values must not contain `#`.
config_set() {
  src=$1 dest=$2
  shift 2
  script=
  while [ $# -ge 2 ]; do
    script="$script;s#\(^\|[ {,]\)$1: [^,}]*#\1$1: $2#"
    shift 2
  done
  sed -e "${script#;}" "$src" > "$dest"
}

# train_leg DIR NAME CONFIG: trains CONFIG unless DIR/NAME.json (its --json
# result) exists. A checkpoint at DIR/model.h5 (the config's
# train.checkpoint) is continued with --resume: the run of an earlier leg,
# or this leg's own run killed half way. Without one, a log left by a run
# killed before its first checkpoint is replaced (--overwrite). The result
# goes to NAME.json.part and is renamed when the run succeeded, so a killed
# script rerun continues where it stopped. Returns flowgen's exit status.
train_leg() {
  [ -f "$1/$2.json" ] && return 0
  mode=--overwrite
  [ -f "$1/model.h5" ] && mode=--resume
  # `|| return`: `set -e` does not act inside a function called from `||`
  "$bin" train "$3" $mode --json > "$1/$2.json.part" 2> "$1/$2.err" || return
  mv "$1/$2.json.part" "$1/$2.json"
}

# train_base SCRIPT CONFIG DIR: the starting model of a retraining
# experiment: CONFIG with its checkpoint and log moved to DIR, trained
# unless DIR/base.json exists (train_leg).
train_base() {
  mkdir -p "$3"
  config_set "$2" "$3/base.yaml" checkpoint "$3/model.h5" log "$3/train.csv"
  [ -f "$3/base.json" ] || echo "$1: $(date +%T) the starting model ($2)" >&2
  train_leg "$3" base "$3/base.yaml"
}

# inverse X: 1/X, for a config value.
inverse() { awk -v x="$1" 'BEGIN { printf "%.6g", 1 / x }'; }

# summarise CSV KEYS VALUES: writes summary.csv beside CSV (stats.awk:
# mean, sd, min, max and count of the VALUES columns per group of the KEYS
# columns) and prints it as a table.
summarise() {
  awk -v keys="$2" -v values="$3" -f "$here/stats.awk" "$1" > "$(dirname "$1")/summary.csv"
  column -s, -t < "$(dirname "$1")/summary.csv"
}

# plot PNG GP VARS: draws PNG with the gnuplot script GP, passing VARS
# (gnuplot assignments); without gnuplot, says how to draw it later.
plot() {
  if command -v gnuplot >/dev/null; then
    gnuplot -e "$3" "$2"
    echo "$(basename "$2" .gp): wrote $1" >&2
  else
    echo "gnuplot not found: no plot. Install it (Debian: apt-get install gnuplot-nox)" \
         "and run: gnuplot -e \"$3\" $2" >&2
  fi
}
