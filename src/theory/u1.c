/*
 * u1.c -- U(1) gauge fields in 2D (see u1.h for every function's contract).
 * Local and pure; the plaquette is recomputed where needed rather than
 * stored, so no function allocates.
 */
#include "flowgen/u1.h"

#include <math.h>

static inline double angle(const double *theta, size_t stride, int volume, int mu, int x)
{
  return theta[((size_t)mu * (size_t)volume + (size_t)x) * stride];
}

static inline double plaquette(const fg_lattice *lat, const double *theta, size_t stride, int x)
{
  const int v = lat->volume;
  return angle(theta, stride, v, 0, x) + angle(theta, stride, v, 1, lat->up[x * 2 + 0]) -
         angle(theta, stride, v, 0, lat->up[x * 2 + 1]) - angle(theta, stride, v, 1, x);
}

void fg_u1_plaquettes(const fg_lattice *lat, const double *theta, size_t stride, double *p)
{
  for (int x = 0; x < lat->volume; ++x)
    p[x] = plaquette(lat, theta, stride, x);
}

double fg_u1_gauge_action(const fg_lattice *lat, const double *theta, size_t stride, double beta)
{
  double s = 0.0;
  for (int x = 0; x < lat->volume; ++x)
    s += cos(plaquette(lat, theta, stride, x));
  return -beta * s;
}

void fg_u1_gauge_force(const fg_lattice *lat, const double *theta, size_t stride, double beta,
                       double *force, size_t force_stride)
{
  const int v = lat->volume;
  for (int x = 0; x < v; ++x) {
    double here = sin(plaquette(lat, theta, stride, x));
    double below1 = sin(plaquette(lat, theta, stride, lat->down[x * 2 + 1]));
    double below0 = sin(plaquette(lat, theta, stride, lat->down[x * 2 + 0]));
    force[(size_t)x * force_stride] = beta * (here - below1);
    force[((size_t)v + (size_t)x) * force_stride] = beta * (below0 - here);
  }
}

double fg_u1_mean_plaquette(const fg_lattice *lat, const double *theta, size_t stride)
{
  double s = 0.0;
  for (int x = 0; x < lat->volume; ++x)
    s += cos(plaquette(lat, theta, stride, x));
  return s / lat->volume;
}

double fg_angle_wrap(double t)
{
  double w = t - 2.0 * M_PI * floor((t + M_PI) / (2.0 * M_PI)); /* [-pi, pi) */
  return w <= -M_PI ? w + 2.0 * M_PI : w;                     /* (-pi, pi] */
}

double fg_u1_topological_charge(const fg_lattice *lat, const double *theta, size_t stride)
{
  double q = 0.0;
  for (int x = 0; x < lat->volume; ++x)
    q += fg_angle_wrap(plaquette(lat, theta, stride, x));
  return q / (2.0 * M_PI);
}

void fg_u1_gauge_transform(const fg_lattice *lat, double *theta, size_t stride,
                           const double *alpha)
{
  const int v = lat->volume;
  for (int mu = 0; mu < 2; ++mu)
    for (int x = 0; x < v; ++x) {
      double *t = &theta[((size_t)mu * (size_t)v + (size_t)x) * stride];
      *t = fg_angle_wrap(*t + alpha[x] - alpha[lat->up[x * 2 + mu]]);
    }
}
