/*
 * conv_internal.h -- the contract between conv.c (plans, packing, dispatch)
 * and conv_kernels.c (the loops), which is compiled once per instruction set
 * with a different symbol suffix (FG_KSUFFIX): _portable and _avx512.
 *
 * Each variant exports one constant table, fg_conv_kernels_<suffix>:
 *
 *   available
 *     1 if the variant was compiled (0: a stub, the compiler lacked the ISA).
 *
 *   int forward_oblock(int cout)
 *     The number of output channels ob (1 <= ob <= cout) that forward()
 *     computes together; conv.c packs the weights for it (see below).
 *
 *   void forward(const fg_conv_geometry *g, int ob, const float *wpack,
 *                const float *bias, const float *in, float *out,
 *                const int *sites, int nsites)
 *     out[o][y] = bias[o] + sum_{i,k} W[o][i][k] in[i][index[y][k]] for y in
 *     sites, with W packed as blocks of ob output channels starting at
 *     o0 = 0, ob, 2 ob, ... and, when ob does not divide cout, a last block
 *     starting at cout - ob (it overlaps the one before):
 *       wpack[(b * ntaps + k) * cin * ob + i * ob + o'] = W[o0(b) + o'][i][k].
 *     in and out must not overlap.
 *
 *   int weight_tiling(const fg_conv_geometry *g)
 *     The tiling weight_grad() should use for this geometry (an opaque
 *     number, chosen once per plan).
 *
 *   void weight_grad(const fg_conv_geometry *g, int tiling, const float *in,
 *                    const float *gout, double *gweight, double *gbias,
 *                    const int *sites, int nsites)
 *     gweight[(o * cin + i) * ntaps + k] += sum_{y in sites, lanes}
 *       gout[o][y] in[i][index[y][k]], gbias[o] += sum gout[o][y].
 *
 * `sites` is never NULL here (conv.c passes its list of all sites).
 */
#ifndef FLOWGEN_CONV_INTERNAL_H
#define FLOWGEN_CONV_INTERNAL_H

#include "flowgen/nn.h"

typedef struct {
  int volume;
  int cin, cout;
  int ntaps;
  const int *index; /* [volume][ntaps], fg_stencil's table */
} fg_conv_geometry;

typedef struct {
  const char *isa;
  int available;
  int (*forward_oblock)(int cout);
  void (*forward)(const fg_conv_geometry *g, int ob, const float *wpack, const float *bias,
                  const float *in, float *out, const int *sites, int nsites);
  int (*weight_tiling)(const fg_conv_geometry *g);
  void (*weight_grad)(const fg_conv_geometry *g, int tiling, const float *in, const float *gout,
                      double *gweight, double *gbias, const int *sites, int nsites);
} fg_conv_kernels;

extern const fg_conv_kernels fg_conv_kernels_portable;
extern const fg_conv_kernels fg_conv_kernels_avx512;

#endif
