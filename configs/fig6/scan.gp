# scan.gp -- the plot of configs/fig6/scan.sh: against 1/lambda (the seed's
# axis; the critical region near 1/lambda = 0.9 at L = 16), left the ESS of
# each architecture's flow (model samples, A7, and target samples, A8, on
# the HMC configurations), right the effective samples per second of one
# core, slowest observable counted, of each flow and of HMC.
# usage: gnuplot -e "csv='out/fig6/L16/scan.csv'; png='out/fig6/L16/scan.png'; L=16" configs/fig6/scan.gp
# (optional: archs='3x12 5x6', the architectures drawn; label='normal base, z2',
# the flows' description in the title)
if (!exists("archs")) archs = "3x12 3x24 5x6 5x24"
if (!exists("label")) label = "z2"
set terminal pngcairo size 1300,500 font ",11"
set output png
set datafile separator ","
set multiplot layout 1,2 title sprintf("phi^4, L = %d, m2 = -4: flows (K x nL, %s) against HMC (configs/fig6/scan.sh)", L, label)
set xlabel "1/lambda"
set logscale y
set grid
set key bottom left font ",9"
sel(a, col) = strcol("arch") eq a ? column(col) : NaN

set ylabel "ESS (target-sample values below 1e-8 off the plot)"
set format y "10^{%L}"
set yrange [1e-8:1]
plot for [a in archs] csv using (1/sel(a, "lambda")):(sel(a, "ess_model")):(sel(a, "ess_model_err")) \
       with yerrorlines lw 2 pt 7 title a." model (A7)", \
     for [a in archs] csv using (1/sel(a, "lambda")):(sel(a, "ess_target")):(sel(a, "ess_target_err")) \
       with yerrorlines lw 1 dt 2 pt 6 title a." target (A8)"

set ylabel "effective samples per second (one core)"
set autoscale y
plot for [a in archs] csv using (1/sel(a, "lambda")):(sel(a, "flow_effective_per_s")) \
       with linespoints lw 2 pt 7 title "flow ".a, \
     csv using (1/sel(word(archs, 1), "lambda")):(sel(word(archs, 1), "hmc_effective_per_s")) \
       with linespoints lw 3 lc rgb "black" pt 5 title "HMC"
unset multiplot
