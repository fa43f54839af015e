# Fit flexmix's mixture of Gaussian regressions with a multinomial concomitant model
# (a mixture of linear experts with a softmax gate) and time the fit alone.
#
# Called by benchmarks/bench_performance.py:
#
#   Rscript benchmarks/flexmix_fit.R DATA.csv K [LABELS|-] [TOLERANCE] [ITER_MAX]
#
# DATA.csv has a header "y,x1,...,xd". LABELS is a file of initial hard labels
# (1..K, one per line) passed as flexmix's `cluster=`, or "-" for flexmix's own
# random start. TOLERANCE (default 1e-6) is flexmix's: EM stops when
# |logLik - logLik_old| / (|logLik| + 0.1) < TOLERANCE. ITER_MAX defaults to 200.
# minprior = 0 keeps every component, so the model stays the one skmoe fits.
#
# Prints one line:
#   seconds=<s> loglik=<total> iter=<n> converged=<0|1> k=<k> flexmix=<v> R=<v>
#   blas=<the BLAS library R is linked to>

suppressPackageStartupMessages(library(flexmix))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 2) {
  stop("usage: flexmix_fit.R DATA.csv K [LABELS|-] [TOLERANCE] [ITER_MAX]")
}
data <- read.csv(args[[1]])
k <- as.integer(args[[2]])
labels_path <- if (length(args) >= 3) args[[3]] else "-"
tolerance <- if (length(args) >= 4) as.numeric(args[[4]]) else 1e-6
iter_max <- if (length(args) >= 5) as.integer(args[[5]]) else 200L
if (is.na(k) || is.na(tolerance) || is.na(iter_max)) {
  stop("K, TOLERANCE and ITER_MAX must be numbers")
}

cluster <- NULL
if (labels_path != "-") {
  cluster <- as.integer(scan(labels_path, quiet = TRUE))
}

features <- setdiff(names(data), "y")
rhs <- paste(features, collapse = " + ")
expert_formula <- as.formula(paste("y ~", rhs))
gate_formula <- as.formula(paste("~", rhs))
control <- list(iter.max = iter_max, tolerance = tolerance, minprior = 0)

set.seed(0)
start <- proc.time()[["elapsed"]]
fit <- flexmix(
  expert_formula,
  data = data,
  k = if (is.null(cluster)) k else NULL,
  cluster = cluster,
  model = FLXMRglm(family = "gaussian"),
  concomitant = FLXPmultinom(gate_formula),
  control = control
)
seconds <- proc.time()[["elapsed"]] - start

cat(sprintf(
  "seconds=%.6f loglik=%.10f iter=%d converged=%d k=%d flexmix=%s R=%s blas=%s\n",
  seconds,
  as.numeric(logLik(fit)),
  fit@iter,
  as.integer(fit@converged),
  fit@k,
  as.character(packageVersion("flexmix")),
  paste(R.version$major, R.version$minor, sep = "."),
  basename(sessionInfo()$BLAS)
))
