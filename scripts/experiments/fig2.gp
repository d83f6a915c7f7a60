# fig2.gp -- the plot of scripts/experiments/fig2.sh: the rolling mean of
# the batch ESS against N_train (log x) at kappa = 0.25 (left) and 0.263
# (right), beta = 2, 8x8, for training from scratch, from the kappa = 0
# model, and (right) sequentially 0 -> 0.25 -> 0.263, whose curve is shifted
# by the N_train of its kappa = 0.25 stage (shift_n). Dotted: the levels
# 0.3, 0.5, 0.7. Reads DIR/<stage>/train_plot.csv (scripts/train_log.awk).
# usage: gnuplot -e "dir='out/fig2'; shift_n=0; png='out/fig2/fig2.png'" scripts/experiments/fig2.gp
set terminal pngcairo size 1200,480 font ",11"
set output png
set datafile separator ","
set datafile missing "NaN"
f(s) = sprintf("%s/%s/train_plot.csv", dir, s)
set logscale x
set format x "10^{%L}"
set xlabel "trained samples N_{train}"
set ylabel "rolling batch ESS"
set yrange [0:1]
set key top left
set grid
set multiplot layout 1,2 title "Schwinger model, 2 flavours, beta = 2, 8x8: training cost to target ESS (scripts/experiments/fig2.sh)" noenhanced
set title "kappa = 0.25"
plot 0.3 with lines dt 2 lw 1.5 lc "black" notitle, 0.5 with lines dt 2 lw 1.5 lc "black" notitle, 0.7 with lines dt 2 lw 1.5 lc "black" notitle, \
     f("scratch_k0.25") using "n_train":"ess_rolling" with lines lw 2 lc rgb 0xd62728 title "from scratch", \
     f("from0_k0.25") using "n_train":"ess_rolling" with lines lw 2 lc rgb 0x1f77b4 title "from the kappa = 0 model"
set title "kappa = 0.263"
plot 0.3 with lines dt 2 lw 1.5 lc "black" notitle, 0.5 with lines dt 2 lw 1.5 lc "black" notitle, 0.7 with lines dt 2 lw 1.5 lc "black" notitle, \
     f("scratch_k0.263") using "n_train":"ess_rolling" with lines lw 2 lc rgb 0xd62728 title "from scratch", \
     f("from0_k0.263") using "n_train":"ess_rolling" with lines lw 2 lc rgb 0x1f77b4 title "from the kappa = 0 model", \
     f("seq_k0.263") using (column("n_train") + shift_n):"ess_rolling" with lines lw 2 lc rgb 0x2ca02c title "0 -> 0.25 -> 0.263 (cumulative)"
unset multiplot
