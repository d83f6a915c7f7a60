/*
 * lattice.c -- periodic lattices and convolution stencils (see lattice.h).
 * All functions are local.
 */
#include "flowgen/lattice.h"

#include <string.h>

static int site_of(const fg_lattice *lat, const int *x)
{
  int s = 0;
  for (int mu = 0; mu < lat->nd; ++mu)
    s = s * lat->extent[mu] + x[mu];
  return s;
}

void fg_lattice_coords(const fg_lattice *lat, int site, int *x)
{
  for (int mu = lat->nd - 1; mu >= 0; --mu) {
    x[mu] = site % lat->extent[mu];
    site /= lat->extent[mu];
  }
}

int fg_lattice_init(fg_lattice *lat, int nd, const int *extent, fg_error *err)
{
  static const char where[] = "fg_lattice_init [lattice.c]";
  memset(lat, 0, sizeof *lat);
  if (nd < 1 || nd > FG_MAXDIM)
    return fg_fail(err, FG_ERR_INPUT, where, "dimension %d outside 1..%d", nd, FG_MAXDIM);
  long vol = 1;
  for (int mu = 0; mu < nd; ++mu) {
    if (extent[mu] < 1)
      return fg_fail(err, FG_ERR_INPUT, where, "extent %d of direction %d", extent[mu], mu);
    vol *= extent[mu];
    if (vol > (1L << 28))
      return fg_fail(err, FG_ERR_INPUT, where, "lattice volume too large");
    lat->extent[mu] = extent[mu];
  }
  lat->nd = nd;
  lat->volume = (int)vol;
  lat->up = fg_alloc(sizeof(int) * (size_t)vol * (size_t)nd, err, where);
  lat->down = fg_alloc(sizeof(int) * (size_t)vol * (size_t)nd, err, where);
  lat->parity = fg_alloc((size_t)vol, err, where);
  if (!lat->up || !lat->down || !lat->parity) {
    fg_lattice_free(lat);
    return FG_ERR_RUNTIME;
  }
  int x[FG_MAXDIM];
  for (int s = 0; s < lat->volume; ++s) {
    fg_lattice_coords(lat, s, x);
    int par = 0;
    for (int mu = 0; mu < nd; ++mu) {
      par += x[mu];
      int keep = x[mu];
      x[mu] = (keep + 1) % extent[mu];
      lat->up[s * nd + mu] = site_of(lat, x);
      x[mu] = (keep + extent[mu] - 1) % extent[mu];
      lat->down[s * nd + mu] = site_of(lat, x);
      x[mu] = keep;
    }
    lat->parity[s] = (unsigned char)(par & 1);
  }
  return FG_OK;
}

void fg_lattice_free(fg_lattice *lat)
{
  fg_free(lat->up);
  fg_free(lat->down);
  fg_free(lat->parity);
  memset(lat, 0, sizeof *lat);
}

int fg_stencil_init(fg_stencil *st, const fg_lattice *lat, int ksize, fg_error *err)
{
  static const char where[] = "fg_stencil_init [lattice.c]";
  memset(st, 0, sizeof *st);
  if (lat->nd != 2)
    return fg_fail(err, FG_ERR_INPUT, where, "convolutions need a 2D lattice, got %dD", lat->nd);
  if (ksize < 1 || ksize % 2 == 0 || ksize > lat->extent[0] || ksize > lat->extent[1])
    return fg_fail(err, FG_ERR_INPUT, where, "kernel size %d must be odd and <= %d, %d", ksize,
                   lat->extent[0], lat->extent[1]);
  int p = ksize / 2, L0 = lat->extent[0], L1 = lat->extent[1];
  st->volume = lat->volume;
  st->ksize = ksize;
  st->ntaps = ksize * ksize;
  st->index = fg_alloc(sizeof(int) * (size_t)st->volume * (size_t)st->ntaps, err, where);
  if (st->index == NULL)
    return FG_ERR_RUNTIME;
  for (int y0 = 0; y0 < L0; ++y0)
    for (int y1 = 0; y1 < L1; ++y1)
      for (int k0 = 0; k0 < ksize; ++k0)
        for (int k1 = 0; k1 < ksize; ++k1) {
          int x0 = ((y0 + k0 - p) % L0 + L0) % L0, x1 = ((y1 + k1 - p) % L1 + L1) % L1;
          st->index[(y0 * L1 + y1) * st->ntaps + k0 * ksize + k1] = x0 * L1 + x1;
        }
  return FG_OK;
}

void fg_stencil_free(fg_stencil *st)
{
  fg_free(st->index);
  memset(st, 0, sizeof *st);
}
