/* test_hmc_run.c -- the HMC run, ESS_target and compare: file layout and streams, bitwise resume (also after a kill between a thermalising field and its count), refused continuations (D06, D01), free-theory propagator, agreement with a flow at the tutorial point, ESS_target of exact and Gaussian models against the closed form. */
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flowgen/checkpoint.h"
#include "flowgen/ensemble.h"
#include "flowgen/hmc.h"
#include "flowgen/report.h"
#include "flowgen/service.h"
#include "flowgen/train.h"
#include "testutil.h"

static char *dir;

static char *path_in(const char *name)
{
  static char buf[8][4200];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, sizeof buf[0], "%s/%s", dir, name);
  return p;
}

static int exists(const char *name) { return access(path_in(name), F_OK) == 0; }

/* A config file `name`.yaml in the test folder; `body` holds the sections
 * after seed (theory, model, and train/sample/hmc as needed). */
static void load(fg_config *cfg, const char *name, const char *body)
{
  char text[4096];
  snprintf(text, sizeof text, "seed: 2024\n%s", body);
  char file[256];
  snprintf(file, sizeof file, "%s.yaml", name);
  ck_assert_int_eq(fg_test_write_file(path_in(file), text), 0);
  fg_error err = {0};
  ck_assert_msg(fg_config_load(path_in(file), cfg, &err) == FG_OK, "%s", err.msg);
}

static int hmc(const fg_config *cfg, int resume, int64_t stop_after, fg_hmc_result *res,
               fg_error *err)
{
  fg_hmc_options opt = {.comm = MPI_COMM_WORLD, .resume = resume, .stop_after = stop_after};
  return fg_hmc_run(cfg, &opt, res, err);
}

static const char FREE[] = "theory: {name: phi4, lattice: [8, 8], m2: 0.5, lambda: 0.0}\n";
static const char TUTORIAL[] = "theory: {name: phi4, lattice: [8, 8], m2: -4.0, lambda: 2.0}\n";
static const char NO_MODEL[] = "model: {coupling_layers: 1, kernel_size: 3, hidden_channels: []}\n";

/* An HMC ensemble `name`.h5 (made once; tests run in separate processes). */
static void make_hmc(const char *name, const char *theory, int64_t ntraj)
{
  char file[64], body[2048];
  snprintf(file, sizeof file, "%s.h5", name);
  if (exists(file))
    return;
  snprintf(body, sizeof body, "%s%shmc: {trajectories: %lld, thermalization: 200, "
           "checkpoint_every: 100000, output: %s}\n", theory, NO_MODEL, (long long)ntraj, file);
  fg_config cfg;
  load(&cfg, name, body);
  fg_hmc_result res;
  fg_error err = {0};
  ck_assert_msg(hmc(&cfg, 0, 0, &res, &err) == FG_OK, "%s", err.msg);
  ck_assert(res.complete);
  ck_assert_msg(res.acceptance > 0.7 && res.acceptance < 1.0, "acceptance %g", res.acceptance);
  fg_config_free(&cfg);
}

static void load_file(const char *name, fg_ensemble_data *d)
{
  fg_error err = {0};
  ck_assert_msg(fg_ensemble_load(path_in(name), d, &err) == FG_OK, "%s", err.msg);
}

static double attr(const fg_ensemble_data *d, const char *name)
{
  const fg_ensemble_attr *a = fg_ensemble_attr_find(d, name);
  ck_assert_msg(a != NULL && !a->is_string, "attribute %s", name);
  return a->value;
}

START_TEST(output_names_per_rank)
{
  char b[256];
  fg_hmc_output_path("out/hmc.h5", 0, 1, b, sizeof b);
  ck_assert_str_eq(b, "out/hmc.h5");
  fg_hmc_output_path("out/hmc.h5", 3, 4, b, sizeof b);
  ck_assert_str_eq(b, "out/hmc_rank3.h5");
  fg_hmc_output_path("a.b/hmc", 1, 2, b, sizeof b);
  ck_assert_str_eq(b, "a.b/hmc_rank1");
  fg_hmc_output_path("x/.hidden", 1, 2, b, sizeof b);
  ck_assert_str_eq(b, "x/.hidden_rank1");
}
END_TEST

static const char LAYOUT_HMC[] =
    "hmc: {trajectories: 300, thermalization: 50, md_steps: 8, integrator: omelyan,\n"
    "      checkpoint_every: 64, output: layout.h5}\n";

/* Rows 0 and 1 again, by hand: zero field, trajectories 0, 1, ... of stream
 * (seed, FG_RNG_HMC, t, 0), the first 50 not stored. */
static void check_stream(const fg_config *cfg, const fg_ensemble_data *d)
{
  fg_theory *t;
  fg_hmc *h;
  fg_hmc_params p;
  fg_error err = {0};
  fg_hmc_params_from_config(&cfg->hmc, &p);
  ck_assert_int_eq(fg_theory_create(&cfg->theory, &t, &err), FG_OK);
  ck_assert_int_eq(fg_hmc_create(t, &p, &h, &err), FG_OK);
  double phi[64] = {0};
  fg_hmc_outcome o;
  for (int64_t k = 0; k < 52; ++k) {
    fg_hmc_trajectory(h, phi, cfg->seed, 0, k, &o);
    if (k >= 50)
      ck_assert(memcmp(phi, d->configs + (k - 50) * 64, sizeof phi) == 0);
  }
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
}

START_TEST(run_writes_a_complete_hmc_ensemble)
{
  char body[2048];
  snprintf(body, sizeof body, "%s%s%s", TUTORIAL, NO_MODEL, LAYOUT_HMC);
  fg_config cfg;
  load(&cfg, "layout", body);
  fg_hmc_result res;
  fg_error err = {0};
  ck_assert_msg(hmc(&cfg, 0, 0, &res, &err) == FG_OK, "%s", err.msg);
  ck_assert(res.complete && res.trajectories == 300 && res.thermalized == 50);
  ck_assert(exists("layout.h5") && !exists("layout.h5.tmp"));
  fg_ensemble_data d;
  load_file("layout.h5", &d);
  ck_assert_int_eq(d.layout.kind, FG_ENSEMBLE_HMC);
  ck_assert(d.layout.n_configs == 300 && d.layout.n_chain == 300);
  ck_assert(d.logq == NULL && d.logw == NULL);
  fg_theory *t;
  ck_assert_int_eq(fg_theory_create(&cfg.theory, &t, &err), FG_OK);
  int64_t moved = 0;
  for (int64_t i = 0; i < 300; ++i) {
    const double *row = d.configs + i * 64;
    double S;
    fg_theory_action(t, row, 1, &S);
    ck_assert(S == d.action[i]);
    ck_assert_int_eq(d.chain_index[i], i);
    moved += d.chain_accepted[i];
    /* a rejected trajectory stores the same field again, an accepted one a new field */
    if (i > 0)
      ck_assert_int_eq(memcmp(row, row - 64, sizeof(double) * 64) != 0, d.chain_accepted[i]);
  }
  fg_theory_destroy(t);
  ck_assert(moved > 150 && moved < 300);
  ck_assert_double_eq(attr(&d, "acceptance"), (double)moved / 300);
  ck_assert_double_eq(res.acceptance, (double)moved / 300);
  ck_assert_double_eq(attr(&d, "force_evaluations"), 350.0 * 17); /* omelyan: 2n + 1 */
  ck_assert_double_eq(attr(&d, "md_steps"), 8);
  ck_assert_double_eq(attr(&d, "stream_id"), 0);
  ck_assert_double_eq(attr(&d, "seed"), 2024);
  ck_assert(fabs(res.exp_minus_dH - 1) < 0.2);
  check_stream(&cfg, &d);
  fg_ensemble_data_free(&d);
  /* a finished output is neither overwritten nor resumed */
  ck_assert_int_eq(hmc(&cfg, 0, 0, &res, &err), FG_ERR_INPUT);
  ck_assert(strstr(err.msg, "layout.h5") != NULL);
  ck_assert_int_eq(hmc(&cfg, 1, 0, &res, &err), FG_ERR_INPUT);
  fg_config_free(&cfg);
}
END_TEST

static void same_files(const char *a, const char *b)
{
  fg_ensemble_data x, y;
  load_file(a, &x);
  load_file(b, &y);
  size_t n = (size_t)x.layout.n_configs;
  ck_assert_int_eq(x.layout.n_configs, y.layout.n_configs);
  ck_assert(memcmp(x.configs, y.configs, sizeof(double) * n * (size_t)x.volume) == 0);
  ck_assert(memcmp(x.action, y.action, sizeof(double) * n) == 0);
  ck_assert(memcmp(x.chain_index, y.chain_index, sizeof(int64_t) * n) == 0);
  ck_assert(memcmp(x.chain_accepted, y.chain_accepted, n) == 0);
  ck_assert_double_eq(attr(&x, "acceptance"), attr(&y, "acceptance"));
  ck_assert_double_eq(attr(&x, "exp_minus_dH"), attr(&y, "exp_minus_dH"));
  fg_ensemble_data_free(&x);
  fg_ensemble_data_free(&y);
}

static void split_config(fg_config *cfg, int md_steps)
{
  char body[2048];
  snprintf(body, sizeof body, "%s%shmc: {trajectories: 400, thermalization: 120, md_steps: %d,\n"
           "      checkpoint_every: 50, output: split.h5}\n", TUTORIAL, NO_MODEL, md_steps);
  load(cfg, "split", body);
}

START_TEST(stop_and_resume_equals_uninterrupted)
{
  char body[2048];
  snprintf(body, sizeof body, "%s%shmc: {trajectories: 400, thermalization: 120, "
           "checkpoint_every: 50, output: whole.h5}\n", TUTORIAL, NO_MODEL);
  fg_config whole, split, changed;
  load(&whole, "whole", body);
  split_config(&split, 10);
  fg_hmc_result r;
  fg_error err = {0};
  ck_assert_msg(hmc(&whole, 0, 0, &r, &err) == FG_OK, "%s", err.msg);
  /* stopped inside thermalisation, between checkpoints */
  ck_assert_msg(hmc(&split, 0, 77, &r, &err) == FG_OK, "%s", err.msg);
  ck_assert(!r.complete && r.thermalized == 77 && r.trajectories == 0);
  ck_assert(exists("split.h5.tmp") && !exists("split.h5"));
  /* then inside production, mid-buffer */
  ck_assert_msg(hmc(&split, 1, 333, &r, &err) == FG_OK, "%s", err.msg);
  ck_assert(!r.complete && r.thermalized == 120 && r.trajectories == 213);
  /* a resume with other parameters is refused, naming what changed */
  split_config(&changed, 12);
  ck_assert_int_eq(hmc(&changed, 1, 0, &r, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "md_steps") != NULL, "%s", err.msg);
  ck_assert_msg(hmc(&split, 1, 0, &r, &err) == FG_OK, "%s", err.msg);
  ck_assert(r.complete && r.trajectories == 400);
  ck_assert_double_eq(r.force_evaluations, 520.0 * 11);
  same_files("whole.h5", "split.h5");
  fg_config_free(&whole);
  fg_config_free(&split);
  fg_config_free(&changed);
}
END_TEST

/* Row 0 of a stopped run's .tmp overwritten behind its attributes' back,
 * as a kill -9 between the data and the attribute writes leaves it. */
static void overwrite_row0(const char *name)
{
  hid_t f = H5Fopen(path_in(name), H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t d = f < 0 ? -1 : H5Dopen2(f, "configs", H5P_DEFAULT);
  hid_t space = d < 0 ? -1 : H5Dget_space(d);
  hsize_t start[4] = {0, 0, 0, 0}, count[4] = {1, 1, 8, 8};
  double later[64];
  for (int i = 0; i < 64; ++i)
    later[i] = 0.25 * (i % 5) - 0.5;
  hid_t mem = H5Screate_simple(4, count, NULL);
  ck_assert(space >= 0 && mem >= 0 &&
            H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) >= 0);
  ck_assert(H5Dwrite(d, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, later) >= 0);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(d);
  ck_assert(H5Fclose(f) >= 0);
}

/* D04, D06, D01 and the file identity of an HMC continuation. */
START_TEST(a_thermalising_field_newer_than_its_count_is_not_trusted)
{
  static const char HMC[] = "hmc: {trajectories: 60, thermalization: 40, checkpoint_every: 10, "
                            "output: %s}\n";
  char body[2048], hmc_line[256];
  fg_config whole, split;
  snprintf(hmc_line, sizeof hmc_line, HMC, "d4whole.h5");
  snprintf(body, sizeof body, "%s%s%s", TUTORIAL, NO_MODEL, hmc_line);
  load(&whole, "d4whole", body);
  snprintf(hmc_line, sizeof hmc_line, HMC, "d4split.h5");
  snprintf(body, sizeof body, "%s%s%s", TUTORIAL, NO_MODEL, hmc_line);
  load(&split, "d4split", body);
  fg_hmc_result r;
  fg_error err = {0};
  ck_assert_msg(hmc(&whole, 0, 0, &r, &err) == FG_OK, "%s", err.msg);
  ck_assert_msg(hmc(&split, 0, 25, &r, &err) == FG_OK, "%s", err.msg);
  ck_assert(!r.complete && r.thermalized == 25);
  /* D06: an interrupted run is never thrown away by a fresh start */
  ck_assert_int_eq(hmc(&split, 0, 0, &r, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "--resume") && strstr(err.msg, "--overwrite") &&
                strstr(err.msg, "d4split.h5.tmp"), "%s", err.msg);
  ck_assert(exists("d4split.h5.tmp"));
  /* D01: a changed seed or coupling is refused, naming field and values */
  split.seed = 7;
  ck_assert_int_eq(hmc(&split, 1, 0, &r, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "seed") && strstr(err.msg, "2024") && strstr(err.msg, "7"),
                "%s", err.msg);
  split.seed = 2024;
  split.theory.lambda = 2.5;
  ck_assert_int_eq(hmc(&split, 1, 0, &r, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "lambda") && strstr(err.msg, "2.5"), "%s", err.msg);
  split.theory.lambda = 2.0;
  /* D04: row 0 is a later field than thermalization_done = 25 says */
  overwrite_row0("d4split.h5.tmp");
  ck_assert_msg(hmc(&split, 1, 0, &r, &err) == FG_OK, "%s", err.msg);
  ck_assert(r.complete && r.trajectories == 60 && r.thermalized == 40);
  same_files("d4whole.h5", "d4split.h5");
  fg_ensemble_data a, b;
  load_file("d4whole.h5", &a);
  load_file("d4split.h5", &b);
  ck_assert_double_eq(attr(&a, "force_evaluations"), attr(&b, "force_evaluations"));
  ck_assert_double_eq(attr(&a, "lambda"), 2.0); /* named couplings as attributes */
  ck_assert(memcmp(a.checksum, b.checksum, sizeof(uint64_t) * 60) == 0);
  fg_ensemble_data_free(&a);
  fg_ensemble_data_free(&b);
  fg_config_free(&whole);
  fg_config_free(&split);
}
END_TEST

static double free_phi2(double m2)
{
  double s = 0;
  for (int a = 0; a < 8; ++a)
    for (int b = 0; b < 8; ++b)
      s += 1.0 / (m2 + 4 * pow(sin(M_PI * a / 8), 2) + 4 * pow(sin(M_PI * b / 8), 2)) / 64;
  return s;
}

START_TEST(free_theory_matches_the_exact_propagator)
{
  make_hmc("free_hmc", FREE, 20000);
  fg_report rep;
  fg_error err = {0};
  ck_assert_msg(fg_report_ensemble(path_in("free_hmc.h5"), 1.5, &rep, &err) == FG_OK, "%s",
                err.msg);
  /* exact: phi2 = (1/V) sum_k 1/(m2 + khat^2), chi2 = 1/m2 */
  const fg_obs_result *p = fg_report_find(&rep, "phi2"), *c = fg_report_find(&rep, "chi2");
  ck_assert(p != NULL && c != NULL);
  double phi2 = free_phi2(0.5);
  ck_assert_msg(fabs(p->mean - phi2) < 4 * p->err, "phi2 %g +- %g vs %g", p->mean, p->err, phi2);
  ck_assert_msg(fabs(c->mean - 2.0) < 4 * c->err, "chi2 %g +- %g vs 2", c->mean, c->err);
  ck_assert(p->err > 0 && p->err < 0.01 * phi2 && c->err < 0.05 * 2.0); /* a real measurement */
  ck_assert(isnan(rep.ess_model) && rep.setup_s == 0.0);
}
END_TEST

/* Trains a flow and samples it into `name`.h5 (once). */
static void make_flow(const char *name, const char *theory, const char *model,
                      const char *train, int64_t proposals)
{
  char file[64], body[4096];
  snprintf(file, sizeof file, "%s.h5", name);
  if (exists(file))
    return;
  snprintf(body, sizeof body, "%s%s"
           "train: {%s, checkpoint: %s_model.h5, eval_samples: 512, checkpoint_every: 0}\n"
           "sample: {model: %s_model.h5, proposals: %lld, batch_size: 256, output: %s}\n",
           theory, model, train, name, name, (long long)proposals, file);
  fg_config cfg;
  load(&cfg, name, body);
  fg_train_options topt = {.comm = MPI_COMM_WORLD};
  fg_train_result tres;
  fg_error err = {0};
  ck_assert_msg(fg_train_run(&cfg, &topt, &tres, &err) == FG_OK, "%s", err.msg);
  fg_sample_options sopt = {.comm = MPI_COMM_WORLD};
  fg_sample_result sres;
  ck_assert_msg(fg_sample_run(&cfg, &sopt, &sres, &err) == FG_OK, "%s", err.msg);
  ck_assert(sres.complete);
  fg_config_free(&cfg);
}

static void make_tutorial_flow(void)
{
  make_flow("tut_flow", TUTORIAL, "model: {coupling_layers: 8, kernel_size: 3, hidden_channels: [8, 8]}\n",
            "steps: 1500, batch_size: 32, optimizer: {name: adam, lr: 0.001}, grad_clip_norm: 100",
            60000);
}

static void agree(const fg_report *f, const fg_report *h, const char *name)
{
  const fg_obs_result *a = fg_report_find(f, name), *b = fg_report_find(h, name);
  ck_assert_msg(a != NULL && b != NULL, "no observable %s", name);
  double sigma = sqrt(a->err * a->err + b->err * b->err);
  ck_assert_msg(fabs(a->mean - b->mean) < 4 * sigma, "%s: flow %g +- %g, HMC %g +- %g", a->name,
                a->mean, a->err, b->mean, b->err);
  ck_assert_msg(b->err > 0 && b->err < 0.05 * fabs(b->mean), "%s: HMC error %g", a->name, b->err);
}

START_TEST(tutorial_point_hmc_agrees_with_a_flow)
{
  make_hmc("tut_hmc", TUTORIAL, 20000);
  make_tutorial_flow();
  fg_comparison c;
  fg_error err = {0};
  ck_assert_msg(fg_compare_ensembles(path_in("tut_flow.h5"), path_in("tut_hmc.h5"), 1.5, &c,
                                     &err) == FG_OK, "%s", err.msg);
  agree(&c.flow, &c.hmc, "abs_m");
  agree(&c.flow, &c.hmc, "chi2");
  agree(&c.flow, &c.hmc, "e_ising");
  /* the tutorial's HMC: chi2 = 0.75(1) in its convention, 1.50(2) here */
  const fg_obs_result *chi2 = fg_report_find(&c.hmc, "chi2");
  ck_assert(chi2 != NULL);
  ck_assert_msg(fabs(chi2->mean - 1.50) < 4 * hypot(chi2->err, 0.02), "chi2 %g +- %g", chi2->mean,
                chi2->err);
  /* the comparison's own arithmetic */
  ck_assert_double_eq_tol(c.ratio, c.flow.effective_per_s / c.hmc.effective_per_s, 1e-12);
  ck_assert_double_eq_tol(c.hmc_ess, 1 / (2 * c.hmc.tau_int_max), 1e-12);
  ck_assert(c.flow_setup_s > 0 && c.hmc_setup_s > 0);
  ck_assert(c.breakeven >= 0);
  /* the flow goes first; both must sample one theory */
  ck_assert_int_eq(fg_compare_ensembles(path_in("tut_hmc.h5"), path_in("tut_flow.h5"), 1.5, &c,
                                        &err), FG_ERR_INPUT);
  make_hmc("free_hmc", FREE, 20000);
  ck_assert_int_eq(fg_compare_ensembles(path_in("tut_flow.h5"), path_in("free_hmc.h5"), 1.5, &c,
                                        &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "different theories") != NULL, "%s", err.msg);
}
END_TEST

/* The free theory's flow: the free-field layer alone, with mu = mu_init. */
static void make_gaussian_flow(const char *name, const char *mu)
{
  char model[256];
  snprintf(model, sizeof model, "model: {base: free_field, mu_init: %s, coupling_layers: 0, "
           "kernel_size: 3, hidden_channels: []}\n", mu);
  make_flow(name, FREE, model, "steps: 0, batch_size: 64", 5000);
}

START_TEST(exact_model_has_unit_target_ess)
{
  make_hmc("free_hmc", FREE, 20000);
  make_gaussian_flow("exact_flow", "0.5");
  fg_validation v;
  fg_error err = {0};
  ck_assert_msg(fg_report_validate(path_in("exact_flow.h5"), path_in("free_hmc.h5"), NULL, 1.5,
                                   &v, &err) == FG_OK, "%s", err.msg);
  ck_assert_int_eq(v.n_target, 20000);
  ck_assert_int_eq(v.n_model, 5000);
  ck_assert_msg(fabs(v.ess_target - 1) < 1e-9, "ESS_target %.15g", v.ess_target);
  ck_assert_msg(fabs(v.ess_model - 1) < 1e-9, "ESS_model %.15g", v.ess_model);
  ck_assert(v.ess_target_err < 1e-9 && !v.disagree && !v.mode_collapse);
}
END_TEST

/* 1 / integral(p^2 / q) for Gaussians diagonal in momentum space: the
 * product over modes of sqrt(b (2a - b)) / a, precisions a = m2 + khat^2
 * (target), b = mu + khat^2 (model). */
static double gaussian_ess(double m2, double mu)
{
  double e = 1;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) {
      double k2 = 4 * pow(sin(M_PI * i / 8), 2) + 4 * pow(sin(M_PI * j / 8), 2);
      double a = m2 + k2, b = mu + k2;
      e *= sqrt(b * (2 * a - b)) / a;
    }
  return e;
}

START_TEST(gaussian_model_target_ess_matches_the_closed_form)
{
  make_hmc("free_hmc", FREE, 20000);
  make_gaussian_flow("wide_flow", "0.4");
  make_gaussian_flow("exact_flow", "0.5");
  fg_checkpoint ck;
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(path_in("wide_flow_model.h5"), &ck, &err) == FG_OK, "%s",
                err.msg);
  double exact = gaussian_ess(0.5, (double)ck.params[ck.nparams - 1]); /* mu as stored (float) */
  fg_checkpoint_free(&ck);
  ck_assert(exact > 0.9 && exact < 0.95);
  fg_validation v;
  ck_assert_msg(fg_report_validate(path_in("wide_flow.h5"), path_in("free_hmc.h5"), NULL, 1.5, &v,
                                   &err) == FG_OK, "%s", err.msg);
  ck_assert_msg(fabs(v.ess_target - exact) < 4 * v.ess_target_err, "ESS_target %g +- %g vs %g",
                v.ess_target, v.ess_target_err, exact);
  ck_assert_msg(fabs(v.ess_model - exact) < 4 * v.ess_model_err, "ESS_model %g +- %g vs %g",
                v.ess_model, v.ess_model_err, exact);
  ck_assert(v.ess_target_err > 0 && v.ess_target_err < 0.01 && v.ess_target_tau_int >= 0.5);
  ck_assert(!v.mode_collapse);
  /* q is wider than p by a precision 0.1 in every mode, so log w = -0.05 V
   * phi2 + const: the heaviest 1% of the target are its 1% of smallest
   * phi2, about 2.3 of phi2's standard deviations below its mean */
  ck_assert_int_eq(v.heavy_n, 200);
  ck_assert_double_gt(v.heavy_logw, 0.0);
  int q = 0;
  while (q < v.nheavy && strcmp(v.heavy_name[q], "phi2") != 0)
    ++q;
  ck_assert_int_lt(q, v.nheavy);
  double var = 0; /* of phi2 per configuration: 2 tr C^2 / V^2 */
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j)
      var += 2 * pow(0.5 + 4 * pow(sin(M_PI * i / 8), 2) + 4 * pow(sin(M_PI * j / 8), 2), -2);
  double sd = sqrt(var) / 64; /* 0.076; the lower 1% tail's mean is about 2 sd low (skewed) */
  ck_assert_msg(v.heavy_mean[q] < v.all_mean[q] - 1.5 * sd, "heaviest phi2 %g, all %g, sd %g",
                v.heavy_mean[q], v.all_mean[q], sd);
  /* another checkpoint than the one the flow file was sampled from is refused */
  ck_assert_int_eq(fg_report_validate(path_in("wide_flow.h5"), path_in("free_hmc.h5"),
                                      path_in("exact_flow_model.h5"), 1.5, &v, &err),
                   FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "SHA-256") != NULL, "%s", err.msg);
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  dir = fg_test_tmpdir();
  Suite *s = suite_create("hmc_run");
  TCase *tc = tcase_create("one rank");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, output_names_per_rank);
  tcase_add_test(tc, run_writes_a_complete_hmc_ensemble);
  tcase_add_test(tc, stop_and_resume_equals_uninterrupted);
  tcase_add_test(tc, a_thermalising_field_newer_than_its_count_is_not_trusted);
  tcase_add_test(tc, free_theory_matches_the_exact_propagator);
  tcase_add_test(tc, tutorial_point_hmc_agrees_with_a_flow);
  tcase_add_test(tc, exact_model_has_unit_target_ess);
  tcase_add_test(tc, gaussian_model_target_ess_matches_the_closed_form);
  suite_add_tcase(s, tc);
  int rc = fg_test_run(s);
  if (fg_test_remove_dir(dir) != 0)
    rc = 1;
  free(dir);
  MPI_Finalize();
  return rc;
}
