# fig6.gp -- the plot of configs/fig6/run.sh: ESS (left) and effective
# samples per second (right) of the flow and of HMC against lambda, from
# the scan's CSV (columns by name). Lambda decreases to the right, towards
# the critical region near lambda = 1.1 at L = 16.
# usage: gnuplot -e "csv='out/fig6/fig6.csv'; png='out/fig6/fig6.png'" configs/fig6/fig6.gp
set terminal pngcairo size 1200,480 font ",11"
set output png
set datafile separator ","
set key autotitle columnhead
set multiplot layout 1,2 title "phi^4, L = 16, m2 = -4: flow against HMC (configs/fig6)"
set xlabel "lambda"
set xrange [2.1:1.2]
set logscale y
set grid
set key bottom left

set ylabel "ESS"
set format y "10^{%L}"
plot csv using "lambda":"flow_ess_model":"flow_ess_model_err" with yerrorlines lw 2 pt 7 title "flow ESS model (A7)", \
     csv using "lambda":"flow_ess_target":"flow_ess_target_err" with yerrorlines lw 2 pt 5 title "flow ESS target (A8, on HMC)", \
     csv using "lambda":"flow_ess_per_step" with linespoints lw 2 pt 9 title "flow chain 1/(2 tau_{int})", \
     csv using "lambda":"hmc_ess_per_step" with linespoints lw 2 pt 11 title "HMC 1/(2 tau_{int}) per trajectory"

set ylabel "effective samples per second (one core)"
plot csv using "lambda":"flow_effective_per_s" with linespoints lw 2 pt 7 title "flow", \
     csv using "lambda":"hmc_effective_per_s" with linespoints lw 2 pt 11 title "HMC"
unset multiplot
