# Fit flexmix's mixture of Gaussian regressions with a multinomial concomitant
# model to the motorcycle data (MASS::mcycle), best of N_STARTS random starts:
# the reference for skmoe's gate penalty on a steep gate (docs: core.rst,
# "The gate's penalty").
#
#   Rscript benchmarks/flexmix_mcycle.R N_STARTS [K] [TOLERANCE] [ITER_MAX] [MINPRIOR]
#
# The model is flexmix(accel ~ times, k = K, concomitant = FLXPmultinom(~ times)):
# linear experts on time and a softmax gate on time, as
# MixtureOfExpertsRegressor(n_experts=K) on X = times. K defaults to 4. Start s
# (1..N_STARTS) runs after set.seed(s), flexmix's random hard labels, so every
# start can be rerun alone. TOLERANCE (default 1e-6) is flexmix's: EM stops
# when |logLik - logLik_old| / (|logLik| + 0.1) < TOLERANCE. ITER_MAX defaults
# to 200. MINPRIOR defaults to 0 (every component kept, the model skmoe fits);
# flexmix's own default is 0.05.
#
# Prints one line:
#   seconds=<total over all starts> loglik=<best> df=<its df> iter=<n>
#   converged=<0|1> k=<k left> best_start=<s> logliks=<l1,...,lN>
#   iters=<n1,...,nN> ks=<k1,...,kN> gate_coef=<the best fit's gate slopes on
#   standardised time> flexmix=<v> R=<v> blas=<lib>

suppressPackageStartupMessages(library(flexmix))
data("mcycle", package = "MASS", envir = environment())

args <- commandArgs(trailingOnly = TRUE)
usage <- "usage: flexmix_mcycle.R N_STARTS [K] [TOLERANCE] [ITER_MAX] [MINPRIOR]"
if (length(args) < 1) stop(usage, call. = FALSE)
num_arg <- function(i, default, convert) {
  value <- if (length(args) >= i) suppressWarnings(convert(args[[i]])) else default
  if (is.na(value)) stop(usage, call. = FALSE)
  value
}
n_starts <- num_arg(1, NA, as.integer)
k <- num_arg(2, 4L, as.integer)
tolerance <- num_arg(3, 1e-6, as.numeric)
iter_max <- num_arg(4, 200L, as.integer)
minprior <- num_arg(5, 0, as.numeric)
control <- list(iter.max = iter_max, tolerance = tolerance, minprior = minprior)

best <- NULL
best_start <- NA_integer_
logliks <- numeric(n_starts)
iters <- integer(n_starts)
ks <- integer(n_starts)
start <- proc.time()[["elapsed"]]
for (s in seq_len(n_starts)) {
  set.seed(s)
  fit <- flexmix(accel ~ times, data = mcycle, k = k,
                 concomitant = FLXPmultinom(~ times), control = control)
  logliks[[s]] <- as.numeric(logLik(fit))
  iters[[s]] <- fit@iter
  ks[[s]] <- fit@k
  if (is.null(best) || logliks[[s]] > as.numeric(logLik(best))) {
    best <- fit
    best_start <- s
  }
}
seconds <- proc.time()[["elapsed"]] - start

# The gate's slopes (component 1 is the reference, slope 0) on standardised
# time, centred over the components as skmoe's are, to compare sizes.
slopes <- c(0, best@concomitant@coef["times", -1]) * sd(mcycle$times) *
  sqrt((nrow(mcycle) - 1) / nrow(mcycle))
slopes <- slopes - mean(slopes)

versions <- sprintf(
  "flexmix=%s R=%s blas=%s",
  as.character(packageVersion("flexmix")),
  paste(R.version$major, R.version$minor, sep = "."),
  basename(sessionInfo()$BLAS)
)
best_loglik <- logLik(best)
cat(sprintf(
  "seconds=%.6f loglik=%.10f df=%d iter=%d converged=%d k=%d best_start=%d logliks=%s iters=%s ks=%s gate_coef=%s %s\n",
  seconds,
  as.numeric(best_loglik),
  as.integer(attr(best_loglik, "df")),
  best@iter,
  as.integer(best@converged),
  best@k,
  best_start,
  paste(sprintf("%.6f", logliks), collapse = ","),
  paste(iters, collapse = ","),
  paste(ks, collapse = ","),
  paste(sprintf("%.4g", slopes), collapse = ","),
  versions
))
