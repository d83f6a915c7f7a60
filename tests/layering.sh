#!/usr/bin/env bash
# The layering of docs/design.md, checked on the sources and the built
# archives: the library (src/) never calls up into the role layer
# (service/, coordinator/, worker/); the roles' private headers stay beside
# them; struct fg_theory is opaque outside src/theory/; HDF5 is called
# only inside src/io/; ranks agree on a status only
# through fg_agree. Prints a Check-style summary line.
#   layering.sh SOURCE_ROOT LIBFLOWGEN.a LIBFLOWGEN_ROLES.a
set -uo pipefail
root=$1; lib=$2; roles=$3
cd "$root" || exit 1
checks=0 failures=0
check() {  # check "what" command...
  checks=$((checks + 1))
  if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1"; failures=$((failures + 1)); fi
}
none() {  # none "what" lines: passes when there are no lines, else shows them
  if [ -n "$2" ]; then printf '%s\n' "$2" | sed 's/^/  /'; return 1; fi
}
defined=$(nm --defined-only -g "$roles" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u)
undefined=$(nm -u "$lib" 2>/dev/null | awk '{print $NF}' | sort -u)
check "the library calls nothing of the role layer" \
  none "" "$(comm -12 <(printf '%s\n' "$defined") <(printf '%s\n' "$undefined"))"
check "the role layer defines its entry point" \
  grep -qx fg_sample_run <<< "$defined"
check "no library source or public header includes a role-layer header" \
  none "" "$(grep -rnE '#include "(\.\./)*(service|coordinator|worker)/|#include "flowgen/service\.h"' src include)"
check "the roles' private headers are not public" \
  none "" "$(ls include/flowgen/protocol.h include/flowgen/roles.h 2>/dev/null)"
check "the wire protocol's tags are defined once" \
  none "" "$(grep -rnE 'TAG_(ORDER|RESULT) *=' src main coordinator worker service | grep -v '^service/protocol.h:')"
check "struct fg_theory is opaque outside src/theory/" \
  none "" "$(grep -rnE 'struct fg_theory *\{|theory_internal\.h' src main coordinator worker service include bench tests | grep -vE '^src/theory/|^[^:]*:[0-9]+: *\*')"
check "HDF5 is called only inside src/io/" \
  none "" "$(grep -rnE 'H5[A-Z]|#include <(hdf5|H5[a-z]*)\.h>' src main coordinator worker service --include=*.c --include=*.h | grep -v '^src/io/')"
check "ranks agree on an int status only through fg_agree" \
  none "" "$(grep -rnE 'MPI_INT, *MPI_M(IN|AX)|MPI_2INT' src main coordinator worker service | grep -v '^src/util/agree.c:')"
echo "100%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
