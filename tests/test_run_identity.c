/* test_run_identity.c -- a resume refuses every changed key that shapes the numbers, names it, and allows the rest. */
#include "flowgen/config.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

static const char base[] =
    "seed: 11\n"
    "theory: {name: phi4, lattice: [8, 8], m2: -4.0, lambda: 2.0}\n"
    "model: {coupling_layers: 4, kernel_size: 3, hidden_channels: [8, 8]}\n"
    "train:\n"
    "  steps: 100\n"
    "  batch_size: 64\n"
    "  optimizer: {name: adam, lr: 1.0e-3}\n"
    "  schedule: {kind: batch_size, every: 50, factor: 2, max_batch_size: 256}\n"
    "  grad_clip_norm: 100\n"
    "  checkpoint: out/m.h5\n"
    "sample: {model: out/m.h5, proposals: 1000, batch_size: 64, output: out/e.h5}\n"
    "hmc: {trajectories: 100, md_steps: 10, output: out/h.h5}\n";

/* base with the first occurrence of `from` replaced by `to`. */
static void edited(const char *from, const char *to, char *out, size_t cap)
{
  const char *at = strstr(base, from);
  ck_assert_msg(at != NULL, "'%s' not in the base config", from);
  snprintf(out, cap, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
}

/* The message check_resume gives for the edit, or "" when it is allowed. */
static int check_edit(const char *from, const char *to, unsigned what, char *msg, size_t cap)
{
  char text[2048];
  edited(from, to, text, sizeof text);
  fg_config a, b;
  fg_error err = {0};
  ck_assert_int_eq(fg_config_parse(base, strlen(base), NULL, &a, &err), FG_OK);
  ck_assert_msg(fg_config_parse(text, strlen(text), NULL, &b, &err) == FG_OK, "%s", err.msg);
  memset(&err, 0, sizeof err);
  int rc = fg_config_check_resume(&a, &b, what, "run.h5", &err);
  snprintf(msg, cap, "%s", rc == FG_OK ? "" : err.msg);
  fg_config_free(&a);
  fg_config_free(&b);
  return rc;
}

static const unsigned all = FG_IDENT_SEED | FG_IDENT_THEORY | FG_IDENT_MODEL | FG_IDENT_TRAIN |
                            FG_IDENT_SAMPLE | FG_IDENT_HMC;

START_TEST(changes_that_shape_the_numbers_are_refused_and_named)
{
  static const struct {
    const char *from, *to, *key, *was, *is;
  } cases[] = {
      {"seed: 11", "seed: 12", "seed", "11", "12"},
      {"lambda: 2.0", "lambda: 2.5", "theory.lambda", "2", "2.5"},
      {"m2: -4.0", "m2: -4.0000000000000001e0", NULL, NULL, NULL}, /* same double */
      {"m2: -4.0", "m2: -3.9", "theory.m2", "-4", "-3.8999999999999999"},
      {"lattice: [8, 8]", "lattice: [8, 10]", "theory.lattice", "[8, 8]", "[8, 10]"},
      {"hidden_channels: [8, 8]", "hidden_channels: [8]", "model.hidden_channels", "[8, 8]",
       "[8]"},
      {"coupling_layers: 4", "coupling_layers: 6", "model.coupling_layers", "4", "6"},
      {"batch_size: 64\n", "batch_size: 32\n", "train.batch_size", "64", "32"},
      {"name: adam", "name: sgd", "train.optimizer.name", "adam", "sgd"},
      {"lr: 1.0e-3", "lr: 2.0e-3", "train.optimizer.lr", "0.001", "0.002"},
      {"grad_clip_norm: 100", "grad_clip_norm: 10", "train.grad_clip_norm", "100", "10"},
      {"every: 50", "every: 40", "train.schedule.every", "50", "40"},
      {"batch_size: 64, output", "batch_size: 32, output", "sample.batch_size", "64", "32"},
      {"md_steps: 10", "md_steps: 12", "hmc.md_steps", "10", "12"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    char msg[1024], want[512];
    int rc = check_edit(cases[i].from, cases[i].to, all, msg, sizeof msg);
    if (cases[i].key == NULL) {
      ck_assert_msg(rc == FG_OK, "case %zu refused: %s", i, msg);
      continue;
    }
    ck_assert_msg(rc == FG_ERR_INPUT, "case %zu (%s) accepted", i, cases[i].key);
    snprintf(want, sizeof want, "run.h5: cannot resume: %s is %s in the file, %s in the config",
             cases[i].key, cases[i].was, cases[i].is);
    ck_assert_msg(strstr(msg, want) != NULL, "case %zu: got '%s', want '%s'", i, msg, want);
  }
}
END_TEST

START_TEST(longer_runs_and_other_files_are_allowed)
{
  static const char *const edits[][2] = {
      {"steps: 100", "steps: 500"},
      {"proposals: 1000", "proposals: 5000"},
      {"trajectories: 100", "trajectories: 300"},
      {"checkpoint: out/m.h5", "checkpoint: elsewhere/m.h5"},
      {"grad_clip_norm: 100\n", "grad_clip_norm: 100\n  checkpoint_every: 7\n  eval_samples: 64\n"},
  };
  for (size_t i = 0; i < sizeof edits / sizeof edits[0]; ++i) {
    char msg[1024];
    ck_assert_msg(check_edit(edits[i][0], edits[i][1], all, msg, sizeof msg) == FG_OK,
                  "edit %zu refused: %s", i, msg);
  }
}
END_TEST

START_TEST(only_the_selected_sections_are_compared)
{
  char msg[1024];
  /* Sampling does not depend on how the model was trained. */
  ck_assert_int_eq(check_edit("lr: 1.0e-3", "lr: 5.0e-3", FG_IDENT_SEED | FG_IDENT_THEORY |
                              FG_IDENT_MODEL | FG_IDENT_SAMPLE, msg, sizeof msg), FG_OK);
  ck_assert_int_eq(check_edit("md_steps: 10", "md_steps: 3", FG_IDENT_TRAIN, msg, sizeof msg),
                   FG_OK);
  ck_assert_int_eq(check_edit("seed: 11", "seed: 3", FG_IDENT_HMC, msg, sizeof msg), FG_OK);
  ck_assert_int_eq(check_edit("seed: 11", "seed: 3", FG_IDENT_SEED, msg, sizeof msg),
                   FG_ERR_INPUT);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("run_identity");
  TCase *tc = tcase_create("compare");
  tcase_add_test(tc, changes_that_shape_the_numbers_are_refused_and_named);
  tcase_add_test(tc, longer_runs_and_other_files_are_allowed);
  tcase_add_test(tc, only_the_selected_sections_are_compared);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
