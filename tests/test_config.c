/* test_config.c -- configs parse to config.h's values; bad input names file:line, key, value. */
#include "flowgen/config.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SPEC section 4's example, verbatim. */
static const char spec_example[] =
    "seed: 1234\n"
    "theory:\n"
    "  name: phi4            # phi4 | schwinger\n"
    "  lattice: [8, 8]\n"
    "  m2: -4.0\n"
    "  lambda: 2.0           # the tutorial point in this convention (section 6)\n"
    "model:\n"
    "  base: normal          # normal | free_field (learned pole mass, FFT layer)\n"
    "  coupling_layers: 16\n"
    "  kernel_size: 3\n"
    "  hidden_channels: [8, 8]\n"
    "  activation: leaky_relu   # hidden layers; the output layer is tanh\n"
    "  init: {scheme: kaiming, scale: 1.0}   # kaiming | xavier (scale = gain)\n"
    "train:\n"
    "  steps: 2000\n"
    "  batch_size: 64        # per rank, at step 0\n"
    "  optimizer: {name: adam, lr: 1.0e-3}   # adam | adadelta | sgd\n"
    "  schedule: {kind: batch_size, every: 500, factor: 2, max_batch_size: 1024}\n"
    "                        # kind: none | batch_size | learning_rate\n"
    "  grad_clip_norm: 100\n"
    "  stop: {target_ess: 0.0, window: 100}  # stop early once the rolling mean ESS reaches it\n"
    "  init_from: null       # a checkpoint: parameter or volume transfer\n"
    "  checkpoint: out/model.h5\n"
    "  log: out/train.csv\n"
    "  checkpoint_every: 500\n"
    "  eval_samples: 8192    # fresh samples for the final ESS\n"
    "sample:\n"
    "  model: out/model.h5\n"
    "  proposals: 100000\n"
    "  batch_size: 256       # per worker\n"
    "  output: out/ensemble.h5\n"
    "hmc:\n"
    "  trajectories: 10000\n"
    "  thermalization: 500\n"
    "  trajectory_length: 1.0\n"
    "  md_steps: 10\n"
    "  integrator: leapfrog  # leapfrog | omelyan\n"
    "  output: out/hmc.h5\n";

/* A short valid config; the bad cases below change one thing in it. Lines 1-14. */
#define SEED "seed: 1\n"
#define THEORY "theory:\n  name: phi4\n  lattice: [8, 8]\n  m2: -4.0\n  lambda: 2.0\n"
#define MODEL "model:\n  coupling_layers: 4\n  kernel_size: 3\n  hidden_channels: [8, 8]\n"
#define TRAIN_HEAD "train:\n  steps: 10\n  batch_size: 64\n"
#define TRAIN TRAIN_HEAD "  checkpoint: out/m.h5\n"
#define SCHWINGER "theory:\n  name: schwinger\n  lattice: [8, 8]\n"

static int parse(const char *text, const char *path, fg_config *cfg, fg_error *err)
{
  memset(err, 0, sizeof *err);
  return fg_config_parse(text, strlen(text), path, cfg, err);
}

START_TEST(spec_example_parses)
{
  fg_config c;
  fg_error err;
  ck_assert_msg(parse(spec_example, "configs/run.yaml", &c, &err) == FG_OK, "%s", err.msg);
  ck_assert(c.seed == 1234);
  ck_assert_int_eq(c.theory.name, FG_THEORY_PHI4);
  ck_assert_int_eq(c.theory.nd, 2);
  ck_assert(c.theory.extent[0] == 8 && c.theory.extent[1] == 8);
  ck_assert(c.theory.m2 == -4.0 && c.theory.lambda == 2.0);
  ck_assert_int_eq(c.model.base, FG_BASE_NORMAL);
  ck_assert_int_eq(c.model.coupling_layers, 16);
  ck_assert_int_eq(c.model.kernel_size, 3);
  ck_assert(c.model.n_hidden == 2 && c.model.hidden_channels[0] == 8 &&
            c.model.hidden_channels[1] == 8);
  ck_assert_int_eq(c.model.activation, FG_ACT_LEAKY_RELU);
  ck_assert(c.model.init_scheme == FG_INIT_KAIMING && c.model.init_scale == 1.0);
  ck_assert(c.train.present && c.train.steps == 2000 && c.train.batch_size == 64);
  ck_assert(c.train.optimizer.name == FG_OPT_ADAM && c.train.optimizer.lr == 1.0e-3);
  ck_assert_int_eq(c.train.schedule.kind, FG_SCHED_BATCH_SIZE);
  ck_assert(c.train.schedule.every == 500 && c.train.schedule.factor == 2.0);
  ck_assert_int_eq(c.train.schedule.max_batch_size, 1024);
  ck_assert(c.train.grad_clip_norm == 100.0);
  ck_assert(c.train.stop_target_ess == 0.0 && c.train.stop_window == 100);
  ck_assert_ptr_null(c.train.init_from);
  ck_assert_str_eq(c.train.checkpoint, "configs/out/model.h5");
  ck_assert_str_eq(c.train.log, "configs/out/train.csv");
  ck_assert(c.train.checkpoint_every == 500 && c.train.eval_samples == 8192);
  ck_assert(c.sample.present && c.sample.proposals == 100000 && c.sample.batch_size == 256);
  ck_assert_str_eq(c.sample.model, "configs/out/model.h5");
  ck_assert_str_eq(c.sample.output, "configs/out/ensemble.h5");
  ck_assert(c.hmc.present && c.hmc.trajectories == 10000 && c.hmc.thermalization == 500);
  ck_assert(c.hmc.trajectory_length == 1.0 && c.hmc.md_steps == 10);
  ck_assert_int_eq(c.hmc.integrator, FG_INTEGRATOR_LEAPFROG);
  ck_assert_str_eq(c.hmc.output, "configs/out/hmc.h5");
  ck_assert_str_eq(c.path, "configs/run.yaml");
  ck_assert_str_eq(c.text, spec_example);
  ck_assert_uint_eq(c.text_len, strlen(spec_example));
  fg_config_free(&c);
  fg_config_free(&c); /* a freed config is a default one: freeing again is harmless */
}
END_TEST

START_TEST(absent_keys_get_defaults)
{
  fg_config c;
  fg_error err;
  const char *text = "seed: 18446744073709551615\n"
                     "theory: {name: phi4, lattice: [4, 6, 2], m2: 0.5, lambda: 0}\n"
                     "model: {coupling_layers: 2, kernel_size: 1, hidden_channels: []}\n"
                     "train: {steps: 0, batch_size: 1, checkpoint: /abs/ck.h5}\n";
  ck_assert_msg(parse(text, NULL, &c, &err) == FG_OK, "%s", err.msg);
  ck_assert(c.seed == UINT64_MAX);
  ck_assert(c.theory.nd == 3 && c.theory.extent[2] == 2 && c.theory.lambda == 0.0);
  ck_assert(c.theory.beta == 1.0 && c.theory.kappa == 0.25);
  ck_assert(c.model.base == FG_BASE_NORMAL && c.model.activation == FG_ACT_LEAKY_RELU);
  ck_assert(c.model.init_scheme == FG_INIT_KAIMING && c.model.init_scale == 1.0);
  ck_assert(c.model.mu_init == 1.0 && c.model.n_hidden == 0);
  const fg_optimizer_config *o = &c.train.optimizer;
  ck_assert(o->name == FG_OPT_ADAM && o->lr == 1e-3 && o->beta1 == 0.9 && o->beta2 == 0.999);
  ck_assert(o->eps == 1e-8 && o->weight_decay == 0.0);
  const fg_schedule_config *s = &c.train.schedule;
  ck_assert(s->kind == FG_SCHED_NONE && s->every == 500 && s->factor == 2.0);
  ck_assert(s->max_batch_size == 1 << 20 && s->min_lr == 0.0);
  ck_assert(c.train.grad_clip_norm == 0.0 && c.train.stop_target_ess == 0.0);
  ck_assert(c.train.stop_window == 100 && c.train.reset_optimizer == 0);
  ck_assert_ptr_null(c.train.init_from);
  ck_assert_str_eq(c.train.log, "/abs/ck.csv");
  ck_assert(c.train.checkpoint_every == 500 && c.train.eval_samples == 8192);
  ck_assert(!c.sample.present && !c.hmc.present);
  ck_assert_ptr_null(c.path);
  fg_config_free(&c);

  fg_config_defaults(&c); /* untouched sections keep what config.h documents */
  ck_assert(c.sample.batch_size == 256 && c.sample.flush_every == 65536);
  ck_assert(c.hmc.thermalization == 0 && c.hmc.trajectory_length == 1.0);
  ck_assert(c.hmc.md_steps == 10 && c.hmc.checkpoint_every == 1000);
  ck_assert(c.hmc.integrator == FG_INTEGRATOR_LEAPFROG);
  ck_assert(isnan(c.theory.m2) && c.train.steps < 0 && c.train.checkpoint == NULL);
  fg_config_free(&c);
}
END_TEST

START_TEST(optimizer_and_schedule_defaults_follow_their_names)
{
  fg_config c;
  fg_error err;
  ck_assert_msg(parse(SEED THEORY MODEL TRAIN "  optimizer: {name: adadelta}\n"
                      "  schedule: {kind: learning_rate, every: 10, min_lr: 1e-5}\n",
                      NULL, &c, &err) == FG_OK, "%s", err.msg);
  ck_assert(c.train.optimizer.lr == 1.0 && c.train.optimizer.eps == 1e-6);
  ck_assert(c.train.optimizer.rho == 0.9);
  ck_assert(c.train.schedule.factor == 0.5 && c.train.schedule.min_lr == 1e-5);
  fg_config_free(&c);

  ck_assert_msg(parse(SEED THEORY MODEL TRAIN "  optimizer: {name: sgd, momentum: 0.9, "
                      "weight_decay: 1e-4}\n  reset_optimizer: true\n",
                      NULL, &c, &err) == FG_OK, "%s", err.msg);
  ck_assert(c.train.optimizer.name == FG_OPT_SGD && c.train.optimizer.lr == 1e-2);
  ck_assert(c.train.optimizer.momentum == 0.9 && c.train.optimizer.weight_decay == 1e-4);
  ck_assert_int_eq(c.train.reset_optimizer, 1);
  fg_config_free(&c);

  /* An explicit value wins over the name's default, whatever the key order. */
  ck_assert_msg(parse(SEED THEORY MODEL TRAIN "  optimizer: {lr: 0.25, name: adadelta, "
                      "rho: 0.95, eps: 1e-7}\n",
                      NULL, &c, &err) == FG_OK, "%s", err.msg);
  ck_assert(c.train.optimizer.lr == 0.25 && c.train.optimizer.rho == 0.95);
  ck_assert(c.train.optimizer.eps == 1e-7);
  fg_config_free(&c);
}
END_TEST

START_TEST(other_theories_and_sections)
{
  fg_config c;
  fg_error err;
  ck_assert_msg(parse(SEED SCHWINGER "  beta: 2\n"
                      "model: {base: free_field, coupling_layers: 0, kernel_size: 5,\n"
                      "        hidden_channels: [16], activation: tanh, mu_init: 0.5,\n"
                      "        init: {scheme: xavier, scale: 0.5}}\n"
                      "sample: {model: m.h5, proposals: 12, output: e.h5, flush_every: 4}\n"
                      "hmc: {trajectories: 5, output: h.h5, integrator: omelyan,\n"
                      "      trajectory_length: .5, md_steps: 3, checkpoint_every: 2}\n",
                      "run.yaml", &c, &err) == FG_OK, "%s", err.msg);
  ck_assert(c.theory.name == FG_THEORY_SCHWINGER && c.theory.beta == 2.0);
  ck_assert(c.theory.kappa == 0.25);
  ck_assert(c.model.base == FG_BASE_FREE_FIELD && c.model.coupling_layers == 0);
  ck_assert(c.model.activation == FG_ACT_TANH && c.model.mu_init == 0.5);
  ck_assert(c.model.init_scheme == FG_INIT_XAVIER && c.model.init_scale == 0.5);
  ck_assert(!c.train.present && c.sample.present && c.hmc.present);
  ck_assert(c.sample.flush_every == 4 && c.sample.proposals == 12);
  ck_assert_str_eq(c.sample.model, "m.h5"); /* no folder in the config's path */
  ck_assert(c.hmc.integrator == FG_INTEGRATOR_OMELYAN && c.hmc.trajectory_length == 0.5);
  ck_assert(c.hmc.md_steps == 3 && c.hmc.checkpoint_every == 2);
  /* the fermion defaults: antiperiodic in time, periodic in space; pseudofermions, CG 1e-10 */
  ck_assert_int_eq(c.theory.n_fermion_bc, 2);
  ck_assert(c.theory.fermion_bc[0] == FG_BC_ANTIPERIODIC &&
            c.theory.fermion_bc[1] == FG_BC_PERIODIC);
  ck_assert(c.hmc.fermions == FG_FERMIONS_PSEUDOFERMION && c.hmc.cg_tolerance == 1e-10);
  ck_assert_int_eq(c.hmc.cg_max_iterations, 10000);
  fg_config_free(&c);

  ck_assert_msg(parse(SEED SCHWINGER "  kappa: 0.2\n  fermion_bc: [periodic, antiperiodic]\n"
                      MODEL "hmc: {trajectories: 5, output: h.h5, fermions: exact_determinant,\n"
                      "      cg_tolerance: 1e-8, cg_max_iterations: 50}\n",
                      "run.yaml", &c, &err) == FG_OK, "%s", err.msg);
  ck_assert(c.theory.fermion_bc[0] == FG_BC_PERIODIC &&
            c.theory.fermion_bc[1] == FG_BC_ANTIPERIODIC);
  ck_assert(c.hmc.fermions == FG_FERMIONS_EXACT && c.hmc.cg_tolerance == 1e-8);
  ck_assert_int_eq(c.hmc.cg_max_iterations, 50);
  fg_config_free(&c);

  /* Only len bytes count: what follows them is never read. */
  const char *text = SEED THEORY MODEL "junk: [";
  size_t len = strlen(SEED THEORY MODEL);
  ck_assert_msg(fg_config_parse(text, len, NULL, &c, &err) == FG_OK, "%s", err.msg);
  ck_assert_uint_eq(c.text_len, len);
  ck_assert_str_eq(c.text, SEED THEORY MODEL);
  fg_config_free(&c);
}
END_TEST

/* model.gauge_map and model.spline_bins: defaults, values, and a changed
 * value refused by the resume check, by key. */
START_TEST(gauge_map_and_spline_bins)
{
  fg_config ncp, spline, wide;
  fg_error err;
  ck_assert_msg(parse(SEED SCHWINGER MODEL, NULL, &ncp, &err) == FG_OK, "%s", err.msg);
  ck_assert(ncp.model.gauge_map == FG_MAP_NCP && ncp.model.spline_bins == 8);
  fg_config_free(&ncp);
  ck_assert(parse(SEED SCHWINGER MODEL "  gauge_map: ncp\n", NULL, &ncp, &err) == FG_OK);
  ck_assert(ncp.model.gauge_map == FG_MAP_NCP);
  ck_assert(parse(SEED SCHWINGER MODEL "  gauge_map: spline\n", NULL, &spline, &err) == FG_OK);
  ck_assert(spline.model.gauge_map == FG_MAP_SPLINE && spline.model.spline_bins == 8);
  ck_assert(parse(SEED SCHWINGER MODEL "  gauge_map: spline\n  spline_bins: 32\n", NULL, &wide,
                  &err) == FG_OK);
  ck_assert(wide.model.gauge_map == FG_MAP_SPLINE && wide.model.spline_bins == 32);
  /* another map or another number of bins is another run */
  ck_assert_int_eq(fg_config_check_resume(&ncp, &spline, FG_IDENT_MODEL, "f.h5", &err),
                   FG_ERR_INPUT);
  ck_assert_ptr_nonnull(strstr(err.msg, "model.gauge_map is ncp in the file, spline in the config"));
  ck_assert_int_eq(fg_config_check_resume(&spline, &wide, FG_IDENT_MODEL, "f.h5", &err),
                   FG_ERR_INPUT);
  ck_assert_ptr_nonnull(strstr(err.msg, "model.spline_bins is 8 in the file, 32 in the config"));
  ck_assert_int_eq(fg_config_check_resume(&spline, &spline, FG_IDENT_MODEL, "f.h5", &err), FG_OK);
  fg_config_free(&ncp);
  fg_config_free(&spline);
  fg_config_free(&wide);
}
END_TEST

/* Parses SEED THEORY MODEL with a train section and returns the checkpoint and log. */
static void check_paths(const char *config_path, const char *train, const char *checkpoint,
                        const char *log, const char *init_from)
{
  char text[1024];
  snprintf(text, sizeof text, "%s%s%strain:\n  steps: 1\n  batch_size: 2\n%s", SEED, THEORY,
           MODEL, train);
  fg_config c;
  fg_error err;
  ck_assert_msg(parse(text, config_path, &c, &err) == FG_OK, "%s", err.msg);
  ck_assert_str_eq(c.train.checkpoint, checkpoint);
  ck_assert_str_eq(c.train.log, log);
  if (init_from == NULL)
    ck_assert_ptr_null(c.train.init_from);
  else
    ck_assert_str_eq(c.train.init_from, init_from);
  fg_config_free(&c);
}

START_TEST(relative_paths_resolve_against_the_config_folder)
{
  check_paths("configs/run.yaml", "  checkpoint: out/m.h5\n  init_from: old/a.h5\n",
              "configs/out/m.h5", "configs/out/m.csv", "configs/old/a.h5");
  check_paths("/srv/runs/x.yaml", "  checkpoint: m.h5\n  log: logs/t.csv\n",
              "/srv/runs/m.h5", "/srv/runs/logs/t.csv", NULL);
  check_paths("/x.yaml", "  checkpoint: m.h5\n", "/m.h5", "/m.csv", NULL);
  check_paths("a/b/c.yaml", "  checkpoint: /data/m.h5\n  init_from: ~\n", "/data/m.h5",
              "/data/m.csv", NULL);
  check_paths("run.yaml", "  checkpoint: out/m.h5\n", "out/m.h5", "out/m.csv", NULL);
  check_paths(NULL, "  checkpoint: out/m.h5\n  init_from: i.h5\n", "out/m.h5", "out/m.csv",
              "i.h5");
  /* The extension is the checkpoint name's, not a folder's; a .csv checkpoint keeps its own. */
  check_paths("c/r.yaml", "  checkpoint: out.d/model\n", "c/out.d/model", "c/out.d/model.csv",
              NULL);
  check_paths("c/r.yaml", "  checkpoint: m.csv\n", "c/m.csv", "c/m.csv.csv", NULL);
  check_paths("c/r.yaml", "  checkpoint: \"q m.h5\"\n  init_from:\n", "c/q m.h5", "c/q m.csv",
              NULL);
}
END_TEST

/* ---------------------------------------------------------------- bad input */

#define OPEN10 "[[[[[[[[[["
#define CLOSE10 "]]]]]]]]]]"

typedef struct {
  const char *name;
  const char *text;
  const char *expect[3]; /* substrings of the message, besides the file name */
} bad_case;

static const bad_case bad_cases[] = {
    {"unknown top-level key", SEED THEORY MODEL TRAIN "sead: 3\n",
     {"bad.yaml:15: sead: value 3: unknown key"}},
    {"unknown key in train.optimizer",
     SEED THEORY MODEL TRAIN "  optimizer: {name: adam, lrate: 0.1}\n",
     {"bad.yaml:15: train.optimizer.lrate: value 0.1: unknown key"}},
    {"unknown key in model.init", SEED THEORY MODEL "  init: {scheme: kaiming, gain: 2}\n" TRAIN,
     {"bad.yaml:11: model.init.gain: value 2: unknown key"}},
    {"unknown key in train.schedule", SEED THEORY MODEL TRAIN "  schedule:\n    evry: 3\n",
     {"bad.yaml:16: train.schedule.evry: value 3: unknown key"}},
    {"unknown key in train.stop", SEED THEORY MODEL TRAIN "  stop: {ess: 0.5}\n",
     {"train.stop.ess: value 0.5: unknown key"}},
    {"duplicate key", SEED THEORY MODEL TRAIN "  steps: 20\n",
     {"bad.yaml:15: train.steps: duplicate key", "line 12", "line 15"}},
    {"duplicate top-level key", SEED THEORY MODEL TRAIN "seed: 2\n",
     {"bad.yaml:15: seed: duplicate key", "first at line 1"}},
    {"duplicate key in a flow mapping", SEED THEORY MODEL TRAIN "  stop: {window: 1, window: 2}\n",
     {"bad.yaml:15: train.stop.window: duplicate key 'window'"}},
    {"missing train.steps", SEED THEORY MODEL "train:\n  batch_size: 64\n  checkpoint: m.h5\n",
     {"bad.yaml:11: train.steps: missing required key"}},
    {"missing model section", SEED THEORY, {"bad.yaml:1: model: missing required key"}},
    {"missing seed", THEORY MODEL, {"seed: missing required key"}},
    {"missing phi4 lambda", SEED "theory:\n  name: phi4\n  lattice: [8, 8]\n  m2: 1\n" MODEL,
     {"bad.yaml:2: theory.lambda: missing required key"}},
    {"missing hidden_channels", SEED THEORY "model: {coupling_layers: 4, kernel_size: 3}\n",
     {"bad.yaml:7: model.hidden_channels: missing required key"}},
    {"missing sample.output", SEED THEORY MODEL "sample: {model: m.h5, proposals: 10}\n",
     {"bad.yaml:11: sample.output: missing required key"}},
    {"missing hmc.trajectories", SEED THEORY MODEL "hmc: {output: h.h5}\n",
     {"hmc.trajectories: missing required key"}},
    {"string for integer (batch_size)", SEED THEORY MODEL "train:\n  steps: 10\n  batch_size: abc\n"
     "  checkpoint: m.h5\n", {"bad.yaml:13: train.batch_size: value abc: expected an integer"}},
    {"string for real", SEED "theory:\n  name: phi4\n  lattice: [8, 8]\n  m2: -4.0\n  lambda: big\n"
     MODEL, {"bad.yaml:6: theory.lambda: value big: expected a number"}},
    {"quoted number", SEED "theory:\n  name: phi4\n  lattice: [8, 8]\n  m2: \"-4\"\n  lambda: 2\n"
     MODEL, {"theory.m2: value \"-4\": expected a number, got a quoted string"}},
    {"non-finite real", SEED THEORY MODEL TRAIN "  optimizer: {lr: .nan}\n",
     {"train.optimizer.lr: value .nan: expected a number"}},
    {"non-integer for integer", SEED THEORY MODEL "train:\n  steps: 2.5\n  batch_size: 64\n"
     "  checkpoint: m.h5\n", {"bad.yaml:12: train.steps: value 2.5: expected an integer"}},
    {"exponent form for integer", SEED THEORY MODEL TRAIN "  eval_samples: 1e3\n",
     {"train.eval_samples: value 1e3: expected an integer"}},
    {"integer too large for int", SEED THEORY MODEL TRAIN "  schedule: {every: 3000000000}\n",
     {"train.schedule.every: value 3000000000: must be <= 2147483647"}},
    {"map for list", SEED "theory:\n  name: phi4\n  lattice: {x: 8}\n  m2: 1\n  lambda: 1\n" MODEL,
     {"bad.yaml:4: theory.lattice: value {x: 8}: expected a sequence, got a mapping"}},
    {"list for number", SEED "theory:\n  name: phi4\n  lattice: [8, 8]\n  m2: [1]\n  lambda: 1\n"
     MODEL, {"theory.m2: value [1]: expected a number, got a sequence"}},
    {"list for section", SEED THEORY "model: [1, 2]\n",
     {"bad.yaml:7: model: value [1, 2]: expected a mapping, got a sequence"}},
    {"null for section", SEED THEORY MODEL "train:\n",
     {"bad.yaml:11: train: value null: expected a mapping, got null"}},
    {"odd extent", SEED "theory:\n  name: phi4\n  lattice: [8, 7]\n  m2: 1\n  lambda: 1\n" MODEL,
     {"bad.yaml:4: theory.lattice[1]: value 7: lattice extents must be positive and even"}},
    {"zero extent", SEED "theory:\n  name: phi4\n  lattice: [0, 8]\n  m2: 1\n  lambda: 1\n" MODEL,
     {"theory.lattice[0]: value 0: lattice extents must be positive"}},
    {"negative extent", SEED "theory:\n  name: phi4\n  lattice:\n    - 8\n    - -4\n  m2: 1\n"
     "  lambda: 1\n" MODEL, {"bad.yaml:6: theory.lattice[1]: value -4: lattice extents"}},
    {"five extents", SEED "theory:\n  name: phi4\n  lattice: [2, 2, 2, 2, 2]\n  m2: 1\n"
     "  lambda: 1\n" MODEL, {"theory.lattice: value [2, 2, 2, 2, 2]: needs 1 to 4 entries"}},
    {"no extents", SEED "theory:\n  name: phi4\n  lattice: []\n  m2: 1\n  lambda: 1\n" MODEL,
     {"theory.lattice: value []: needs 1 to 4 entries, got 0"}},
    {"even kernel", SEED THEORY "model:\n  coupling_layers: 4\n  kernel_size: 4\n"
     "  hidden_channels: [8]\n",
     {"bad.yaml:9: model.kernel_size: value 4: kernel size must be odd"}},
    {"zero kernel",
     SEED THEORY "model: {coupling_layers: 4, kernel_size: 0, hidden_channels: []}\n",
     {"model.kernel_size: value 0: kernel size must be odd and >= 1"}},
    {"kernel larger than lattice", SEED "theory:\n  name: phi4\n  lattice: [8, 4]\n  m2: 1\n"
     "  lambda: 1\n" "model: {coupling_layers: 4, kernel_size: 5, hidden_channels: []}\n",
     {"bad.yaml:7: model.kernel_size: value 5: larger than theory.lattice[1] = 4"}},
    {"negative batch size", SEED THEORY MODEL "train:\n  steps: 1\n  batch_size: -5\n"
     "  checkpoint: m.h5\n", {"bad.yaml:13: train.batch_size: value -5: must be >= 1"}},
    {"zero batch size", SEED THEORY MODEL "sample: {model: m.h5, proposals: 10, output: o.h5, "
     "batch_size: 0}\n", {"sample.batch_size: value 0: must be >= 1"}},
    {"negative lambda", SEED "theory:\n  name: phi4\n  lattice: [8, 8]\n  m2: 1\n  lambda: -0.5\n"
     MODEL, {"bad.yaml:6: theory.lambda: value -0.5: must be >= 0"}},
    {"zero learning rate", SEED THEORY MODEL TRAIN "  optimizer: {name: sgd, lr: 0}\n",
     {"bad.yaml:15: train.optimizer.lr: value 0: must be > 0"}},
    {"negative checkpoint_every",
     SEED THEORY MODEL TRAIN_HEAD "  checkpoint: m.h5\n  checkpoint_every: -1\n",
     {"train.checkpoint_every: value -1: must be >= 0"}},
    {"target ESS above 1", SEED THEORY MODEL TRAIN "  stop: {target_ess: 1.5}\n",
     {"train.stop.target_ess: value 1.5: must be <= 1"}},
    {"momentum of 1", SEED THEORY MODEL TRAIN "  optimizer: {name: sgd, momentum: 1}\n",
     {"train.optimizer.momentum: value 1: must be < 1"}},
    {"zero hidden channels", SEED THEORY "model:\n  coupling_layers: 4\n  kernel_size: 3\n"
     "  hidden_channels: [8, 0]\n",
     {"bad.yaml:10: model.hidden_channels[1]: value 0: must be >= 1"}},
    {"too many hidden layers", SEED THEORY "model:\n  coupling_layers: 4\n  kernel_size: 3\n"
     "  hidden_channels: [1, 1, 1, 1, 1, 1, 1, 1, 1]\n",
     {"model.hidden_channels: value [1, 1, 1, 1, 1, 1, 1, 1, 1]: needs 0 to 8 entries"}},
    {"bad optimizer name", SEED THEORY MODEL TRAIN "  optimizer: {name: adamw}\n",
     {"bad.yaml:15: train.optimizer.name: value adamw: unknown name", "adam, adadelta, sgd"}},
    {"bad theory name", SEED "theory:\n  name: phi6\n  lattice: [8, 8]\n" MODEL,
     {"bad.yaml:3: theory.name: value phi6: unknown name (expected one of: phi4, schwinger)"}},
    {"bad integrator name", SEED THEORY MODEL "hmc: {trajectories: 1, output: h.h5, "
     "integrator: verlet}\n", {"hmc.integrator: value verlet: unknown name"}},
    {"bad boolean", SEED THEORY MODEL TRAIN "  reset_optimizer: yes\n",
     {"train.reset_optimizer: value yes: expected true or false"}},
    {"negative seed", "seed: -1\n" THEORY MODEL,
     {"bad.yaml:1: seed: value -1: expected a non-negative integer"}},
    {"seed above 2^64-1", "seed: 18446744073709551616\n" THEORY MODEL,
     {"seed: value 18446744073709551616: must be <= 18446744073709551615"}},
    {"phi4 key under schwinger", SEED SCHWINGER "  m2: -4.0\n" MODEL,
     {"bad.yaml:5: theory.m2: value -4.0: used only by theory phi4"}},
    {"schwinger key under phi4", SEED THEORY "  beta: 2\n" MODEL,
     {"theory.beta: value 2: used only by theory schwinger"}},
    {"schwinger in 3D", SEED "theory: {name: schwinger, lattice: [4, 4, 4]}\n" MODEL,
     {"theory.lattice: value [4, 4, 4]: theory schwinger needs a 2D lattice"}},
    {"schwinger with a short time direction", SEED "theory: {name: schwinger, lattice: [2, 8]}\n"
     MODEL, {"bad.yaml:2: theory.lattice: value [2, 8]: theory schwinger needs L0 >= 4"}},
    {"schwinger with an odd extent", SEED "theory: {name: schwinger, lattice: [8, 5]}\n" MODEL,
     {"theory.lattice[1]: value 5: lattice extents must be positive and even"}},
    {"fermion_bc for one direction", SEED SCHWINGER "  fermion_bc: [periodic]\n" MODEL,
     {"bad.yaml:5: theory.fermion_bc: value [periodic]: needs one entry per direction of "
      "theory.lattice (2)"}},
    {"unknown fermion_bc", SEED SCHWINGER "  fermion_bc: [antiperiodic, twisted]\n" MODEL,
     {"theory.fermion_bc[1]: value twisted: unknown name (expected one of: antiperiodic, "
      "periodic)"}},
    {"fermion_bc under phi4", SEED THEORY "  fermion_bc: [periodic, periodic]\n" MODEL,
     {"theory.fermion_bc: value [periodic, periodic]: used only by theory schwinger"}},
    {"CG tolerance too loose", SEED SCHWINGER MODEL "hmc: {trajectories: 1, output: h.h5, "
     "cg_tolerance: 0.01}\n", {"hmc.cg_tolerance: value 0.01: must be <= 0.001"}},
    {"CG tolerance zero", SEED SCHWINGER MODEL "hmc: {trajectories: 1, output: h.h5, "
     "cg_tolerance: 0}\n", {"hmc.cg_tolerance: value 0: must be > 0"}},
    {"unknown fermion treatment", SEED SCHWINGER MODEL "hmc: {trajectories: 1, output: h.h5, "
     "fermions: quenched}\n", {"hmc.fermions: value quenched: unknown name (expected one of: "
     "pseudofermion, exact_determinant)"}},
    {"CG under phi4", SEED THEORY MODEL "hmc: {trajectories: 1, output: h.h5, "
     "cg_max_iterations: 10}\n", {"hmc.cg_max_iterations: value 10: used only by theory schwinger"}},
    {"rho under adam", SEED THEORY MODEL TRAIN "  optimizer: {rho: 0.9}\n",
     {"train.optimizer.rho: value 0.9: used only by optimizer adadelta"}},
    {"mu_init without free_field", SEED THEORY "model: {coupling_layers: 1, kernel_size: 3, "
     "hidden_channels: [], mu_init: 2}\n", {"model.mu_init: value 2: used only with model.base"}},
    {"unknown symmetry", SEED THEORY "model: {coupling_layers: 1, kernel_size: 3, "
     "hidden_channels: [], symmetry: z3}\n", {"model.symmetry: value z3: unknown name (expected "
     "one of: none, z2)"}},
    {"unknown gauge_map", SEED SCHWINGER MODEL "  gauge_map: rqs\n",
     {"bad.yaml:9: model.gauge_map: value rqs: unknown name (expected one of: ncp, spline)"}},
    {"gauge_map under phi4", SEED THEORY MODEL "  gauge_map: spline\n",
     {"bad.yaml:11: model.gauge_map: value spline: used only with the gauge layers (model.base "
      "haar)"}},
    {"spline_bins without a map", SEED SCHWINGER MODEL "  spline_bins: 8\n",
     {"bad.yaml:9: model.spline_bins: value 8: used only with model.gauge_map spline"}},
    {"spline_bins with ncp", SEED SCHWINGER MODEL "  gauge_map: ncp\n  spline_bins: 8\n",
     {"bad.yaml:10: model.spline_bins: value 8: used only with model.gauge_map spline"}},
    {"one spline bin", SEED SCHWINGER MODEL "  gauge_map: spline\n  spline_bins: 1\n",
     {"bad.yaml:10: model.spline_bins: value 1: must be >= 2"}},
    {"33 spline bins", SEED SCHWINGER MODEL "  gauge_map: spline\n  spline_bins: 33\n",
     {"bad.yaml:10: model.spline_bins: value 33: must be <= 32"}},
    {"fractional spline bins", SEED SCHWINGER MODEL "  gauge_map: spline\n  spline_bins: 8.5\n",
     {"model.spline_bins: value 8.5: expected an integer"}},
    {"no coupling layers", SEED THEORY "model: {coupling_layers: 0, kernel_size: 3, "
     "hidden_channels: []}\n", {"model.coupling_layers: value 0: must be >= 1 unless"}},
    {"max batch below batch", SEED THEORY MODEL TRAIN "  schedule: {kind: batch_size, "
     "max_batch_size: 32}\n", {"bad.yaml:15: train.schedule.max_batch_size: value 32: must be >= "
     "train.batch_size (64)"}},
    {"shrinking batch schedule", SEED THEORY MODEL TRAIN "  schedule: {kind: batch_size, "
     "factor: 0.5}\n", {"bad.yaml:15: train.schedule.factor: value 0.5: must be > 1"}},
    {"null checkpoint", SEED THEORY MODEL TRAIN_HEAD "  checkpoint: null\n",
     {"bad.yaml:14: train.checkpoint: value null: expected a path, got null"}},
    {"log over checkpoint", SEED THEORY MODEL TRAIN "  log: out/m.h5\n",
     {"bad.yaml:15: train.log: value out/m.h5: the same file as train.checkpoint"}},
    {"YAML syntax error", SEED "theory: [8, 8\nmodel: {}\n", {"YAML syntax error", "bad.yaml:3:"}},
    {"bad indentation", SEED THEORY "model:\n  coupling_layers: 4\n    kernel_size: 3\n",
     {"YAML syntax error", "bad.yaml:9:"}},
    {"alias", SEED "a: &x 1\nb: *x\n", {"bad.yaml:3: b: alias *x: aliases are not allowed"}},
    {"two documents", SEED THEORY MODEL "---\nseed: 2\n", {"bad.yaml:11: a second YAML document"}},
    {"nested too deep", "seed: " OPEN10 OPEN10 OPEN10 OPEN10 OPEN10 OPEN10 OPEN10 CLOSE10
     CLOSE10 CLOSE10 CLOSE10 CLOSE10 CLOSE10 CLOSE10 "\n",
     {"bad.yaml:1: seed", "nested deeper than"}},
    {"NUL inside a scalar", "seed: \"1\\0\"\n", {"bad.yaml:1: seed: a scalar holds a NUL"}},
    {"invalid UTF-8", SEED "theory: \xff\n", {"bad.yaml:2: YAML syntax error", "UTF-8"}},
    {"sequence as a key", SEED "? [a, b]\n: 1\n", {"bad.yaml:2:", "keys must be scalars"}},
    {"number too large", SEED "theory:\n  name: phi4\n  lattice: [8, 8]\n  m2: 1e400\n"
     "  lambda: 1\n" MODEL, {"bad.yaml:5: theory.m2: value 1e400: number out of range"}},
    {"empty path", SEED THEORY MODEL TRAIN_HEAD "  checkpoint: ''\n",
     {"bad.yaml:14: train.checkpoint: value \"\": a path must not be empty"}},
    {"empty config", "# nothing here\n", {"bad.yaml:1: the config is empty"}},
    {"lattice beyond the volume limit (D14)", SEED "theory:\n  name: phi4\n  lattice: [65536, 65536]\n"
     "  m2: -4.0\n  lambda: 2.0\n" MODEL,
     {"bad.yaml:4: theory.lattice: value [65536, 65536]: 4294967296 sites, more than the limit "
      "of 268435456"}},
    {"sequence at the top", "- seed\n- 1\n",
     {"bad.yaml:1: (top level): value [seed, 1]: expected a mapping of sections"}},
};

START_TEST(bad_input_is_named)
{
  const bad_case *b = &bad_cases[_i];
  fg_config c;
  fg_error err;
  int rc = parse(b->text, "configs/bad.yaml", &c, &err);
  ck_assert_msg(rc == FG_ERR_INPUT && err.code == FG_ERR_INPUT, "case '%s': rc %d (%s)", b->name,
                rc, err.msg);
  ck_assert_msg(strstr(err.msg, "configs/bad.yaml:") != NULL, "case '%s': no file in '%s'",
                b->name, err.msg);
  for (int k = 0; k < 3 && b->expect[k] != NULL; ++k)
    ck_assert_msg(strstr(err.msg, b->expect[k]) != NULL, "case '%s': '%s' not in '%s'", b->name,
                  b->expect[k], err.msg);
  fg_config_free(&c);
}
END_TEST


/* D14: checks made after parsing (by a command) still name file:line:key
 * and the value as written; a key absent from the text names file and key. */
START_TEST(report_after_parsing_names_the_key)
{
  fg_config c;
  fg_error err;
  const char *text = SEED "theory:\n  name: phi4\n  lattice: [8, 8, 8]\n  m2: -4.0\n"
                          "  lambda: 2.0\n" MODEL TRAIN
                          "sample:\n  model: gone/model.h5\n  proposals: 10\n  output: e.h5\n";
  ck_assert_int_eq(parse(text, "cfgs/run.yaml", &c, &err), FG_OK);
  ck_assert_int_eq(fg_config_report(&c, "theory.lattice", FG_ERR_INPUT, &err, "needs 2D, is %dD",
                                    c.theory.nd), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "cfgs/run.yaml:4: theory.lattice: value [8, 8, 8]: needs 2D, is 3D"),
                "%s", err.msg);
  ck_assert_int_eq(fg_config_report(&c, "sample.model", FG_ERR_INPUT, &err, "missing"),
                   FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "cfgs/run.yaml:16: sample.model: value gone/model.h5: missing"),
                "%s", err.msg);
  ck_assert_int_eq(fg_config_report(&c, "train.log", FG_ERR_RUNTIME, &err, "full"),
                   FG_ERR_RUNTIME);
  ck_assert_msg(strstr(err.msg, "cfgs/run.yaml: train.log: full"), "%s", err.msg);
  fg_config_free(&c);
}
END_TEST

/* ----------------------------------------------------------------- files */

START_TEST(load_reads_the_file_and_its_folder)
{
  char *dir = fg_test_tmpdir();
  ck_assert_ptr_nonnull(dir);
  char path[4096];
  snprintf(path, sizeof path, "%s/run.yaml", dir);
  ck_assert_int_eq(fg_test_write_file(path, SEED THEORY MODEL TRAIN), 0);
  fg_config c;
  fg_error err;
  ck_assert_msg(fg_config_load(path, &c, &err) == FG_OK, "%s", err.msg);
  char expect[4200];
  snprintf(expect, sizeof expect, "%s/out/m.h5", dir);
  ck_assert_str_eq(c.train.checkpoint, expect);
  ck_assert_str_eq(c.path, path);
  ck_assert_str_eq(c.text, SEED THEORY MODEL TRAIN);
  fg_config_free(&c);

  /* A bad file names itself and the line. */
  ck_assert_int_eq(fg_test_write_file(path, SEED THEORY MODEL TRAIN "  steps: 3\n"), 0);
  ck_assert_int_eq(fg_config_load(path, &c, &err), FG_ERR_INPUT);
  snprintf(expect, sizeof expect, "%s:15: train.steps: duplicate key", path);
  ck_assert_msg(strstr(err.msg, expect) != NULL, "%s", err.msg);
  fg_config_free(&c);
  unlink(path);
  rmdir(dir);
  free(dir);
}
END_TEST

START_TEST(unreadable_files_are_input_errors)
{
  char *dir = fg_test_tmpdir();
  ck_assert_ptr_nonnull(dir);
  char path[4096];
  snprintf(path, sizeof path, "%s/missing.yaml", dir);
  fg_config c;
  fg_error err;
  ck_assert_int_eq(fg_config_load(path, &c, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "No such file or directory"), "%s",
                err.msg);
  fg_config_free(&c);
  ck_assert_int_eq(fg_config_load(dir, &c, &err), FG_ERR_INPUT); /* a folder */
  ck_assert_msg(strstr(err.msg, dir) && strstr(err.msg, "Is a directory"), "%s", err.msg);
  fg_config_free(&c);
  ck_assert_int_eq(fg_config_load(NULL, &c, &err), FG_ERR_INPUT);
  fg_config_free(&c);
  rmdir(dir);
  free(dir);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("config");
  TCase *good = tcase_create("valid");
  tcase_add_test(good, spec_example_parses);
  tcase_add_test(good, absent_keys_get_defaults);
  tcase_add_test(good, optimizer_and_schedule_defaults_follow_their_names);
  tcase_add_test(good, other_theories_and_sections);
  tcase_add_test(good, relative_paths_resolve_against_the_config_folder);
  tcase_add_test(good, gauge_map_and_spline_bins);
  suite_add_tcase(s, good);
  TCase *bad = tcase_create("invalid");
  tcase_add_loop_test(bad, bad_input_is_named, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
  suite_add_tcase(s, bad);
  TCase *files = tcase_create("files");
  tcase_add_test(files, load_reads_the_file_and_its_folder);
  tcase_add_test(files, report_after_parsing_names_the_key);
  tcase_add_test(files, unreadable_files_are_input_errors);
  suite_add_tcase(s, files);
  return fg_test_run(s);
}
