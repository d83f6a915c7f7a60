/* test_lattice.c -- neighbour tables invert each other and stencils match PyTorch's circular padding. */
#include "flowgen/lattice.h"
#include "testutil.h"

START_TEST(neighbours_are_periodic_and_inverse)
{
  int ext[3] = {4, 6, 2};
  fg_lattice lat;
  fg_error err;
  ck_assert_int_eq(fg_lattice_init(&lat, 3, ext, &err), FG_OK);
  ck_assert_int_eq(lat.volume, 48);
  for (int s = 0; s < lat.volume; ++s) {
    int x[3], y[3];
    fg_lattice_coords(&lat, s, x);
    ck_assert_int_eq(lat.parity[s], (x[0] + x[1] + x[2]) & 1);
    for (int mu = 0; mu < 3; ++mu) {
      ck_assert_int_eq(lat.down[lat.up[s * 3 + mu] * 3 + mu], s);
      fg_lattice_coords(&lat, lat.up[s * 3 + mu], y);
      for (int nu = 0; nu < 3; ++nu)
        ck_assert_int_eq(y[nu], nu == mu ? (x[nu] + 1) % ext[nu] : x[nu]);
    }
  }
  /* Last coordinate fastest: site 1 is (0, 0, 1). */
  int x1[3];
  fg_lattice_coords(&lat, 1, x1);
  ck_assert(x1[0] == 0 && x1[1] == 0 && x1[2] == 1);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(stencil_taps)
{
  int ext[2] = {6, 4};
  fg_lattice lat;
  fg_stencil st;
  fg_error err;
  ck_assert_int_eq(fg_lattice_init(&lat, 2, ext, &err), FG_OK);
  ck_assert_int_eq(fg_stencil_init(&st, &lat, 3, &err), FG_OK);
  /* Output (0, 0), tap (0, 0) reads input (-1, -1) = (5, 3); the centre tap reads itself. */
  ck_assert_int_eq(st.index[0], 5 * 4 + 3);
  for (int y = 0; y < lat.volume; ++y)
    ck_assert_int_eq(st.index[y * 9 + 4], y);
  fg_stencil_free(&st);
  ck_assert_int_eq(fg_stencil_init(&st, &lat, 5, &err), FG_ERR_INPUT); /* 5 > 4 */
  ck_assert_int_eq(fg_stencil_init(&st, &lat, 2, &err), FG_ERR_INPUT); /* even */
  fg_lattice_free(&lat);
  int bad[2] = {0, 4};
  ck_assert_int_eq(fg_lattice_init(&lat, 2, bad, &err), FG_ERR_INPUT);
  ck_assert_int_eq(fg_stencil_init(&st, &lat, 3, &err), FG_ERR_INPUT);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("lattice");
  TCase *tc = tcase_create("geometry");
  tcase_add_test(tc, neighbours_are_periodic_and_inverse);
  tcase_add_test(tc, stencil_taps);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
