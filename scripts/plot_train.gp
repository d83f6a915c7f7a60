# plot_train.gp -- the picture of one training run, drawn by
# scripts/plot_train.sh from the columns scripts/train_log.awk extracts
# (by name): loss and batch ESS against step and against N_train (log x),
# batch size and learning rate against step.
# usage: gnuplot -e "csv='plot.csv'; png='train.png'; name='train.csv'; window=20; term='pngcairo'" scripts/plot_train.gp
if (!exists("term")) term = "pngcairo"
if (!exists("window")) window = 20
if (term eq "pngcairo") set terminal pngcairo size 1200,1050 font ",10"; \
else set terminal png size 1200,1050
set output png
set datafile separator ","
set datafile missing "NaN"
set key autotitle columnhead
set grid
set key top right

stats csv using "step" nooutput
steps = STATS_max
stats csv using "n_train" nooutput
n_last = STATS_max
# The first steps' loss is far above the rest and would flatten the curve:
# the loss panels' y range leaves out the first 10 steps (or 1%, if more).
skip = steps / 100 > 10 ? int(steps / 100) : 10
stats csv using "loss" nooutput
loss_min = STATS_min
loss_max = STATS_max
if (steps > skip + 1) { stats csv using "loss" every ::skip nooutput; loss_top = STATS_max } \
else { loss_top = loss_max }
pad = (loss_top - loss_min) > 0 ? 0.05 * (loss_top - loss_min) : 1
clipped = loss_max > loss_top + pad
loss_label = clipped ? sprintf("loss (first %d steps off scale)", skip) : "loss"

set multiplot layout 3,2 title sprintf("flowgen training log %s: %d steps, N_train = %d", name, steps, n_last) noenhanced
set lmargin 11

set xlabel "step"
set ylabel loss_label
set yrange [loss_min - pad : loss_top + pad]
plot csv using "step":"loss" with lines lw 1.5 lc rgb "#1f77b4" title "loss = mean of log q + S  (= KL(q||p) - log Z)" noenhanced

set xlabel "N_{train} (samples drawn)"
set logscale x
set autoscale xfix
set format x "10^{%L}"
plot csv using "n_train":"loss" with lines lw 1.5 lc rgb "#1f77b4" title "loss"
unset logscale x
set autoscale x
set format x "% h"

set autoscale y
set yrange [0:1]
set xlabel "step"
set ylabel "ESS"
rolling_title = sprintf("rolling mean over %d steps", window)
plot csv using "step":"ess" with points pt 7 ps 0.25 lc rgb "#b0b0b0" title "batch ESS", \
     csv using "step":"ess_rolling" with lines lw 2 lc rgb "#d62728" title rolling_title

set xlabel "N_{train} (samples drawn)"
set logscale x
set autoscale xfix
set format x "10^{%L}"
plot csv using "n_train":"ess" with points pt 7 ps 0.25 lc rgb "#b0b0b0" title "batch ESS", \
     csv using "n_train":"ess_rolling" with lines lw 2 lc rgb "#d62728" title rolling_title
unset logscale x
set autoscale x
set format x "% h"

# A constant batch size or rate on a linear axis from 0 (on a log axis its
# one value could fall between tics); a changing one on a log axis.
set xlabel "step"
set ylabel "batch size (all ranks)"
set format y "%g"
set autoscale y   # stats only counts points inside the current y range
stats csv using "batch_global" nooutput
if (STATS_min == STATS_max) { unset logscale y; set yrange [0 : 1.5 * STATS_max] } \
else { set logscale y 2; set autoscale y }
plot csv using "step":"batch_global" with steps lw 2 lc rgb "#2ca02c" title "batch size"

set ylabel "learning rate"
set format y "%g"
set autoscale y
stats csv using "lr" nooutput
if (STATS_min == STATS_max) { unset logscale y; set yrange [0 : 1.5 * STATS_max] } \
else { set logscale y 10; set autoscale y }
plot csv using "step":"lr" with steps lw 2 lc rgb "#9467bd" title "learning rate"
unset multiplot
