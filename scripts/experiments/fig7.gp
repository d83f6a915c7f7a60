# fig7.gp -- the plot of scripts/experiments/fig7.sh: the model-sample ESS
# (eq. A7) of 8x8-trained flows sampled on L x L (points with bootstrap
# errors) against L, log y, for kappa = 0, 0.25, 0.263 at beta = 2, with the
# extrapolation ESS(8)^(V/64) of the seed's eq. 8 (lines) and the floor 1/N
# below which N proposals cannot resolve an ESS (gray circles).
# usage: gnuplot -e "csv='out/fig7/fig7.csv'; png='out/fig7/fig7.png'" scripts/experiments/fig7.gp
set terminal pngcairo size 800,560 font ",11"
set output png
set datafile separator ","
set logscale y
set format y "10^{%L}"
set xlabel "L (lattice L x L; model trained on 8 x 8)"
set ylabel "ESS (model samples)"
set xrange [6:26]
set yrange [1e-5:1.2]
set key bottom left
set grid
set title "Schwinger model, beta = 2: volume transfer without retraining (scripts/experiments/fig7.sh)" noenhanced
k(s) = s eq "0" ? 0 : s eq "0.25" ? 0.25 : 0.263
colour(i) = i == 1 ? 0x2ca02c : i == 2 ? 0x1f77b4 : 0xd62728
kap = "0 0.25 0.263"
plot for [i=1:3] csv using ((strcol(1) eq word(kap, i)) ? column("L") : NaN):"ess":"ess_err" \
       with yerrorbars pt 7 lc rgb colour(i) title sprintf("kappa = %s", word(kap, i)), \
     for [i=1:3] csv using ((strcol(1) eq word(kap, i)) ? column("L") : NaN):"ess_extrap" \
       with lines lw 2 lc rgb colour(i) title sprintf("ESS(8)^{V/64}, kappa = %s", word(kap, i)), \
     csv using "L":"floor" with points pt 6 ps 0.6 lc "gray" title "1/N (N proposals of the point)"
