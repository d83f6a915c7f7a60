# fig5.gp -- the plot of scripts/experiments/fig5.sh: the ESS on fresh
# samples (eq. A7) of a flow trained at lambda = 1 and retrained to each
# target lambda for a fixed number of steps, against 1/lambda, one curve per
# budget: the mean over the seeds, with bars from the smallest to the
# largest seed's ESS. Reads DIR/summary.csv (stats.awk), columns by name.
# usage: gnuplot -e "dir='out/fig5'; budgets='0 50 200 600'; png='out/fig5/fig5.png'" scripts/experiments/fig5.gp
if (!exists("budgets")) budgets = "0 50 200 600"
set terminal pngcairo size 900,600 font ",11"
set output png
set datafile separator ","
set datafile missing "NaN"

s = dir . "/summary.csv"
colour(i) = i == 1 ? 0x7f7f7f : i == 2 ? 0x1f77b4 : i == 3 ? 0xff7f0e : i == 4 ? 0x2ca02c : 0xd62728
nb = words(budgets)
pick(b, c) = column("steps") == b ? column(c) : NaN

set title "phi^4, 8 x 8, m2 = -2: a flow trained at lambda = 1, retrained to lambda for a fixed budget\n(scripts/experiments/fig5.sh; batch 512; mean over seeds, bars: min to max)" noenhanced
set xlabel "1/lambda (the starting model's: 1)"
set xrange [0.15:1.6]
set yrange [0:*]
set ylabel "ESS on 8192 fresh samples (eq. A7)"
set grid
set key bottom right
plot for [i=1:nb] s using (pick(word(budgets, i) + 0, "inv_lambda") + 0.01 * (i - 1)):"ess_mean":"ess_min":"ess_max" \
       with yerrorlines lw 2 pt 7 lc rgb colour(i) \
       title (word(budgets, i) eq "0" ? "no retraining" : sprintf("%s steps", word(budgets, i)))
