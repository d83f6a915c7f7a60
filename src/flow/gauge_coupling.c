/*
 * gauge_coupling.c -- the gauge-equivariant coupling layer of U(1) link
 * angles on a 2D lattice (model.base: haar; Kanwar et al. 2020,
 * arXiv:2003.06413). docs/model.md states the map in full, so that another
 * tool can reproduce log q from a checkpoint.
 *
 *   const fg_layer_type fg_gauge_coupling_type
 *     coupling_layers instances when model.base = haar (none otherwise);
 *     instance i (group layer_NN) declares the conv stack of
 *     fg_convnet_declare with 2 input channels (cos P, sin P of the passive
 *     plaquettes), 6 with model.gauge_loops = rectangle (and cos R, sin R of
 *     the frozen rectangles R_0, R_1), and FG_GAUGE_NRAW = 2 FG_GAUGE_NCP + 1
 *     output channels, FG_GAUGE_SPLINE_NRAW(K) = 3K + 1 with model.gauge_map
 *     spline (K = model.spline_bins).
 *
 * Fields are [2V][FG_VLEN] link angles theta_mu(x) at dof mu V + x (u1.h),
 * plaquette P(y) = theta_0(y) + theta_1(y+0) - theta_0(y+1) - theta_1(y).
 * Layer i picks the direction mu = i mod 2 (nu = 1 - mu) and the offset
 * s = (i / 2) mod 4 (model.gauge_order alternating, the default), or mu =
 * (i / 4) mod 2 and s = -i mod 4 (blocked: four layers along each direction
 * in turn, offsets descending, so that a layer's "others" below are
 * plaquettes a later layer of the block makes active), and updates the
 * links theta_mu(x) with x_nu = s mod 4.
 * Plaquettes, by the updated links they contain:
 *   active  (y_nu = s mod 4): exactly one, theta_mu(y), sign sigma in P(y)
 *           (sigma = +1 for mu = 0, -1 for mu = 1): one per updated link;
 *   passive: none; unchanged by the layer, they are the net's input;
 *   others (y_nu = s - 1 mod 4): they change, and are not looked at.
 * With rectangles, R_0(y) = P(y) + P(y+0) (two sites along 0) and R_1(y) =
 * P(y) + P(y+1) (along 1) as closed loops of 6 links; one is frozen, and an
 * input, when its net coefficient of every updated link is zero: for
 * L_nu divisible by 4, R_mu at y_nu = s+1, s+2 and R_nu at y_nu = s+1, s+3
 * mod 4. R_nu at y_nu = s-1 spans an other and an active plaquette whose
 * shared updated link cancels: the one input that is not a function of
 * passive plaquettes.
 * The net's raw output at an active y parametrises a circle map h_y, a
 * mixture of non-compact projections (NCP) with a shift:
 *   h(x) = sum_k w_k g_k(x) + c,  g_k(x) = 2 atan2(alpha_k sin(x/2), cos(x/2)),
 *   alpha_k = FG_GAUGE_ALPHA_MIN + softplus(a_k + a0),  w = softmax(b),
 *   a0 = log(exp(1 - FG_GAUGE_ALPHA_MIN) - 1)  (alpha = 1 at a = 0),
 * raw channels a_0..a_{K-1}, b_0..b_{K-1}, c (K = FG_GAUGE_NCP): a zero raw
 * output is the identity map. With model.gauge_map spline, h is instead the
 * circular rational-quadratic spline of circle_spline.c followed by its
 * shift (zero raw output: the identity too). With P(y)
 * wrapped into (-pi, pi], the updated link becomes
 *   theta_mu(y) <- wrap(theta_mu(y) + sigma (h(P) - P)),
 * so that P(y) becomes h(P) mod 2 pi, and log J = sum_active log h'(P).
 * Plaquettes, and with them the net's input and output, are gauge invariant
 * and the shift is added to a link, so the layer commutes with gauge
 * transformations. The inverse solves sum_k w_k g_k(x) = wrap(P' - c) by
 * Newton's method inside a bisection bracket (the mixture maps [-pi, pi]
 * onto itself, increasing); the spline's inverse is analytic.
 *
 * Angles, the circle map and log-Jacobians are double; the net is float32.
 * A layer's workspace starts with the net's activations, its input channels
 * first ([cin][V][FG_VLEN] floats; tests read them). The layer is local;
 * the lattice and stencil must outlive it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "flow_internal.h"
#include "flowgen/u1.h"

enum { L = FG_VLEN, K = FG_GAUGE_NCP, NRAW = FG_GAUGE_NRAW, NKINDS = 3 };

/* One kind of closed loop, at every site: the plaquette P, or the
 * rectangle R_0 or R_1. Channels 2k and 2k + 1 of the net's input hold
 * cos and sin of kind k at the sites where it is frozen. */
typedef struct {
  int nlinks;            /* 4 or 6 */
  const double *sign;    /* of each link in the loop */
  int *links;            /* [V][nlinks] dofs */
  int n, *frozen;        /* the sites where the loop holds no updated link */
} loop_kind;

typedef struct {
  fg_layer base;
  int volume, mu, sigma;
  int offset;            /* s: the layer updates theta_mu(x) with x_nu = s mod 4 */
  fg_gauge_map map;      /* the circle map: ncp or spline */
  int bins, nraw;        /* spline bins (spline only); raw output channels */
  double a0;             /* the softplus offset that makes alpha(0) = 1 (ncp) */
  fg_convnet net;
  int nkinds;            /* 1 (plaquettes) or 3 (with rectangles): 2 nkinds input channels */
  loop_kind kind[NKINDS];
  int nact, nin;
  int *act;              /* active plaquettes (their corner sites) */
  int *upd;              /* [nact] the dof each active plaquette updates */
  int *in;               /* the nin sites where some input channel is set */
  size_t loop_off, g_off; /* byte offsets in ws: loop angles [nkinds][V][L] doubles, gradient scratch */
} gauge;

/* P(y) = theta_0(y) + theta_1(y+0) - theta_0(y+1) - theta_1(y);
 * R_0(y) = theta_0(y) + theta_0(y+0) + theta_1(y+0+0) - theta_0(y+0+1) - theta_0(y+1) - theta_1(y);
 * R_1(y) = theta_0(y) + theta_1(y+0) + theta_1(y+0+1) - theta_0(y+1+1) - theta_1(y+1) - theta_1(y). */
static const double plaquette_sign[4] = {1.0, 1.0, -1.0, -1.0};
static const double rectangle_sign[6] = {1.0, 1.0, 1.0, -1.0, -1.0, -1.0};

/* ---- the circle map ------------------------------------------------------ */

typedef struct {
  double alpha[K], dalpha[K]; /* alpha_k and d alpha_k / d a_k */
  double w[K];
  double shift;
} ncp;

/* From one (site, lane)'s raw output, stride apart in the float output;
 * a0 = log(exp(1 - FG_GAUGE_ALPHA_MIN) - 1). */
static void ncp_params(const float *raw, size_t stride, double a0, ncp *p)
{
  double bmax = -HUGE_VAL;
  for (int k = 0; k < K; ++k) {
    p->alpha[k] = FG_GAUGE_ALPHA_MIN + fg_softplus(raw[(size_t)k * stride] + a0, &p->dalpha[k]);
    bmax = fmax(bmax, (double)raw[(size_t)(K + k) * stride]);
  }
  double sum = 0.0;
  for (int k = 0; k < K; ++k)
    sum += p->w[k] = exp(raw[(size_t)(K + k) * stride] - bmax);
  for (int k = 0; k < K; ++k)
    p->w[k] /= sum;
  p->shift = raw[(size_t)(2 * K) * stride];
}

/* The mixture m(x) = sum_k w_k g_k(x) and m'(x). */
static void ncp_mixture(const ncp *p, double x, double *m, double *dm)
{
  const double cs = cos(0.5 * x), sn = sin(0.5 * x);
  double acc = 0.0, dacc = 0.0;
  for (int k = 0; k < K; ++k) {
    const double a = p->alpha[k], d = cs * cs + a * a * sn * sn;
    acc += p->w[k] * 2.0 * atan2(a * sn, cs);
    dacc += p->w[k] * a / d;
  }
  *m = acc;
  *dm = dacc;
}

/* Everything backward needs at x: h - x's gradient pieces and log h'. */
static void ncp_gradient(const ncp *p, double x, fg_circle_map_grad *r)
{
  const double cs = cos(0.5 * x), sn = sin(0.5 * x);
  double g[K], dg[K], m = 0.0, dh = 0.0, d2h = 0.0;
  for (int k = 0; k < K; ++k) {
    const double a = p->alpha[k], d = cs * cs + a * a * sn * sn;
    g[k] = 2.0 * atan2(a * sn, cs);
    dg[k] = a / d;
    m += p->w[k] * g[k];
    dh += p->w[k] * dg[k];
    d2h += p->w[k] * -a * (a * a - 1.0) * sn * cs / (d * d);
  }
  for (int k = 0; k < K; ++k) {
    const double a = p->alpha[k], d = cs * cs + a * a * sn * sn;
    const double dg_da = 2.0 * sn * cs / d, ddg_da = (cs * cs - a * a * sn * sn) / (d * d);
    r->dh_draw[k] = p->w[k] * dg_da * p->dalpha[k];
    r->dlogdh_draw[k] = p->w[k] * ddg_da * p->dalpha[k] / dh;
    r->dh_draw[K + k] = p->w[k] * (g[k] - m);
    r->dlogdh_draw[K + k] = p->w[k] * (dg[k] - dh) / dh;
  }
  r->dh_draw[2 * K] = 1.0;
  r->dlogdh_draw[2 * K] = 0.0;
  r->dh = dh;
  r->dlog_dh_dx = d2h / dh;
}

/* x in [-pi, pi] with m(x) = t, t in [-pi, pi]: Newton steps kept inside a
 * shrinking bracket, until a step no longer moves x. */
static double ncp_invert(const ncp *p, double t)
{
  double lo = -M_PI, hi = M_PI, x = t;
  for (int it = 0; it < 200; ++it) {
    double m, dm;
    ncp_mixture(p, x, &m, &dm);
    if (m == t)
      return x;
    if (m > t)
      hi = x;
    else
      lo = x;
    double next = x - (m - t) / dm;
    if (!(next > lo && next < hi))
      next = 0.5 * (lo + hi);
    if (next == x || hi - lo <= 4.0 * M_PI * 1e-16)
      return next;
    x = next;
  }
  return x;
}

/* ---- either map, as model.gauge_map says ---------------------------------- */

typedef union {
  ncp n;
  fg_circle_spline s;
} circle_map;

/* The map of one (site, lane)'s raw output, stride apart; returns its shift c. */
static double map_params(const gauge *g, const float *raw, size_t stride, circle_map *c)
{
  if (g->map == FG_MAP_SPLINE) {
    fg_circle_spline_params(raw, stride, g->bins, &c->s);
    return c->s.shift;
  }
  ncp_params(raw, stride, g->a0, &c->n);
  return c->n.shift;
}

/* m = h(x) - c and dm = h'(x), for x in [-pi, pi]. */
static void map_value(const gauge *g, const circle_map *c, double x, double *m, double *dm)
{
  if (g->map == FG_MAP_SPLINE)
    *m = fg_circle_spline_value(&c->s, x, dm);
  else
    ncp_mixture(&c->n, x, m, dm);
}

/* x in [-pi, pi] with h(x) - c = t, t in [-pi, pi]. */
static double map_invert(const gauge *g, const circle_map *c, double t)
{
  return g->map == FG_MAP_SPLINE ? fg_circle_spline_invert(&c->s, t) : ncp_invert(&c->n, t);
}

static void map_gradient(const gauge *g, const circle_map *c, double x, fg_circle_map_grad *r)
{
  if (g->map == FG_MAP_SPLINE)
    fg_circle_spline_gradient(&c->s, x, r);
  else
    ncp_gradient(&c->n, x, r);
}

/* ---- the layer ------------------------------------------------------------- */

static size_t gauge_work_bytes(const fg_layer *layer)
{
  const gauge *g = (const gauge *)layer;
  return g->g_off + 2 * sizeof(float) * fg_convnet_scratch_floats(&g->net);
}

static void gauge_set_params(fg_layer *layer, const float *params)
{
  fg_convnet_set_params(&((gauge *)layer)->net, params);
}

/* Wrapped plaquette angles of every site and lane into p. */
static void plaquettes(const gauge *g, const double *theta, double *p)
{
  for (int y = 0; y < g->volume; ++y) {
    const int *d = g->kind[0].links + 4 * (size_t)y;
    for (int l = 0; l < L; ++l)
      p[(size_t)y * L + l] = fg_angle_wrap(theta[(size_t)d[0] * L + l] + theta[(size_t)d[1] * L + l] -
                                           theta[(size_t)d[2] * L + l] - theta[(size_t)d[3] * L + l]);
  }
}

/* Wrapped angles of the frozen rectangles of kind k into r. */
static void rectangles(const gauge *g, int k, const double *theta, double *r)
{
  const loop_kind *q = &g->kind[k];
  for (int i = 0; i < q->n; ++i) {
    const int *d = q->links + 6 * (size_t)q->frozen[i];
    size_t y = (size_t)q->frozen[i] * L;
    for (int l = 0; l < L; ++l)
      r[y + l] = fg_angle_wrap(theta[(size_t)d[0] * L + l] + theta[(size_t)d[1] * L + l] +
                               theta[(size_t)d[2] * L + l] - theta[(size_t)d[3] * L + l] -
                               theta[(size_t)d[4] * L + l] - theta[(size_t)d[5] * L + l]);
  }
}

/* Loop angles into ws, the net's input (cos, sin of each kind where it is
 * frozen; zero elsewhere), and the net's raw output at the active plaquettes. */
static void conditioner(const gauge *g, void *ws, const double *theta)
{
  float *x = (float *)ws + g->net.act_off[0];
  double *p = (double *)((char *)ws + g->loop_off);
  const size_t plane = (size_t)g->volume * L;
  plaquettes(g, theta, p);
  for (int k = 1; k < g->nkinds; ++k)
    rectangles(g, k, theta, p + k * plane);
  memset(x, 0, sizeof(float) * 2 * (size_t)g->nkinds * plane);
  for (int k = 0; k < g->nkinds; ++k) {
    const loop_kind *q = &g->kind[k];
    float *xc = x + 2 * (size_t)k * plane, *xs = xc + plane;
    const double *a = p + k * plane;
    for (int i = 0; i < q->n; ++i) {
      size_t y = (size_t)q->frozen[i] * L;
      for (int l = 0; l < L; ++l) {
        xc[y + l] = (float)cos(a[y + l]);
        xs[y + l] = (float)sin(a[y + l]);
      }
    }
  }
  fg_convnet_forward(&g->net, ws, g->act, g->nact);
}

/* Each active plaquette's circle map on its updated link (or the inverse
 * map), logdet += log h' at the plaquette before the forward map. */
static void apply_circle_maps(const gauge *g, const void *ws, double *theta, double *logdet,
                              int inverse)
{
  const double *p = (const double *)((const char *)ws + g->loop_off);
  const float *raw = (const float *)ws + g->net.act_off[g->net.nconv];
  const size_t plane = (size_t)g->volume * L;
  for (int i = 0; i < g->nact; ++i) {
    size_t y = (size_t)g->act[i] * L, u = (size_t)g->upd[i] * L;
    for (int l = 0; l < L; ++l) {
      circle_map c;
      double m, dm, x = p[y + l], out;
      const double shift = map_params(g, raw + y + l, plane, &c);
      if (inverse) {
        out = x;
        x = map_invert(g, &c, fg_angle_wrap(out - shift));
        map_value(g, &c, x, &m, &dm);
      } else {
        map_value(g, &c, x, &m, &dm);
        out = m + shift;
      }
      theta[u + l] = fg_angle_wrap(theta[u + l] + g->sigma * (inverse ? x - out : out - x));
      logdet[l] += log(dm);
    }
  }
}

static void gauge_forward(const fg_layer *layer, void *ws, double *theta, double *logdet,
                          int save)
{
  (void)save; /* what backward needs (plaquettes, activations) stays in ws anyway */
  const gauge *g = (const gauge *)layer;
  conditioner(g, ws, theta);
  apply_circle_maps(g, ws, theta, logdet, 0);
}

static void gauge_inverse(const fg_layer *layer, void *ws, double *theta, double *logdet)
{
  const gauge *g = (const gauge *)layer;
  conditioner(g, ws, theta); /* the frozen loops are the same before and after */
  apply_circle_maps(g, ws, theta, logdet, 1);
}

/* gtheta[links of the loop of kind k at y] += d loop/d theta gp for one
 * site's lanes. */
static void spread_loop_gradient(const gauge *g, int k, double *gtheta, int y, const double *gp)
{
  const loop_kind *q = &g->kind[k];
  const int *d = q->links + (size_t)q->nlinks * (size_t)y;
  for (int j = 0; j < q->nlinks; ++j)
    for (int l = 0; l < L; ++l)
      gtheta[(size_t)d[j] * L + l] += q->sign[j] * gp[l];
}

/* The active plaquettes: seeds the gradient of the net's raw output (zero
 * elsewhere) and adds the direct dependence on P(y) to gtheta. An active
 * plaquette holds no other updated link, so reading gtheta at one updated
 * link is never disturbed by another's spreading. */
static void seed_active(const gauge *g, const void *ws, double *gtheta, const double *glogdet,
                        float *gout)
{
  const double *p = (const double *)((const char *)ws + g->loop_off);
  const float *raw = (const float *)ws + g->net.act_off[g->net.nconv];
  const size_t plane = (size_t)g->volume * L;
  memset(gout, 0, sizeof(float) * (size_t)g->nraw * plane);
  for (int i = 0; i < g->nact; ++i) {
    size_t y = (size_t)g->act[i] * L, u = (size_t)g->upd[i] * L;
    double gp[L];
    for (int l = 0; l < L; ++l) {
      circle_map c;
      fg_circle_map_grad r;
      map_params(g, raw + y + l, plane, &c);
      map_gradient(g, &c, p[y + l], &r);
      const double gu = gtheta[u + l] * g->sigma, gl = glogdet[l];
      for (int ch = 0; ch < g->nraw; ++ch)
        gout[ch * plane + y + l] = (float)(gu * r.dh_draw[ch] + gl * r.dlogdh_draw[ch]);
      gp[l] = gu * (r.dh - 1.0) + gl * r.dlog_dh_dx;
    }
    spread_loop_gradient(g, 0, gtheta, g->act[i], gp);
  }
}

static void gauge_backward(const fg_layer *layer, void *ws, double *gtheta,
                           const double *glogdet, double *gparams)
{
  const gauge *g = (const gauge *)layer;
  const double *p = (const double *)((const char *)ws + g->loop_off);
  const size_t plane = (size_t)g->volume * L;
  float *ga = (float *)((char *)ws + g->g_off), *gb = ga + fg_convnet_scratch_floats(&g->net);
  seed_active(g, ws, gtheta, glogdet, ga);
  const float *gin = fg_convnet_backward(&g->net, ws, ga, gb, gparams, g->act, g->nact, g->in,
                                         g->nin);
  for (int k = 0; k < g->nkinds; ++k) {
    const loop_kind *q = &g->kind[k];
    const float *gc = gin + 2 * (size_t)k * plane, *gs = gc + plane;
    const double *a = p + k * plane;
    for (int i = 0; i < q->n; ++i) {
      size_t y = (size_t)q->frozen[i] * L;
      double gloop[L];
      for (int l = 0; l < L; ++l) /* d(cos a, sin a)/da = (-sin a, cos a) */
        gloop[l] = -(double)gc[y + l] * sin(a[y + l]) + (double)gs[y + l] * cos(a[y + l]);
      spread_loop_gradient(g, k, gtheta, q->frozen[i], gloop);
    }
  }
}

/* d theta'/d theta = h'(P) at each updated link (sigma^2 = 1). */
static void gauge_active_diag(const fg_layer *layer, const void *ws, double *d)
{
  const gauge *g = (const gauge *)layer;
  const double *p = (const double *)((const char *)ws + g->loop_off);
  const float *raw = (const float *)ws + g->net.act_off[g->net.nconv];
  const size_t plane = (size_t)g->volume * L;
  for (int i = 0; i < g->nact; ++i) {
    size_t y = (size_t)g->act[i] * L, u = (size_t)g->upd[i] * L;
    for (int l = 0; l < L; ++l) {
      circle_map c;
      double m, dm;
      map_params(g, raw + y + l, plane, &c);
      map_value(g, &c, p[y + l], &m, &dm);
      d[u + l] = dm;
    }
  }
}

static void gauge_destroy(fg_layer *layer)
{
  gauge *g = (gauge *)layer;
  if (g == NULL)
    return;
  fg_convnet_destroy(&g->net);
  for (int k = 0; k < NKINDS; ++k) {
    fg_free(g->kind[k].links);
    fg_free(g->kind[k].frozen);
  }
  fg_free(g->act);
  fg_free(g->upd);
  fg_free(g->in);
  fg_free(g);
}

static const fg_layer_ops gauge_ops = {
    .name = "gauge_coupling",
    .forward = gauge_forward,
    .inverse = gauge_inverse,
    .backward = gauge_backward,
    .active_diag = gauge_active_diag,
    .set_params = gauge_set_params,
    .work_bytes = gauge_work_bytes,
    .destroy = gauge_destroy,
};

/* The direction and offset of layer i under model.gauge_order (see the top). */
static void layer_mask(fg_gauge_order order, int i, int *mu, int *s)
{
  if (order == FG_ORDER_BLOCKED) {
    *mu = (i / 4) % 2;
    *s = (4 - i % 4) % 4;
  } else {
    *mu = i % 2;
    *s = (i / 2) % 4;
  }
}

/* The plaquettes' links and the classes of the layer (see the top). */
static int classify(gauge *g, const fg_lattice *lat, fg_error *err)
{
  static const char where[] = "fg_gauge_coupling_create [gauge_coupling.c]";
  const int v = lat->volume, nu = 1 - g->mu, s = g->offset;
  loop_kind *pl = &g->kind[0];
  g->act = fg_alloc(sizeof(int) * (size_t)v, err, where);
  pl->frozen = fg_alloc(sizeof(int) * (size_t)v, err, where);
  g->upd = fg_alloc(sizeof(int) * (size_t)v, err, where);
  pl->links = fg_alloc(sizeof(int) * 4 * (size_t)v, err, where);
  if (!g->act || !pl->frozen || !g->upd || !pl->links)
    return FG_ERR_RUNTIME;
  pl->nlinks = 4;
  pl->sign = plaquette_sign;
  for (int y = 0; y < v; ++y) {
    int *d = pl->links + 4 * (size_t)y;
    d[0] = y;
    d[1] = v + lat->up[2 * y + 0];
    d[2] = lat->up[2 * y + 1];
    d[3] = v + y;
    int x[2], xn[2];
    fg_lattice_coords(lat, y, x);
    fg_lattice_coords(lat, lat->up[2 * y + nu], xn);
    /* P(y)'s two mu-links sit at x_nu and x_nu + 1 (periodic) */
    int low = x[nu] % 4 == s, high = xn[nu] % 4 == s;
    if (low) {
      g->upd[g->nact] = g->mu == 0 ? d[0] : d[3];
      g->act[g->nact++] = y;
    } else if (!high) {
      pl->frozen[pl->n++] = y;
    }
    if (low && high)
      return fg_fail(err, FG_ERR_INPUT, where, "a plaquette holds two updated links");
  }
  return FG_OK;
}

/* 1 if dof d is a link that layer (g->mu, s) updates. */
static int is_updated(const gauge *g, const fg_lattice *lat, int s, int d)
{
  int x[2];
  if (d / g->volume != g->mu)
    return 0;
  fg_lattice_coords(lat, d % g->volume, x);
  return x[1 - g->mu] % 4 == s;
}

/* 1 if the loop of kind q at y has a zero net coefficient on every updated
 * link (on an extent 2 a link can enter a rectangle twice, with opposite signs). */
static int loop_frozen(const gauge *g, const fg_lattice *lat, int s, const loop_kind *q, int y)
{
  const int *d = q->links + (size_t)q->nlinks * (size_t)y;
  for (int j = 0; j < q->nlinks; ++j) {
    double c = 0.0;
    for (int k = 0; k < q->nlinks; ++k)
      c += d[k] == d[j] ? q->sign[k] : 0.0;
    if (c != 0.0 && is_updated(g, lat, s, d[j]))
      return 0;
  }
  return 1;
}

/* The six links of R_0(y) (k = 1) or R_1(y) (k = 2), as rectangle_sign orders them. */
static void rectangle_links(const fg_lattice *lat, int k, int y, int *d)
{
  const int v = lat->volume, *up = lat->up;
  if (k == 1) {
    const int y0 = up[2 * y + 0]; /* y + e0 */
    d[0] = y, d[1] = y0, d[2] = v + up[2 * y0 + 0];
    d[3] = up[2 * y0 + 1], d[4] = up[2 * y + 1], d[5] = v + y;
  } else {
    const int y0 = up[2 * y + 0], y1 = up[2 * y + 1]; /* y + e0, y + e1 */
    d[0] = y, d[1] = v + y0, d[2] = v + up[2 * y0 + 1];
    d[3] = up[2 * y1 + 1], d[4] = v + y1, d[5] = v + y;
  }
}

/* The rectangles' links (kinds 1 and 2) and where the layer leaves them
 * unchanged. */
static int classify_rectangles(gauge *g, const fg_lattice *lat, fg_error *err)
{
  static const char where[] = "fg_gauge_coupling_create [gauge_coupling.c]";
  const int v = lat->volume, s = g->offset;
  for (int k = 1; k < g->nkinds; ++k) {
    loop_kind *q = &g->kind[k];
    q->nlinks = 6;
    q->sign = rectangle_sign;
    q->links = fg_alloc(sizeof(int) * 6 * (size_t)v, err, where);
    q->frozen = fg_alloc(sizeof(int) * (size_t)v, err, where);
    if (!q->links || !q->frozen)
      return FG_ERR_RUNTIME;
    for (int y = 0; y < v; ++y) {
      rectangle_links(lat, k, y, q->links + 6 * (size_t)y);
      if (loop_frozen(g, lat, s, q, y))
        q->frozen[q->n++] = y;
    }
  }
  return FG_OK;
}

/* The sites where some input channel is set, in increasing order: the
 * input gradient is needed there only. */
static int input_sites(gauge *g, fg_error *err)
{
  static const char where[] = "fg_gauge_coupling_create [gauge_coupling.c]";
  const int v = g->volume;
  unsigned char *used = fg_alloc((size_t)v, err, where);
  g->in = fg_alloc(sizeof(int) * (size_t)v, err, where);
  if (!used || !g->in) {
    fg_free(used);
    return FG_ERR_RUNTIME;
  }
  memset(used, 0, (size_t)v);
  for (int k = 0; k < g->nkinds; ++k)
    for (int i = 0; i < g->kind[k].n; ++i)
      used[g->kind[k].frozen[i]] = 1;
  for (int y = 0; y < v; ++y)
    if (used[y])
      g->in[g->nin++] = y;
  fg_free(used);
  return FG_OK;
}

/* The raw output channels per active plaquette. */
static int raw_channels(const fg_model_config *m)
{
  return m->gauge_map == FG_MAP_SPLINE ? FG_GAUGE_SPLINE_NRAW(m->spline_bins) : NRAW;
}

static int gauge_instances(const fg_model_config *m)
{
  if (!fg_convnet_valid(m) || !strcmp(fg_gauge_loops_name(m->gauge_loops), "?") ||
      !strcmp(fg_gauge_map_name(m->gauge_map), "?") ||
      !strcmp(fg_gauge_order_name(m->gauge_order), "?"))
    return -1;
  if (m->gauge_map == FG_MAP_SPLINE &&
      (m->spline_bins < FG_SPLINE_BINS_MIN || m->spline_bins > FG_SPLINE_BINS_MAX))
    return -1;
  return m->base == FG_BASE_HAAR ? m->coupling_layers : 0;
}

static int gauge_declare(const fg_model_config *m, int index, int count, fg_param_layout *lay)
{
  if (gauge_instances(m) < 0)
    return -1;
  char group[32];
  fg_layer_group_name(group, sizeof group, index, count);
  const int cin = m->gauge_loops == FG_LOOPS_RECTANGLE ? 2 * NKINDS : 2;
  return fg_convnet_declare(m, group, cin, raw_channels(m), lay);
}

static int gauge_create(const fg_model_config *m, const fg_lattice *lat, const fg_stencil *st,
                        int index, size_t param_offset, fg_layer **out, fg_error *err)
{
  static const char where[] = "fg_gauge_coupling_create [gauge_coupling.c]";
  *out = NULL;
  if (lat->nd != 2)
    return fg_fail(err, FG_ERR_INPUT, where, "U(1) gauge layers need a 2D lattice, not %dD",
                   lat->nd);
  gauge *g = fg_alloc(sizeof *g, err, where);
  if (g == NULL)
    return FG_ERR_RUNTIME;
  g->base.ops = &gauge_ops;
  g->base.param_offset = param_offset;
  g->volume = lat->volume;
  layer_mask(m->gauge_order, index, &g->mu, &g->offset);
  g->sigma = g->mu == 0 ? 1 : -1;
  g->a0 = log(expm1(1.0 - FG_GAUGE_ALPHA_MIN));
  g->map = m->gauge_map;
  g->bins = m->spline_bins;
  g->nraw = raw_channels(m);
  g->nkinds = m->gauge_loops == FG_LOOPS_RECTANGLE ? NKINDS : 1;
  fg_param_tensor decl[2 * (FG_MAXHIDDEN + 1)];
  fg_param_layout own = {.cap = 2 * (FG_MAXHIDDEN + 1), .t = decl};
  int rc = gauge_declare(m, index, 1, &own) == 0 && own.n == 2 * (size_t)(m->n_hidden + 1)
               ? classify(g, lat, err)
               : fg_fail(err, FG_ERR_INPUT, where, "invalid conditioner architecture");
  if (rc == FG_OK)
    rc = classify_rectangles(g, lat, err);
  if (rc == FG_OK)
    rc = input_sites(g, err);
  if (rc == FG_OK)
    rc = fg_convnet_create(&g->net, st, m->activation, decl, (int)own.n, err);
  if (rc != FG_OK) {
    gauge_destroy(&g->base);
    return rc;
  }
  g->base.nparams = own.nparams;
  g->base.active = g->upd;
  g->base.nactive = g->nact;
  g->loop_off = (g->net.floats * sizeof(float) + 63) & ~(size_t)63;
  g->g_off = g->loop_off + sizeof(double) * (size_t)g->nkinds * (size_t)lat->volume * L;
  *out = &g->base;
  return FG_OK;
}

const fg_layer_type fg_gauge_coupling_type = {
    .name = "gauge_coupling",
    .acts_first = 0,
    .uses_stencil = 1,
    .instances = gauge_instances,
    .declare = gauge_declare,
    .create = gauge_create,
};
