/*
 * nn.h -- convolution kernels for batches of lattice fields.
 *
 * Activations are float32 in blocks of FG_VLEN samples (one AVX-512
 * vector), layout [channel][site][lane], 64-byte aligned:
 *   a[(c * volume + y) * FG_VLEN + lane].
 * A convolution is PyTorch's Conv2d with circular padding K/2 and bias:
 *   out[o][y] = bias[o] + sum_{i,k} W[o][i][k] * in[i][stencil(y, k)],
 * with W in PyTorch's layout [cout][cin][K][K].
 *
 * Every function is local and single-threaded. Site subsets (`sites`,
 * `nsites`) restrict the sites a function writes or sums over; sites == NULL
 * means all sites 0..volume-1. Checkerboard flows use them to skip the half
 * of the outputs that a coupling layer never reads.
 *
 *   fg_conv_plan *fg_conv_plan_create(const fg_stencil *st, int cin, int cout,
 *                                     fg_error *err)
 *     A plan for one layer shape on one lattice. The stencil must outlive it.
 *
 *   void fg_conv_plan_destroy(fg_conv_plan *p)
 *
 *   void fg_conv_set_weights(fg_conv_plan *p, const float *weight, const float *bias)
 *     Copies (packs) the weights [cout][cin][K][K] and bias [cout] into the
 *     plan's own layouts, for the forward and the transposed convolution.
 *     Call again whenever the parameters change.
 *
 *   void fg_conv_forward(const fg_conv_plan *p, const float *in, float *out,
 *                        const int *sites, int nsites)
 *     out[o][y] = bias[o] + sum W in, for y in sites (others untouched).
 *
 *   void fg_conv_backward_input(const fg_conv_plan *p, const float *gout,
 *                               float *gin, const int *sites, int nsites)
 *     gin[i][x] = sum_{o,k} W[o][i][k] gout[o][y] over all y with
 *     stencil(y, k) = x, for x in sites (overwrites; others untouched).
 *     gout must be set at every site (zero where it vanishes).
 *
 *   void fg_conv_backward_weight(const fg_conv_plan *p, const float *in,
 *                                const float *gout, double *gweight,
 *                                double *gbias, const int *sites, int nsites)
 *     gweight[o][i][k] += sum_{y in sites, lanes} gout[o][y] in[i][stencil(y,k)]
 *     gbias[o]         += sum_{y in sites, lanes} gout[o][y]
 *     (PyTorch layout; sums over one block, accumulated into double).
 *
 *   double fg_conv_flops(int volume, int cin, int cout, int ksize)
 *     2 x multiply-adds of one dense forward pass of one sample.
 *
 *   const char *fg_conv_isa(void)
 *     The instruction set the kernels run with: "avx512" or "portable".
 *     The environment variable FLOWGEN_ISA=portable forces the portable path.
 */
#ifndef FLOWGEN_NN_H
#define FLOWGEN_NN_H

#include "flowgen/error.h"
#include "flowgen/lattice.h"

#define FG_VLEN 16

typedef struct fg_conv_plan fg_conv_plan;

fg_conv_plan *fg_conv_plan_create(const fg_stencil *st, int cin, int cout, fg_error *err);
void fg_conv_plan_destroy(fg_conv_plan *p);
void fg_conv_set_weights(fg_conv_plan *p, const float *weight, const float *bias);
void fg_conv_forward(const fg_conv_plan *p, const float *in, float *out, const int *sites,
                     int nsites);
void fg_conv_backward_input(const fg_conv_plan *p, const float *gout, float *gin,
                            const int *sites, int nsites);
void fg_conv_backward_weight(const fg_conv_plan *p, const float *in, const float *gout,
                             double *gweight, double *gbias, const int *sites, int nsites);
double fg_conv_flops(int volume, int cin, int cout, int ksize);
const char *fg_conv_isa(void);

#endif
