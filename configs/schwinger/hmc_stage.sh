# hmc_stage.sh -- sourced by validate.sh and flow_validate.sh: one HMC
# ensemble of the configs beside it and its analysis, each kept once done.
#   hmc_stage NAME   runs `flowgen hmc NAME.yaml` unless $out/NAME.h5 exists
#                    (resuming an interrupted run, $out/NAME.h5.tmp), then
#                    `flowgen analyze --json` into $out/NAME.analyze.json.
# Needs $bin (the executable), $here (this folder), $out (the results) and
# $who (the calling script's name, for messages).
hmc_stage() {
  h5=$out/$1.h5
  if [ ! -f "$h5" ]; then
    echo "$who: $1: hmc" >&2
    if [ -f "$h5.tmp" ]; then
      "$bin" hmc "$here/$1.yaml" --resume --json > "$out/$1.hmc.json"
    else
      "$bin" hmc "$here/$1.yaml" --json > "$out/$1.hmc.json"
    fi
  fi
  if [ ! -f "$out/$1.analyze.json" ]; then
    echo "$who: $1: analyze" >&2
    "$bin" analyze "$h5" --json > "$out/$1.analyze.json.part"
    mv "$out/$1.analyze.json.part" "$out/$1.analyze.json"
  fi
}
