/* test_train.c -- training lowers the reverse KL and raises the ESS; logs, checkpoints, resume (bit for bit), signals and transfer behave as documented; non-finite training stops and keeps the last good checkpoint, a collapse is warned about, a log that cannot be written stops training with its checkpoint written. */
#include <errno.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/resource.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flowgen/checkpoint.h"
#include "flowgen/train.h"
#include "testutil.h"

static char *dir;

/* A small model on a 6x6 lattice; `extra` is appended inside train:. */
static void make_config(fg_config *cfg, const char *name, int64_t steps, const char *extra,
                        const char *theory_extra)
{
  char text[8192], path[4096];
  snprintf(text, sizeof text,
           "seed: 99\n"
           "theory: {name: phi4, lattice: [6, 6], m2: -1.0, lambda: %s}\n"
           "model: {coupling_layers: 4, kernel_size: 3, hidden_channels: [6]}\n"
           "train:\n"
           "  steps: %lld\n"
           "  batch_size: 40\n"
           "  optimizer: {name: adam, lr: 3.0e-3}\n"
           "  grad_clip_norm: 100\n"
           "  checkpoint: %s.h5\n"
           "  checkpoint_every: 10\n"
           "  eval_samples: 1024\n"
           "%s",
           theory_extra ? theory_extra : "0.5", (long long)steps, name, extra ? extra : "");
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  ck_assert_int_eq(fg_test_write_file(path, text), 0);
  fg_error err = {0};
  int rc = fg_config_load(path, cfg, &err);
  ck_assert_msg(rc == FG_OK, "%s", err.msg);
}

static void run(const fg_config *cfg, int resume, int64_t max_steps, volatile sig_atomic_t *flag,
                fg_train_result *res, int expect)
{
  fg_train_options opt = {.comm = MPI_COMM_WORLD, .resume = resume, .stop_flag = flag,
                          .progress = NULL, .max_steps_override = max_steps};
  fg_error err = {0};
  int rc = fg_train_run(cfg, &opt, res, &err);
  ck_assert_msg(rc == expect, "rc %d: %s", rc, err.msg);
}

static void read_ck(const char *name, fg_checkpoint *ck)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.h5", dir, name);
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(path, ck, &err) == FG_OK, "%s", err.msg);
}

START_TEST(training_raises_the_ess_and_logs_every_step)
{
  fg_config c0, c1;
  fg_train_result r0, r1;
  make_config(&c0, "untrained", 0, NULL, NULL);
  run(&c0, 0, 0, NULL, &r0, FG_OK);
  make_config(&c1, "trained", 150, NULL, NULL);
  run(&c1, 0, 0, NULL, &r1, FG_OK);
  ck_assert_int_eq(r1.step, 150);
  ck_assert_int_eq(r1.n_train, 150 * 40);
  ck_assert_str_eq(r1.stop_reason, "steps");
  ck_assert_int_eq(r1.ess_samples, 1024);
  /* Honest improvement: several standard errors. */
  ck_assert_msg(r1.ess > r0.ess + 4 * (r0.ess_err + r1.ess_err), "ESS %g -> %g", r0.ess, r1.ess);
  /* The log: a header and one row per step, N_train growing by the batch. */
  char path[4096], line[512];
  snprintf(path, sizeof path, "%s/trained.csv", dir);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  ck_assert(strncmp(line, "step,batch_per_rank,batch_global,lr,loss,ess,n_train,wall_s", 59) == 0);
  long long step, nt, rows = 0, bpr, bg;
  double lr, loss, ess;
  while (fgets(line, sizeof line, f)) {
    ck_assert_int_eq(sscanf(line, "%lld,%lld,%lld,%lf,%lf,%lf,%lld", &step, &bpr, &bg, &lr, &loss,
                            &ess, &nt), 7);
    ++rows;
    ck_assert_int_eq(step, rows);
    ck_assert_int_eq(nt, 40 * rows);
    ck_assert(ess > 0 && ess <= 1);
  }
  fclose(f);
  ck_assert_int_eq(rows, 150);
  /* The checkpoint records the state and the final ESS; no temporary file remains. */
  fg_checkpoint ck;
  read_ck("trained", &ck);
  ck_assert_int_eq(ck.step, 150);
  ck_assert_int_eq(ck.n_train, 6000);
  ck_assert_double_eq(ck.ess, r1.ess);
  ck_assert_str_eq(ck.stop_reason, "steps");
  ck_assert(strstr(ck.config_text, "lambda: 0.5") != NULL);
  fg_checkpoint_free(&ck);
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", dir);
  ck_assert_int_ne(system(cmd), 0);
  fg_config_free(&c0);
  fg_config_free(&c1);
}
END_TEST

START_TEST(resume_continues_bit_for_bit)
{
  fg_config a, b;
  fg_train_result ra, rb;
  make_config(&a, "straight", 30, NULL, NULL);
  run(&a, 0, 0, NULL, &ra, FG_OK);
  make_config(&b, "split", 30, NULL, NULL);
  run(&b, 0, 17, NULL, &rb, FG_OK); /* stops at 17, checkpoints */
  ck_assert_int_eq(rb.step, 17);
  run(&b, 1, 0, NULL, &rb, FG_OK);
  ck_assert_int_eq(rb.step, 30);
  fg_checkpoint ca, cb;
  read_ck("straight", &ca);
  read_ck("split", &cb);
  ck_assert_uint_eq(ca.nparams, cb.nparams);
  ck_assert(memcmp(ca.params, cb.params, sizeof(float) * ca.nparams) == 0);
  ck_assert(memcmp(ca.opt_state, cb.opt_state, sizeof(double) * ca.opt_state_len) == 0);
  ck_assert_int_eq(ca.opt_t, cb.opt_t);
  ck_assert_double_eq(ca.ess, cb.ess);
  fg_checkpoint_free(&ca);
  fg_checkpoint_free(&cb);
  /* Raising steps and resuming a finished run continues it. */
  fg_config_free(&b);
  make_config(&b, "split", 35, NULL, NULL);
  run(&b, 1, 0, NULL, &rb, FG_OK);
  ck_assert_int_eq(rb.step, 35);
  ck_assert_int_eq(rb.n_train, 35 * 40);
  fg_config_free(&a);
  fg_config_free(&b);
}
END_TEST

START_TEST(signal_flag_checkpoints_and_stops)
{
  fg_config c;
  fg_train_result r;
  volatile sig_atomic_t flag = 1;
  make_config(&c, "signalled", 50, NULL, NULL);
  run(&c, 0, 0, &flag, &r, FG_OK);
  ck_assert_int_eq(r.step, 1);
  ck_assert_str_eq(r.stop_reason, "signal");
  fg_checkpoint ck;
  read_ck("signalled", &ck);
  ck_assert_int_eq(ck.step, 1);
  ck_assert_str_eq(ck.stop_reason, "signal");
  fg_checkpoint_free(&ck);
  flag = 0;
  run(&c, 1, 0, &flag, &r, FG_OK);
  ck_assert_int_eq(r.step, 50);
  fg_config_free(&c);
}
END_TEST

START_TEST(transfer_and_refusals)
{
  fg_config src, dst, bad;
  fg_train_result r;
  make_config(&src, "source", 5, NULL, NULL);
  run(&src, 0, 0, NULL, &r, FG_OK);
  char extra[4200];
  snprintf(extra, sizeof extra, "  init_from: source.h5\n");
  make_config(&dst, "transferred", 0, extra, "0.7");
  run(&dst, 0, 0, NULL, &r, FG_OK);
  fg_checkpoint a, b;
  read_ck("source", &a);
  read_ck("transferred", &b);
  ck_assert(memcmp(a.params, b.params, sizeof(float) * a.nparams) == 0);
  ck_assert_double_eq(b.theory.lambda, 0.7);
  fg_checkpoint_free(&a);
  fg_checkpoint_free(&b);
  /* Resuming with another seed is refused as bad input. */
  make_config(&bad, "source", 10, NULL, NULL);
  bad.seed = 100;
  run(&bad, 1, 0, NULL, &r, FG_ERR_INPUT);
  /* A changed run is refused naming the first key that differs (D09);
   * more steps, checkpoint_every and eval_samples may change. */
  fg_config_free(&bad);
  make_config(&bad, "source", 10, NULL, "0.6");
  fg_train_options o1 = {.comm = MPI_COMM_WORLD, .resume = 1};
  fg_error e1 = {0};
  ck_assert_int_eq(fg_train_run(&bad, &o1, &r, &e1), FG_ERR_INPUT);
  ck_assert_msg(strstr(e1.msg, "source.h5: cannot resume: theory.lambda is 0.5 in the file"),
                "%s", e1.msg);
  fg_config_free(&bad);
  make_config(&bad, "source", 12, NULL, NULL);
  bad.train.checkpoint_every = 4;
  bad.train.eval_samples = 512;
  run(&bad, 1, 0, NULL, &r, FG_OK);
  ck_assert_int_eq(r.step, 12);
  /* Another architecture is refused naming the field that differs (D09). */
  fg_config_free(&bad);
  make_config(&bad, "source", 10, NULL, NULL);
  bad.model.hidden_channels[0] = 7;
  fg_train_options o = {.comm = MPI_COMM_WORLD, .resume = 1};
  fg_error e = {0};
  ck_assert_int_eq(fg_train_run(&bad, &o, &r, &e), FG_ERR_INPUT);
  ck_assert_msg(strstr(e.msg, "model.hidden_channels[0] is 6 in the file, 7 in the config"), "%s",
                e.msg);
  /* Resuming from a checkpoint that does not exist is bad input too. */
  fg_config_free(&bad);
  make_config(&bad, "nothing_here", 10, NULL, NULL);
  run(&bad, 1, 0, NULL, &r, FG_ERR_INPUT);
  fg_config_free(&src);
  fg_config_free(&dst);
  fg_config_free(&bad);
}
END_TEST


/* A training that diverges to NaN at step 2 (adam, lr 1e30, no clipping,
 * 8x8 at m2 = -4, lambda = 2), checkpointing every `every` steps. */
static void make_diverging(fg_config *cfg, const char *name, int every)
{
  char text[1024], path[4096];
  snprintf(text, sizeof text,
           "seed: 1234\n"
           "theory: {name: phi4, lattice: [8, 8], m2: -4.0, lambda: 2.0}\n"
           "model: {coupling_layers: 4, kernel_size: 3, hidden_channels: [4, 4]}\n"
           "train: {steps: 50, batch_size: 32, optimizer: {name: adam, lr: 1.0e30},\n"
           "        grad_clip_norm: 0, checkpoint: %s.h5, checkpoint_every: %d,\n"
           "        eval_samples: 64}\n",
           name, every);
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  ck_assert_int_eq(fg_test_write_file(path, text), 0);
  fg_error err = {0};
  ck_assert_msg(fg_config_load(path, cfg, &err) == FG_OK, "%s", err.msg);
}

/* D03: a diverging training stops at the first non-finite loss, gradient
 * or parameter with a runtime error naming the step and the cause; the
 * last good checkpoint stays (finite, its step), and no checkpoint is
 * written when none was good yet. */
START_TEST(nonfinite_training_stops_and_keeps_the_last_good_checkpoint)
{
  fg_config c;
  fg_train_result r;
  fg_error err = {0};
  fg_train_options opt = {.comm = MPI_COMM_WORLD};
  make_diverging(&c, "diverging", 1);
  ck_assert_int_eq(fg_train_run(&c, &opt, &r, &err), FG_ERR_RUNTIME);
  ck_assert_msg(strstr(err.msg, "non-finite loss at step 2") &&
                    strstr(err.msg, "the last good checkpoint, step 1, is kept"),
                "%s", err.msg);
  fg_checkpoint ck;
  read_ck("diverging", &ck); /* the reader refuses non-finite values: this one is clean */
  ck_assert_int_eq(ck.step, 1);
  fg_checkpoint_free(&ck);
  fg_config_free(&c);
  make_diverging(&c, "diverging_fresh", 0);
  memset(&err, 0, sizeof err);
  ck_assert_int_eq(fg_train_run(&c, &opt, &r, &err), FG_ERR_RUNTIME);
  ck_assert_msg(strstr(err.msg, "no checkpoint had been written yet"), "%s", err.msg);
  char path[4096];
  snprintf(path, sizeof path, "%s/diverging_fresh.h5", dir);
  ck_assert_int_ne(access(path, F_OK), 0);
  fg_config_free(&c);
}
END_TEST

/* D03: a collapsed flow (lr 10: batch ESS at 1/batch, loss stuck) is
 * reported once; a healthy training (the default lr) is not. */
START_TEST(collapsed_flow_is_warned_about)
{
  fg_config wild, calm;
  fg_train_result r;
  make_config(&wild, "collapsing", 200, NULL, NULL);
  wild.train.optimizer.lr = 10.0;
  wild.train.checkpoint_every = 0;
  char *text = NULL;
  size_t len = 0;
  FILE *progress = open_memstream(&text, &len);
  ck_assert_ptr_nonnull(progress);
  fg_train_options opt = {.comm = MPI_COMM_WORLD, .progress = progress};
  fg_error err = {0};
  ck_assert_int_eq(fg_train_run(&wild, &opt, &r, &err), FG_OK);
  fclose(progress);
  ck_assert_msg(r.collapse_step >= 50 && r.collapse_step <= 200, "collapse at %lld",
                (long long)r.collapse_step);
  ck_assert_msg(strstr(text, "warning") && strstr(text, "collapsed"), "%s", text);
  free(text);
  make_config(&calm, "calm", 150, NULL, NULL);
  run(&calm, 0, 0, NULL, &r, FG_OK);
  ck_assert_int_eq(r.collapse_step, 0);
  fg_config_free(&wild);
  fg_config_free(&calm);
}
END_TEST

/* D13 through training: a checkpoint with one NaN weight is refused on
 * resume (bad input naming the dataset), never trained on. */
START_TEST(resume_refuses_a_nan_checkpoint)
{
  fg_config c;
  fg_train_result r;
  make_config(&c, "poisoned", 10, NULL, NULL);
  run(&c, 0, 0, NULL, &r, FG_OK);
  char path[4096];
  snprintf(path, sizeof path, "%s/poisoned.h5", dir);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "/model/layer_00/conv_1/weight", H5P_DEFAULT);
  ck_assert(f >= 0 && d >= 0);
  float w[2 * 6 * 3 * 3];
  ck_assert(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0);
  w[0] = NAN;
  ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0);
  H5Dclose(d);
  H5Fclose(f);
  c.train.steps = 20;
  fg_train_options opt = {.comm = MPI_COMM_WORLD, .resume = 1};
  fg_error err = {0};
  ck_assert_int_eq(fg_train_run(&c, &opt, &r, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "/model/layer_00/conv_1") && strstr(err.msg, "non-finite"), "%s",
                err.msg);
  fg_config_free(&c);
}
END_TEST

/* D11: a training log that cannot be written (a file size limit: EFBIG,
 * as a full disk gives ENOSPC) stops training with a runtime error naming
 * the log, the step and the OS reason; the checkpoint of that step is
 * written, and --resume continues from it. */
START_TEST(log_write_failure_stops_with_the_checkpoint_written)
{
  char text[1024], path[4096];
  snprintf(text, sizeof text,
           "seed: 5\n"
           "theory: {name: phi4, lattice: [4, 4], m2: -1.0, lambda: 0.5}\n"
           "model: {coupling_layers: 2, kernel_size: 3, hidden_channels: [2]}\n"
           "train: {steps: 1500, batch_size: 8, checkpoint: full.h5, checkpoint_every: 0,\n"
           "        eval_samples: 64}\n");
  snprintf(path, sizeof path, "%s/full.yaml", dir);
  ck_assert_int_eq(fg_test_write_file(path, text), 0);
  fg_config c;
  fg_error err = {0};
  ck_assert_msg(fg_config_load(path, &c, &err) == FG_OK, "%s", err.msg);
  /* ~60 bytes a row: the log passes 40 KiB near step 700; the checkpoint
   * (about 30 KiB) still fits */
  struct rlimit old, small;
  ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
  small = old;
  small.rlim_cur = 40 * 1024;
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
  fg_train_options opt = {.comm = MPI_COMM_WORLD};
  fg_train_result r;
  int rc = fg_train_run(&c, &opt, &r, &err);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_handler);
  ck_assert_int_eq(rc, FG_ERR_RUNTIME);
  ck_assert_msg(strstr(err.msg, "cannot write the training log") && strstr(err.msg, "full.csv") &&
                    strstr(err.msg, strerror(EFBIG)) && strstr(err.msg, "--resume"),
                "%s", err.msg);
  fg_checkpoint ck;
  read_ck("full", &ck);
  ck_assert_int_gt(ck.step, 100);
  ck_assert_int_lt(ck.step, 1500);
  ck_assert_str_eq(ck.stop_reason, "log_error");
  fg_checkpoint_free(&ck);
  run(&c, 1, 0, NULL, &r, FG_OK); /* room again: the resume finishes */
  ck_assert_int_eq(r.step, 1500);
  fg_config_free(&c);
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  dir = fg_test_tmpdir();
  Suite *s = suite_create("train");
  TCase *tc = tcase_create("one rank");
  tcase_add_test(tc, training_raises_the_ess_and_logs_every_step);
  tcase_add_test(tc, resume_continues_bit_for_bit);
  tcase_add_test(tc, signal_flag_checkpoints_and_stops);
  tcase_add_test(tc, transfer_and_refusals);
  tcase_add_test(tc, nonfinite_training_stops_and_keeps_the_last_good_checkpoint);
  tcase_add_test(tc, collapsed_flow_is_warned_about);
  tcase_add_test(tc, resume_refuses_a_nan_checkpoint);
  tcase_add_test(tc, log_write_failure_stops_with_the_checkpoint_written);
  suite_add_tcase(s, tc);
  int rc = fg_test_run(s);
  if (fg_test_remove_dir(dir) != 0)
    rc = 1;
  free(dir);
  MPI_Finalize();
  return rc;
}
