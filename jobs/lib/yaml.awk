# yaml.awk -- reads and edits the block-style YAML of flowgen configs, for the
# job scripts (no YAML library is needed on a cluster's nodes).
#
#   awk -v mode=get -v key=train.checkpoint -f yaml.awk CONFIG
#       prints the scalar at the dotted key, unquoted; exit 1 when absent,
#       exit 3 when the key holds a block mapping or list.
#   awk -v mode=has -v key=hmc -f yaml.awk CONFIG
#       exit 0 when the key exists (a section or a scalar), 1 otherwise.
#   awk -v mode=set -f yaml.awk CONFIG KEY=VALUE ...
#       prints CONFIG with each KEY set to VALUE: an existing scalar is
#       replaced in place (its trailing comment dropped), a missing key is
#       added at the end of its section. Exit 2 (and nothing useful printed)
#       when a key's section is missing or the key is not a block scalar.
#       A key given twice takes the last value.
#
# What it understands is what flowgen's configs use: "key: value" lines
# nested by indentation, comments, blank lines; flow collections ([8, 8],
# {name: adam}) and block lists are values it carries along but does not
# look into (so train.optimizer.lr inside {name: adam, lr: ...} cannot be set).

function strip_comment(v,    i, c, q) {
  q = ""
  for (i = 1; i <= length(v); i++) {
    c = substr(v, i, 1)
    if (q != "") { if (c == q) q = ""; continue }
    if (c == "\"" || c == "'") q = c
    else if (c == "#" && (i == 1 || substr(v, i - 1, 1) ~ /[ \t]/)) return substr(v, 1, i - 1)
  }
  return v
}

function trim(v) { sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); return v }

function unquote(v) {
  if (v ~ /^".*"$/) { v = substr(v, 2, length(v) - 2); gsub(/\\"/, "\"", v); gsub(/\\\\/, "\\", v) }
  else if (v ~ /^'.*'$/) { v = substr(v, 2, length(v) - 2); gsub(/''/, "'", v) }
  return v
}

# Values that YAML would misread unquoted are written double-quoted.
function quote(v,    q) {
  if (v ~ /^[A-Za-z0-9_.\/+-]+$/ || v ~ /^\[.*\]$/ || v ~ /^\{.*\}$/) return v
  q = v; gsub(/\\/, "\\\\", q); gsub(/"/, "\\\"", q)
  return "\"" q "\""
}

function path_of(depth,    i, p) {
  p = ""
  for (i = 1; i <= depth; i++) p = p (i > 1 ? "." : "") name[i]
  return p
}

# Leaving the section at stack depth d: add the keys still missing there.
function close_section(d,    k, parent, ind) {
  parent = path_of(d)
  ind = child_indent[d] != "" ? child_indent[d] : indent[d] + 2
  for (k = 1; k <= nset; k++)
    if (!done[k] && set_parent[k] == parent) {
      printf "%" ind "s%s: %s\n", "", set_leaf[k], quote(set_value[k])
      done[k] = 1
    }
}

function flush_held() { if (held != "") { printf "%s", held; held = "" } }

BEGIN {
  nset = 0
  if (mode == "set") {
    for (i = 2; i < ARGC; i++) {
      eq = index(ARGV[i], "=")
      if (eq < 2) { print "yaml.awk: bad override '" ARGV[i] "' (want KEY=VALUE)" > "/dev/stderr"; exit 2 }
      p = substr(ARGV[i], 1, eq - 1)
      v = substr(ARGV[i], eq + 1)
      delete ARGV[i]
      if (p in slot) { set_value[slot[p]] = v; continue } # the last wins
      slot[p] = ++nset
      set_key[nset] = p
      set_value[nset] = v
      if (match(p, /\.[^.]*$/)) { set_parent[nset] = substr(p, 1, RSTART - 1); set_leaf[nset] = substr(p, RSTART + 1) }
      else { set_parent[nset] = ""; set_leaf[nset] = p }
    }
    ARGC = 2
  }
  depth = 0; found = 0; held = ""; failed = 0
  indent[0] = -1; child_indent[0] = 0; seen_section[""] = 1
}

{
  line = $0
  if (line ~ /^[ \t]*(#.*)?$/ || line ~ /^[ \t]*-/) {
    # comments, blank lines, list items: carried along (held back in set
    # mode so that keys added to a section come before the next one's comment)
    if (mode == "set") { if (line ~ /^[ \t]*-/) { flush_held(); print line } else held = held line "\n" }
    next
  }
  if (!match(line, /^ *[A-Za-z0-9_]+:/)) {
    if (mode == "set") { flush_held(); print line }
    next
  }
  ind = match(line, /[^ ]/) - 1
  colon = index(line, ":")
  k = substr(line, ind + 1, colon - ind - 1)
  raw = substr(line, colon + 1)
  v = trim(strip_comment(raw))
  while (depth > 0 && indent[depth] >= ind) {
    if (mode == "set") close_section(depth)
    depth--
  }
  if (child_indent[depth] == "") child_indent[depth] = ind
  full = (depth > 0 ? path_of(depth) "." : "") k
  if (mode == "set") {
    flush_held()
    for (s = 1; s <= nset; s++)
      if (set_key[s] == full) {
        if (v == "" || v ~ /^[\[{]/ && set_value[s] !~ /^[\[{]/) {
          print "yaml.awk: " full ": not a scalar; cannot set it" > "/dev/stderr"; failed = 1
        }
        line = sprintf("%" ind "s%s: %s", "", k, quote(set_value[s]))
        done[s] = 1
      }
    print line
  } else if (full == key) {
    found = 1
    if (mode == "get") {
      if (v == "") exit 3
      print unquote(v)
    }
    exit 0
  }
  if (v == "") {
    depth++; name[depth] = k; indent[depth] = ind; child_indent[depth] = ""
    seen_section[full] = 1
  }
}

END {
  if (mode == "set") {
    while (depth > 0) { close_section(depth); depth-- }
    close_section(0)
    flush_held()
    for (s = 1; s <= nset; s++)
      if (!done[s]) {
        print "yaml.awk: " set_key[s] ": section '" set_parent[s] "' missing or not block style" > "/dev/stderr"
        failed = 1
      }
    exit failed ? 2 : 0
  }
  if (!found) exit 1
}
