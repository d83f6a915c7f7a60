# fig1.gp -- the plot of scripts/experiments/fig1.sh: the rolling mean of
# the batch ESS against N_train (left) and against training seconds (right),
# log x, for each protocol, with the ESS on fresh samples (eq. A7) at the
# end of each leg (the rolling-ESS 0.2 stop and the config's stop). Reads
# DIR/<protocol>/train_plot.csv (scripts/train_log.awk) and
# DIR/<protocol>/fresh.csv, columns by name.
# usage: gnuplot -e "dir='out/fig1'; protocols='lr bs'; window=20; png='out/fig1/fig1.png'" scripts/experiments/fig1.gp
if (!exists("protocols")) protocols = "lr bs"
if (!exists("window")) window = 20
set terminal pngcairo size 1200,480 font ",11"
set output png
set datafile separator ","
set datafile missing "NaN"
set key autotitle columnhead

label(p) = p eq "lr" ? "learning-rate decay (batch 1024)" : \
           p eq "bs" ? "growing batch (64 to 1024)" : p
colour(i) = i == 1 ? 0xd62728 : i == 2 ? 0x1f77b4 : 0x2ca02c
f(p, what) = sprintf("%s/%s/%s.csv", dir, p, what)
n = words(protocols)

# Both protocols on the same x ranges (the rolling mean starts after
# `window` steps; the ranges are those of the whole runs). Before any range
# is set: stats only counts points inside the current ranges.
n_lo = 1e300
n_hi = 0
s_lo = 1e300
s_hi = 0
do for [i=1:n] {
  stats f(word(protocols, i), "train_plot") using "n_train" nooutput
  n_lo = STATS_min < n_lo ? STATS_min : n_lo
  n_hi = STATS_max > n_hi ? STATS_max : n_hi
  stats f(word(protocols, i), "train_plot") using "wall_s" every ::window nooutput
  s_lo = STATS_min < s_lo ? STATS_min : s_lo
  s_hi = STATS_max > s_hi ? STATS_max : s_hi
}

set multiplot layout 1,2 title "phi^4, 10 x 10, m2 = -1, lambda = 1: learning-rate decay against a growing batch (scripts/experiments/fig1.sh)" noenhanced
set logscale x
set format x "10^{%L}"
set yrange [0:0.85]
set ytics 0.1
set grid
set key top left
set arrow 1 from graph 0, first 0.2 to graph 1, first 0.2 nohead dt 2 lc rgb "#808080"
set arrow 2 from graph 0, first 0.6 to graph 1, first 0.6 nohead dt 2 lc rgb "#808080"

set xlabel "N_{train} (samples drawn)"
set xrange [n_lo : 1.3 * n_hi]
set ylabel sprintf("ESS (rolling mean of the batch ESS over %d steps)", window)
plot for [i=1:n] f(word(protocols, i), "train_plot") using "n_train":"ess_rolling" \
       with lines lw 2 lc rgb colour(i) title label(word(protocols, i)), \
     for [i=1:n] f(word(protocols, i), "fresh") using "n_train":"ess":"ess_err" \
       with yerrorbars pt 7 ps 1.2 lc rgb colour(i) title (i == 1 ? "fresh-sample ESS at the end of each leg (eq. A7)" : "")

set xlabel "training seconds (C_{setup}, one core, shared machine)"
set xrange [s_lo : 1.3 * s_hi]
plot for [i=1:n] f(word(protocols, i), "train_plot") using "wall_s":"ess_rolling" \
       with lines lw 2 lc rgb colour(i) title label(word(protocols, i)), \
     for [i=1:n] f(word(protocols, i), "fresh") using "setup_s":"ess":"ess_err" \
       with yerrorbars pt 7 ps 1.2 lc rgb colour(i) notitle
unset multiplot
