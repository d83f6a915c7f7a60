# fig3.gp -- the plot of scripts/experiments/fig3.sh: the cost of retraining
# from lambda = 4 until the rolling batch ESS reaches each level, against
# 1/lambda, in trained samples (left) and seconds (right): the mean over the
# seeds, with bars from the smallest to the largest seed's cost, for each
# level; solid for the shortest window of the stop rule, dashed for the
# longest. Reads DIR/summary.csv (scripts/experiments/stats.awk), columns by name.
# usage: gnuplot -e "dir='out/fig3'; levels='0.2 0.35 0.5'; windows='20 100'; png='out/fig3/fig3.png'" scripts/experiments/fig3.gp
if (!exists("levels")) levels = "0.2 0.35 0.5"
if (!exists("windows")) windows = "20 100"
set terminal pngcairo size 1200,520 font ",11"
set output png
set datafile separator ","
set datafile missing "NaN"

s = dir . "/summary.csv"
colour(i) = i == 1 ? 0x1f77b4 : i == 2 ? 0xff7f0e : i == 3 ? 0x2ca02c : 0xd62728
nl = words(levels)
w1 = word(windows, 1)
w2 = word(windows, words(windows))
pick(l, w, c) = (abs(column("level") - l) < 1e-9 && column("window") == w) ? column(c) : NaN
shift(w) = w == w1 ? 0 : 0.02

set multiplot layout 1,2 title "phi^4, 8 x 8, m2 = -2: retraining a flow trained at lambda = 4 until the rolling batch ESS reaches a level (scripts/experiments/fig3.sh)" noenhanced
set xlabel "1/lambda"
set xrange [0.15:1.6]
set logscale y
set format y "10^{%L}"
set grid
set key top left

set yrange [5e3:*]
set ylabel "N_{train} to reach the level (mean; bars: seed min to max)"
plot for [i=1:nl] s using (pick(word(levels, i) + 0, w1 + 0, "inv_lambda")):"n_train_mean":"n_train_min":"n_train_max" \
       with yerrorlines lw 2 pt 7 lc rgb colour(i) title sprintf("ESS %s, window %s", word(levels, i), w1), \
     for [i=1:nl] s using (pick(word(levels, i) + 0, w2 + 0, "inv_lambda") + shift(w2)):"n_train_mean":"n_train_min":"n_train_max" \
       with yerrorlines lw 1.5 dt 2 pt 6 lc rgb colour(i) title sprintf("ESS %s, window %s", word(levels, i), w2)

set yrange [*:*]
set ylabel "training seconds to reach the level (one core, shared machine)"
plot for [i=1:nl] s using (pick(word(levels, i) + 0, w1 + 0, "inv_lambda")):"seconds_mean":"seconds_min":"seconds_max" \
       with yerrorlines lw 2 pt 7 lc rgb colour(i) title sprintf("ESS %s, window %s", word(levels, i), w1), \
     for [i=1:nl] s using (pick(word(levels, i) + 0, w2 + 0, "inv_lambda") + shift(w2)):"seconds_mean":"seconds_min":"seconds_max" \
       with yerrorlines lw 1.5 dt 2 pt 6 lc rgb colour(i) title sprintf("ESS %s, window %s", word(levels, i), w2)
unset multiplot
