/*
 * theory_internal.h -- struct fg_theory, private to src/theory/: the
 * implementations (phi4.c, schwinger.c, ...) read their config, lattice
 * and private data from it; everything outside src/theory/ holds an opaque
 * fg_theory and uses the accessors of theory.h.
 */
#ifndef FLOWGEN_THEORY_INTERNAL_H
#define FLOWGEN_THEORY_INTERNAL_H

#include "flowgen/theory.h"

struct fg_theory {
  const fg_theory_ops *ops;
  fg_theory_config cfg;
  fg_lattice lat;
  int ndof;               /* components x volume */
  fg_theory_desc desc;    /* what the implementation's setup declared */
};

#endif
