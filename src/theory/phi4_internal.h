/*
 * phi4_internal.h -- shared between phi4.c and phi4_observables.c (not public).
 *
 *   extern const fg_observable phi4_observables[FG_PHI4_NOBS]
 *     The observables phi^4 declares, in report order (phi4.h); derived
 *     ones take ctx = the theory.
 */
#ifndef FLOWGEN_PHI4_INTERNAL_H
#define FLOWGEN_PHI4_INTERNAL_H

#include "flowgen/phi4.h"
#include "flowgen/theory.h"
#include "theory_internal.h"

extern const fg_observable phi4_observables[FG_PHI4_NOBS];

#endif
