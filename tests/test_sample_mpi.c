/* test_sample_mpi.c -- under mpirun -n N: the coordinator and N-1 workers write the same chain, log-weights and configurations, bit for bit, as one rank alone, also across a stop and resume, with the same row checksums and ESS attributes (D15); odd rank counts run a model.symmetry z2 flow, even ones a plain flow. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/ensemble.h"
#include "flowgen/service.h"
#include "flowgen/train.h"
#include "testutil.h"

static char dir[4096];
static int rank, nranks;

static void load(fg_config *cfg, const char *name, const char *output)
{
  char text[4096], path[4200];
  snprintf(text, sizeof text,
           "seed: 777\n"
           "theory: {name: phi4, lattice: [6, 6], m2: -1.0, lambda: 0.8}\n"
           "model: {coupling_layers: 4, kernel_size: 3, hidden_channels: [6], symmetry: %s}\n"
           "train: {steps: 20, batch_size: 32, checkpoint: model.h5, eval_samples: 256}\n"
           "sample: {model: model.h5, proposals: 2500, batch_size: 48, flush_every: 500,\n"
           "         output: %s}\n", nranks % 2 ? "z2" : "none", output);
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  if (rank == 0)
    ck_assert_int_eq(fg_test_write_file(path, text), 0);
  MPI_Barrier(MPI_COMM_WORLD);
  fg_error err = {0};
  ck_assert_msg(fg_config_load(path, cfg, &err) == FG_OK, "%s", err.msg);
}

static void run(const fg_config *cfg, MPI_Comm comm, int resume, int64_t stop_after)
{
  fg_sample_options opt = {.comm = comm, .resume = resume, .stop_after = stop_after};
  fg_sample_result res;
  fg_error err = {0};
  int rc = fg_sample_run(cfg, &opt, &res, &err);
  ck_assert_msg(rc == FG_OK, "rank %d: %s", rank, err.msg);
  ck_assert_int_eq(res.complete, stop_after == 0);
}

static void compare(const char *a, const char *b)
{
  fg_ensemble_data x, y;
  fg_error err = {0};
  ck_assert_msg(fg_ensemble_load(a, &x, &err) == FG_OK, "%s", err.msg);
  ck_assert_msg(fg_ensemble_load(b, &y, &err) == FG_OK, "%s", err.msg);
  size_t n = (size_t)x.layout.n_configs;
  ck_assert_int_eq(n, 2500);
  ck_assert(memcmp(x.configs, y.configs, sizeof(double) * n * (size_t)x.volume) == 0);
  ck_assert(memcmp(x.logw, y.logw, sizeof(double) * n) == 0);
  ck_assert(memcmp(x.chain_index, y.chain_index, sizeof(int64_t) * n) == 0);
  ck_assert(memcmp(x.chain_accepted, y.chain_accepted, n) == 0);
  ck_assert(memcmp(x.checksum, y.checksum, sizeof(uint64_t) * n) == 0);
  /* D15: every number but the timings is the same bits for any rank count */
  static const char *const same[] = {"ess_model", "logw_sum_w", "logw_sum_w2", "logw_max",
                                     "acceptance", "chain_current_logw", "m2", "lambda"};
  for (size_t k = 0; k < sizeof same / sizeof same[0]; ++k) {
    const fg_ensemble_attr *p = fg_ensemble_attr_find(&x, same[k]);
    const fg_ensemble_attr *q = fg_ensemble_attr_find(&y, same[k]);
    ck_assert_msg(p != NULL && q != NULL && memcmp(&p->value, &q->value, sizeof p->value) == 0,
                  "%s: %.17g vs %.17g", same[k], p ? p->value : 0.0, q ? q->value : 0.0);
  }
  const fg_ensemble_attr *r = fg_ensemble_attr_find(&x, "ranks");
  ck_assert(r != NULL && (int)r->value == nranks);
  fg_ensemble_data_free(&x);
  fg_ensemble_data_free(&y);
}

START_TEST(any_worker_count_gives_the_same_ensemble)
{
  fg_config cfg, whole, split;
  load(&cfg, "model", "unused.h5");
  fg_train_options topt = {.comm = MPI_COMM_WORLD};
  fg_train_result tres;
  fg_error err = {0};
  ck_assert_msg(fg_train_run(&cfg, &topt, &tres, &err) == FG_OK, "%s", err.msg);
  load(&whole, "whole", "whole.h5");
  load(&split, "split", "split.h5");
  run(&whole, MPI_COMM_WORLD, 0, 0);       /* 1 coordinator + N-1 workers */
  run(&split, MPI_COMM_WORLD, 0, 1000);    /* stopped part way ... */
  run(&split, MPI_COMM_WORLD, 1, 0);       /* ... and resumed */
  if (rank == 0) {
    fg_config alone;
    char a[4200], b[4200], c[4200];
    snprintf(a, sizeof a, "%s/alone.yaml", dir);
    ck_assert_int_eq(fg_config_load(a, &alone, &err), FG_ERR_INPUT); /* not written yet */
    fg_config_free(&alone);
    char text[8192];
    snprintf(text, sizeof text, "%s", whole.text);
    char *o = strstr(text, "output: whole.h5");
    ck_assert_ptr_nonnull(o);
    memcpy(o, "output: alone.h5", 16);
    ck_assert_int_eq(fg_test_write_file(a, text), 0);
    ck_assert_int_eq(fg_config_load(a, &alone, &err), FG_OK);
    run(&alone, MPI_COMM_SELF, 0, 0);      /* one rank plays both roles */
    snprintf(a, sizeof a, "%s/alone.h5", dir);
    snprintf(b, sizeof b, "%s/whole.h5", dir);
    snprintf(c, sizeof c, "%s/split.h5", dir);
    compare(b, a);
    compare(c, a);
    fg_config_free(&alone);
  }
  fg_config_free(&cfg);
  fg_config_free(&whole);
  fg_config_free(&split);
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  if (rank == 0) {
    char *d = fg_test_tmpdir();
    snprintf(dir, sizeof dir, "%s", d ? d : "");
    free(d);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  Suite *s = suite_create("sample_mpi");
  TCase *tc = tcase_create("workers");
  tcase_add_test(tc, any_worker_count_gives_the_same_ensemble);
  suite_add_tcase(s, tc);
  int rc = fg_test_run(s);
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) {
    if (fg_test_remove_dir(dir) != 0)
      rc = 1;
  }
  MPI_Finalize();
  return rc;
}
