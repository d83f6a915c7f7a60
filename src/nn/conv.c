/*
 * conv.c -- convolution plans: weight packing and the choice of kernels
 * (see nn.h for the contract of every function; the loops are in
 * conv_kernels.c). All functions are local and single-threaded.
 *
 *   fg_conv_plan *fg_conv_plan_create(const fg_stencil *st, int cin, int cout,
 *                                     fg_error *err)
 *     NULL (err filled, FG_ERR_INPUT) for cin or cout < 1 or a stencil
 *     without a table; FG_ERR_RUNTIME when out of memory. The plan picks
 *     its kernels now: AVX-512 when the build has them and the CPU runs
 *     them (AVX512F/VL/BW/DQ), unless FLOWGEN_ISA=portable. Weights start
 *     at zero.
 *
 *   void fg_conv_plan_destroy(fg_conv_plan *p)      (NULL allowed)
 *
 *   void fg_conv_set_weights(fg_conv_plan *p, const float *weight, const float *bias)
 *     bias may be NULL (zero bias).
 *
 *   void fg_conv_forward(p, in, out, sites, nsites)
 *   void fg_conv_backward_input(p, gout, gin, sites, nsites)
 *   void fg_conv_backward_weight(p, in, gout, gweight, gbias, sites, nsites)
 *     As in nn.h. The input and output arrays of one call must not overlap.
 *     nsites <= 0 with a site list does nothing.
 *
 *   double fg_conv_flops(int volume, int cin, int cout, int ksize)
 *     2 * volume * cin * cout * ksize^2.
 *
 *   const char *fg_conv_isa(void)
 *     What a plan created now would use.
 *
 * The transposed convolution of backward_input runs on the forward kernel:
 * with circular padding, tap k of output site y reads site y + d_k where the
 * offsets satisfy d_{ntaps-1-k} = -d_k, so
 *   gin[i][x] = sum_{o,k} W[o][i][ntaps-1-k] gout[o][stencil(x, k)],
 * a forward convolution from cout to cin channels with the weights
 * transposed and flipped, and no bias.
 */
#include "flowgen/nn.h"

#include <stdlib.h>
#include <string.h>

#include "conv_internal.h"

struct fg_conv_plan {
  const fg_conv_kernels *kernels;
  fg_conv_geometry forward, transposed; /* transposed: cin and cout swapped */
  int ob_forward, ob_transposed;        /* output channels per kernel tile */
  int weight_tiling;                    /* the weight gradient's tiles */
  float *w_forward, *w_transposed;      /* packed for the kernel tiles */
  float *bias, *zero_bias;
  int *all_sites; /* 0 .. volume-1 */
};

static int cpu_runs_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#else
  return 0;
#endif
}

static const fg_conv_kernels *choose_kernels(void)
{
  const char *isa = getenv("FLOWGEN_ISA");
  if (isa != NULL && strcmp(isa, "portable") == 0)
    return &fg_conv_kernels_portable;
  if (fg_conv_kernels_avx512.available && cpu_runs_avx512())
    return &fg_conv_kernels_avx512;
  return &fg_conv_kernels_portable;
}

const char *fg_conv_isa(void) { return choose_kernels()->isa; }

double fg_conv_flops(int volume, int cin, int cout, int ksize)
{
  return 2.0 * volume * cin * cout * ksize * ksize;
}

/* Floats of the weights packed in tiles of ob output channels (the tile
 * count rounds up; the last tile overlaps the one before). */
static size_t packed_size(const fg_conv_geometry *g, int ob)
{
  size_t ntiles = (size_t)((g->cout + ob - 1) / ob);
  return ntiles * (size_t)g->ntaps * (size_t)g->cin * (size_t)ob;
}

fg_conv_plan *fg_conv_plan_create(const fg_stencil *st, int cin, int cout, fg_error *err)
{
  static const char where[] = "fg_conv_plan_create [conv.c]";
  if (st == NULL || st->index == NULL || st->volume < 1 || st->ntaps < 1) {
    fg_fail(err, FG_ERR_INPUT, where, "stencil not initialised");
    return NULL;
  }
  if (cin < 1 || cout < 1) {
    fg_fail(err, FG_ERR_INPUT, where, "channels %d -> %d: both must be >= 1", cin, cout);
    return NULL;
  }
  fg_conv_plan *p = fg_alloc(sizeof *p, err, where);
  if (p == NULL)
    return NULL;
  p->kernels = choose_kernels();
  p->forward = (fg_conv_geometry){st->volume, cin, cout, st->ntaps, st->index};
  p->transposed = (fg_conv_geometry){st->volume, cout, cin, st->ntaps, st->index};
  p->ob_forward = p->kernels->forward_oblock(cout);
  p->ob_transposed = p->kernels->forward_oblock(cin);
  p->weight_tiling = p->kernels->weight_tiling(&p->forward);
  p->w_forward = fg_alloc(sizeof(float) * packed_size(&p->forward, p->ob_forward), err, where);
  p->w_transposed =
      fg_alloc(sizeof(float) * packed_size(&p->transposed, p->ob_transposed), err, where);
  p->bias = fg_alloc(sizeof(float) * (size_t)cout, err, where);
  p->zero_bias = fg_alloc(sizeof(float) * (size_t)cin, err, where);
  p->all_sites = fg_alloc(sizeof(int) * (size_t)st->volume, err, where);
  if (!p->w_forward || !p->w_transposed || !p->bias || !p->zero_bias || !p->all_sites) {
    fg_conv_plan_destroy(p);
    return NULL;
  }
  for (int y = 0; y < st->volume; ++y)
    p->all_sites[y] = y;
  return p;
}

void fg_conv_plan_destroy(fg_conv_plan *p)
{
  if (p == NULL)
    return;
  fg_free(p->w_forward);
  fg_free(p->w_transposed);
  fg_free(p->bias);
  fg_free(p->zero_bias);
  fg_free(p->all_sites);
  fg_free(p);
}

/* Packs W (PyTorch layout [cout][cin][ntaps] of the FORWARD geometry f) for
 * the kernel geometry g: g == f as is, or transposed and flipped when
 * `transpose` (g has cin and cout of f swapped). */
static void pack_weights(const fg_conv_geometry *f, const float *weight, int transpose, int ob,
                         float *wpack)
{
  const int gin = transpose ? f->cout : f->cin, gout = transpose ? f->cin : f->cout;
  const int ntaps = f->ntaps, ntiles = (gout + ob - 1) / ob;
  size_t n = 0;
  for (int t = 0; t < ntiles; ++t) {
    int o0 = t * ob + ob > gout ? gout - ob : t * ob;
    for (int k = 0; k < ntaps; ++k)
      for (int i = 0; i < gin; ++i)
        for (int o = o0; o < o0 + ob; ++o) {
          size_t src = transpose ? ((size_t)i * f->cin + o) * ntaps + (ntaps - 1 - k)
                                 : ((size_t)o * f->cin + i) * ntaps + k;
          wpack[n++] = weight[src];
        }
  }
}

void fg_conv_set_weights(fg_conv_plan *p, const float *weight, const float *bias)
{
  pack_weights(&p->forward, weight, 0, p->ob_forward, p->w_forward);
  pack_weights(&p->forward, weight, 1, p->ob_transposed, p->w_transposed);
  for (int o = 0; o < p->forward.cout; ++o)
    p->bias[o] = bias != NULL ? bias[o] : 0.0f;
}

void fg_conv_forward(const fg_conv_plan *p, const float *in, float *out, const int *sites,
                     int nsites)
{
  if (sites == NULL) {
    sites = p->all_sites;
    nsites = p->forward.volume;
  }
  if (nsites > 0)
    p->kernels->forward(&p->forward, p->ob_forward, p->w_forward, p->bias, in, out, sites,
                        nsites);
}

void fg_conv_backward_input(const fg_conv_plan *p, const float *gout, float *gin,
                            const int *sites, int nsites)
{
  if (sites == NULL) {
    sites = p->all_sites;
    nsites = p->forward.volume;
  }
  if (nsites > 0)
    p->kernels->forward(&p->transposed, p->ob_transposed, p->w_transposed, p->zero_bias, gout,
                        gin, sites, nsites);
}

void fg_conv_backward_weight(const fg_conv_plan *p, const float *in, const float *gout,
                             double *gweight, double *gbias, const int *sites, int nsites)
{
  if (sites == NULL) {
    sites = p->all_sites;
    nsites = p->forward.volume;
  }
  if (nsites > 0)
    p->kernels->weight_grad(&p->forward, p->weight_tiling, in, gout, gweight, gbias, sites,
                            nsites);
}
