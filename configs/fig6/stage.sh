# stage.sh -- sourced by configs/fig6/run.sh and scan.sh.
# stage NAME DIR COMMAND...: runs COMMAND --json (stdout to DIR/NAME.json)
# unless DIR/NAME.json exists; an interrupted stage leaves no .json and is
# redone.
stage() {
  name=$1 dir=$2
  shift 2
  [ -f "$dir/$name.json" ] && return 0
  echo "$(basename "$0"): ${dir#"$root"/out/}: $name ($(date +%T))" >&2
  "$@" --json > "$dir/$name.json.part"
  mv "$dir/$name.json.part" "$dir/$name.json"
}
