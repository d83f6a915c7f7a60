/*
 * lattice.h -- periodic hypercubic lattices and their stencils.
 *
 * Sites are numbered lexicographically with the LAST coordinate fastest:
 * site(x) = ((x0 * L1 + x1) * L2 + x2) ..., the C row-major order of an
 * array [L0][L1]..., as in the files (SPEC section 6).
 *
 *   int fg_lattice_init(fg_lattice *lat, int nd, const int *extent, fg_error *err)
 *     Builds the neighbour tables of a periodic lattice with nd dimensions
 *     (1 <= nd <= FG_MAXDIM, extents >= 1). Local. Release with fg_lattice_free.
 *
 *   void fg_lattice_free(fg_lattice *lat)
 *
 *   void fg_lattice_coords(const fg_lattice *lat, int site, int *x)
 *     The coordinates of a site.
 *
 *   int fg_stencil_init(fg_stencil *st, const fg_lattice *lat, int ksize, fg_error *err)
 *     For a 2D lattice: the taps of a ksize x ksize convolution with
 *     circular padding ksize/2, as PyTorch's Conv2d(padding_mode='circular'):
 *     index[y * ntaps + k0 * ksize + k1] = site(y0 + k0 - p, y1 + k1 - p)
 *     (mod extents), p = ksize / 2. ksize must be odd and <= both extents.
 *
 *   void fg_stencil_free(fg_stencil *st)
 */
#ifndef FLOWGEN_LATTICE_H
#define FLOWGEN_LATTICE_H

#include "flowgen/config.h"
#include "flowgen/error.h"

typedef struct {
  int nd;
  int extent[FG_MAXDIM];
  int volume;
  int *up;     /* up[site * nd + mu]: site + mu-hat (periodic) */
  int *down;   /* down[site * nd + mu]: site - mu-hat */
  unsigned char *parity; /* (sum of coordinates) mod 2 */
} fg_lattice;

typedef struct {
  int volume;
  int ksize;
  int ntaps;   /* ksize * ksize */
  int *index;  /* [volume][ntaps] */
} fg_stencil;

int fg_lattice_init(fg_lattice *lat, int nd, const int *extent, fg_error *err);
void fg_lattice_free(fg_lattice *lat);
void fg_lattice_coords(const fg_lattice *lat, int site, int *x);
int fg_stencil_init(fg_stencil *st, const fg_lattice *lat, int ksize, fg_error *err);
void fg_stencil_free(fg_stencil *st);

#endif
