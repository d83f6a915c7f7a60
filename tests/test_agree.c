/* test_agree.c -- fg_agree (run under mpirun -n 1 and 3): every rank returns the worst status and holds the message of the lowest rank that had it; FG_OK only when all were; agreeing twice changes nothing. */
#include <mpi.h>
#include <string.h>

#include "flowgen/util.h"
#include "testutil.h"

static int rank, nranks;

/* True on every rank iff cond holds on every rank (no rank left waiting). */
static int everywhere(int cond)
{
  int all = cond != 0;
  MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  return all;
}

START_TEST(all_fine_is_fine)
{
  fg_error err = {0};
  ck_assert(everywhere(fg_agree(MPI_COMM_WORLD, FG_OK, &err) == FG_OK && err.msg[0] == '\0'));
  ck_assert(everywhere(fg_agree(MPI_COMM_WORLD, FG_OK, NULL) == FG_OK));
}
END_TEST

/* The last rank fails at runtime, rank 0 (with 3 ranks: rank 1 too) with
 * bad input: the input error wins, with the message of the lowest rank. */
START_TEST(worst_code_and_lowest_rank_speak)
{
  fg_error err = {0};
  int rc = FG_OK;
  if (rank == nranks - 1)
    rc = fg_fail(&err, FG_ERR_RUNTIME, "t", "runtime on rank %d", rank);
  if (rank < nranks - 1 || nranks == 1)
    rc = fg_fail(&err, FG_ERR_INPUT, "t", "input on rank %d", rank);
  int got = fg_agree(MPI_COMM_WORLD, rc, &err);
  ck_assert(everywhere(got == FG_ERR_INPUT && err.code == FG_ERR_INPUT));
  ck_assert_msg(everywhere(strcmp(err.msg, "t: input on rank 0") == 0), "rank %d: %s", rank,
                err.msg);
  fg_error again = err;
  ck_assert(everywhere(fg_agree(MPI_COMM_WORLD, got, &again) == got &&
                       strcmp(again.msg, err.msg) == 0));
}
END_TEST

/* What only rank 0 knows (the others pass FG_OK, some with no err). */
START_TEST(rank_zero_alone_reaches_everyone)
{
  fg_error err = {0};
  int rc = rank == 0 ? fg_fail(&err, FG_ERR_RUNTIME, "t", "only rank 0 saw it") : FG_OK;
  int got = fg_agree(MPI_COMM_WORLD, rc, rank == 1 ? NULL : &err);
  ck_assert(everywhere(got == FG_ERR_RUNTIME));
  ck_assert(everywhere(rank == 1 || strcmp(err.msg, "t: only rank 0 saw it") == 0));
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  Suite *s = suite_create("agree");
  TCase *tc = tcase_create("ranks");
  tcase_add_test(tc, all_fine_is_fine);
  tcase_add_test(tc, worst_code_and_lowest_rank_speak);
  tcase_add_test(tc, rank_zero_alone_reaches_everyone);
  suite_add_tcase(s, tc);
  int rc = fg_test_run(s);
  MPI_Finalize();
  return rc;
}
