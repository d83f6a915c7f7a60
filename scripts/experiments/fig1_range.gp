# fig1_range.gp -- the plot of scripts/experiments/fig1_range.sh: the
# rolling mean of the batch ESS against N_train (log x) for both arms and
# every seed, with the ESS on fresh samples (eq. A7, with its error) where
# each run's rolling ESS first reached 0.2 and 0.6, and the fresh-sample
# scan of the early part of each run (thin dotted lines, up to the fresh ESS
# 0.2). Reads DIR/<arm>/s<seed>/{train_plot,scan}.csv (train_plot from
# scripts/train_log.awk) and DIR/runs.csv, columns by name.
# usage: gnuplot -e "dir='out/fig1_range'; seeds='11 12 13'; window=20; png='out/fig1_range/fig1_range.png'" scripts/experiments/fig1_range.gp
if (!exists("seeds")) seeds = "11 12 13"
if (!exists("window")) window = 20
set terminal pngcairo size 1000,600 font ",11"
set output png
set datafile separator ","
set datafile missing "NaN"

f(arm, seed) = sprintf("%s/%s/s%s/train_plot.csv", dir, arm, seed)
g(arm, seed) = sprintf("%s/%s/s%s/scan.csv", dir, arm, seed)
colour(arm, i) = arm eq "lr" ? (i == 1 ? 0xd62728 : i == 2 ? 0xff7f0e : 0x8c564b) \
                             : (i == 1 ? 0x1f77b4 : i == 2 ? 0x17becf : 0x2ca02c)
n = words(seeds)

set title "phi^4, 8 x 8, m2 = -1, lambda = 1: learning-rate decay (batch 2048) against a growing batch (16 to 2048)\n(scripts/experiments/fig1_range.sh)" noenhanced
set logscale x
set format x "10^{%L}"
set xrange [100:1e7]
set yrange [0:1.0]
set ytics 0.1
set grid
set key top left reverse Left samplen 2 spacing 0.9 font ",10"
set xlabel "N_{train} (samples drawn)"
set ylabel sprintf("ESS (rolling mean of the batch ESS over %d steps)", window)
set arrow 1 from graph 0, first 0.2 to graph 1, first 0.2 nohead dt 2 lc rgb "#808080"
set arrow 2 from graph 0, first 0.6 to graph 1, first 0.6 nohead dt 2 lc rgb "#808080"
runs = dir . "/runs.csv"
plot for [i=1:n] f("lr", word(seeds, i)) using "n_train":"ess_rolling" with lines lw 1.5 \
       lc rgb colour("lr", i) title sprintf("lr decay, seed %s", word(seeds, i)), \
     for [i=1:n] f("bs", word(seeds, i)) using "n_train":"ess_rolling" with lines lw 1.5 \
       lc rgb colour("bs", i) title sprintf("growing batch, seed %s", word(seeds, i)), \
     for [i=1:n] g("lr", word(seeds, i)) using "n_train":"ess" with linespoints lw 1.2 dt 3 pt 7 ps 0.3 \
       lc rgb colour("lr", i) title (i == 1 ? "fresh-sample ESS every 10 steps (lr)" : ""), \
     for [i=1:n] g("bs", word(seeds, i)) using "n_train":"ess" with linespoints lw 1.2 dt 3 pt 7 ps 0.3 \
       lc rgb colour("bs", i) title (i == 1 ? "fresh-sample ESS every 10 steps (bs)" : ""), \
     runs using (strcol("arm") eq "lr" && strcol("measure") eq "rolling" ? column("n_train") : NaN):"fresh_ess":"fresh_err" \
       with yerrorbars pt 7 ps 1.1 lc rgb "#d62728" title "fresh-sample ESS where the rolling ESS reached 0.2, 0.6 (lr)", \
     runs using (strcol("arm") eq "bs" && strcol("measure") eq "rolling" ? column("n_train") : NaN):"fresh_ess":"fresh_err" \
       with yerrorbars pt 5 ps 1.1 lc rgb "#1f77b4" title "fresh-sample ESS where the rolling ESS reached 0.2, 0.6 (bs)"
