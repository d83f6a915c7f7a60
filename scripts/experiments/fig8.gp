# fig8.gp -- the plot of scripts/experiments/fig8.sh: the rolling mean of
# the batch ESS (left) and the loss (right) against N_train, log x, for the
# free-field and the normal base, with the ESS on fresh samples (eq. A7)
# after the run. Reads DIR/<base>/train_plot.csv (scripts/train_log.awk) and
# DIR/<base>/fresh.csv, columns by name.
# usage: gnuplot -e "dir='out/fig8'; bases='free_field normal'; window=20; png='out/fig8/fig8.png'" scripts/experiments/fig8.gp
if (!exists("bases")) bases = "free_field normal"
if (!exists("window")) window = 20
set terminal pngcairo size 1200,480 font ",11"
set output png
set datafile separator ","
set datafile missing "NaN"
set key autotitle columnhead
set grid

label(b) = b eq "free_field" ? "free-field base (learned mu)" : \
           b eq "normal" ? "standard normal base" : b
colour(i) = i == 1 ? 0xd62728 : i == 2 ? 0x1f77b4 : 0x2ca02c
f(b, what) = sprintf("%s/%s/%s.csv", dir, b, what)
n = words(bases)

# The loss panel's y range leaves out the first 20 steps, whose loss is far
# above the rest (the curves enter from the top).
# Both panels share the x range of the whole runs.
loss_lo = 1e300
loss_hi = -1e300
n_lo = 1e300
n_hi = 0
do for [i=1:n] {
  stats f(word(bases, i), "train_plot") using "loss" every ::20 nooutput
  loss_lo = STATS_min < loss_lo ? STATS_min : loss_lo
  loss_hi = STATS_max > loss_hi ? STATS_max : loss_hi
  stats f(word(bases, i), "train_plot") using "n_train" nooutput
  n_lo = STATS_min < n_lo ? STATS_min : n_lo
  n_hi = STATS_max > n_hi ? STATS_max : n_hi
}
pad = 0.05 * (loss_hi - loss_lo)

set multiplot layout 1,2 title "phi^4, 10 x 10, m2 = -1, lambda = 1: free-field against normal base, same flow and training (scripts/experiments/fig8.sh)" noenhanced
set logscale x
set format x "10^{%L}"
set xlabel "N_{train} (samples drawn)"
set xrange [n_lo : 1.3 * n_hi]

set yrange [0:0.85]
set ytics 0.1
set key top left
set arrow 1 from graph 0, first 0.2 to graph 1, first 0.2 nohead dt 2 lc rgb "#808080"
set arrow 2 from graph 0, first 0.6 to graph 1, first 0.6 nohead dt 2 lc rgb "#808080"
set ylabel sprintf("ESS (rolling mean of the batch ESS over %d steps)", window)
plot for [i=1:n] f(word(bases, i), "train_plot") using "n_train":"ess_rolling" \
       with lines lw 2 lc rgb colour(i) title label(word(bases, i)), \
     for [i=1:n] f(word(bases, i), "fresh") using "n_train":"ess":"ess_err" \
       with yerrorbars pt 7 ps 1.2 lc rgb colour(i) title (i == 1 ? "fresh-sample ESS after the run (eq. A7)" : "")

unset arrow 1
unset arrow 2
set yrange [loss_lo - pad : loss_hi + pad]
set ytics autofreq
set key top right
set ylabel "loss = mean of log q + S  (= KL(q||p) - log Z)" noenhanced
plot for [i=1:n] f(word(bases, i), "train_plot") using "n_train":"loss" \
       with lines lw 1.5 lc rgb colour(i) title label(word(bases, i))
unset multiplot
