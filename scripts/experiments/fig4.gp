# fig4.gp -- the plot of scripts/experiments/fig4.sh: the rolling mean of the
# batch ESS (left) and of the loss (right) over `window` steps against
# N_train (log x), for the optimizers (top, m2 = -2, lambda = 1) and the
# initialisations (bottom, m2 = -4, lambda = 1.5); one colour per optimizer
# or initialisation, one line per seed. Reads
# DIR/<optimizer|init>/<name>/s<seed>/train_plot.csv (scripts/train_log.awk
# with a column loss_rolling added by fig4.sh).
# The ESS of the initialisations is drawn on a log scale, to tell a flow that
# trains slowly from one that does not train. The loss panels show the range from the lowest rolling loss of any run up
# to `loss_span` above it; higher losses (untrained or failed flows) are off
# the top.
# usage: gnuplot -e "dir='out/fig4'; seeds='41 42 43'; optimizers='adam adadelta sgd'; inits='kaiming_1.0 xavier_1.0'; window=20; png='out/fig4/fig4.png'" scripts/experiments/fig4.gp
if (!exists("window")) window = 20
if (!exists("loss_span")) loss_span = 6
set terminal pngcairo size 1300,1000 font ",11"
set output png
set datafile separator ","
set datafile missing "NaN"

f(group, name, seed) = sprintf("%s/%s/%s/s%s/train_plot.csv", dir, group, name, seed)
array palette[10] = [0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf]
colour(i) = palette[(i - 1) % 10 + 1]
dash(i) = i <= 4 ? 1 : 2
ns = words(seeds)
no = words(optimizers)
ni = words(inits)
label(name) = (pos = strstrt(name, "_"), pos ? sprintf("%s, %s %s", name[1:pos-1], name[1:pos-1] eq "xavier" ? "gain" : "scale", name[pos+1:]) : name)

lo_opt = 1e300
lo_init = 1e300
do for [i=1:no] { do for [s=1:ns] {
  stats f("optimizer", word(optimizers, i), word(seeds, s)) using "loss_rolling" nooutput
  lo_opt = STATS_min < lo_opt ? STATS_min : lo_opt
} }
do for [i=1:ni] { do for [s=1:ns] {
  stats f("init", word(inits, i), word(seeds, s)) using "loss_rolling" nooutput
  lo_init = STATS_min < lo_init ? STATS_min : lo_init
} }

set multiplot layout 2,2 title "phi^4, 8 x 8: optimizers (m2 = -2, lambda = 1) and initialisations (m2 = -4, lambda = 1.5); batch 512 (scripts/experiments/fig4.sh)" noenhanced
set logscale x
set format x "10^{%L}"
set grid
set xlabel "N_{train} (samples drawn)"
set key bottom right font ",10"

set title "optimizers: ESS"
set yrange [0:0.5]
set ylabel sprintf("rolling mean of the batch ESS over %d steps", window)
plot for [i=1:no] for [s=1:ns] f("optimizer", word(optimizers, i), word(seeds, s)) using "n_train":"ess_rolling" \
       with lines lw 1.2 lc rgb colour(i) title (s == 1 ? word(optimizers, i) : "")
set title "optimizers: loss"
set yrange [lo_opt - 0.5 : lo_opt + loss_span]
set ylabel sprintf("rolling mean of the loss over %d steps", window)
set key top right
plot for [i=1:no] for [s=1:ns] f("optimizer", word(optimizers, i), word(seeds, s)) using "n_train":"loss_rolling" \
       with lines lw 1.2 lc rgb colour(i) title (s == 1 ? word(optimizers, i) : "")

set key top left
set title "initialisations: ESS (log scale)"
set logscale y
set format y "10^{%L}"
set yrange [1e-3:1]
set ylabel sprintf("rolling mean of the batch ESS over %d steps", window)
plot for [i=1:ni] for [s=1:ns] f("init", word(inits, i), word(seeds, s)) using "n_train":"ess_rolling" \
       with lines lw 1.2 dt dash(i) lc rgb colour(i) title (s == 1 ? label(word(inits, i)) : "")
set title "initialisations: loss"
unset logscale y
set format y "%g"
set yrange [lo_init - 0.5 : lo_init + loss_span]
set ylabel sprintf("rolling mean of the loss over %d steps", window)
set key bottom left
plot for [i=1:ni] for [s=1:ns] f("init", word(inits, i), word(seeds, s)) using "n_train":"loss_rolling" \
       with lines lw 1.2 dt dash(i) lc rgb colour(i) title (s == 1 ? label(word(inits, i)) : "")
unset multiplot
