# Fit flexmix's mixture of Poisson regressions (FLXMRglm(family = "poisson")),
# optionally with a multinomial concomitant model (a mixture of Poisson experts
# with a softmax gate), as the reference for skmoe's Poisson family.
#
# Two kinds of use:
#
#   Rscript benchmarks/flexmix_poisson.R patent N_STARTS [TOLERANCE] [ITER_MAX]
#   Rscript benchmarks/flexmix_poisson.R npreg N_STARTS [TOLERANCE] [ITER_MAX]
#
#     flexmix's own examples, best of N_STARTS random starts:
#       patent: data("patent", package = "flexmix"), Patents ~ lgRD, k = 3,
#               concomitant = FLXPmultinom(~ RDS) (the example of ?patent);
#       npreg:  data("NPreg", package = "flexmix"), yp ~ x, k = 2, no
#               concomitant (the gate is constant mixing weights).
#     Start s (1..N_STARTS) runs after set.seed(s), so every start can be
#     rerun alone; flexmix draws random hard labels as its start. The loop is
#     used instead of stepFlexmix(nrep = ) because stepFlexmix keeps only the
#     best fit and we want every start's logLik.
#     Prints one line:
#       seconds=<total over all starts> loglik=<best> df=<its df> iter=<n>
#       converged=<0|1> k=<k> best_start=<s> logliks=<l1,...,lN>
#       iters=<n1,...,nN> flexmix=<v> R=<v> blas=<lib>
#
#   Rscript benchmarks/flexmix_poisson.R DATA.csv K [LABELS|-] [TOLERANCE] [ITER_MAX]
#
#     DATA.csv has a header "y,x1,...,xd" (y counts). Poisson experts on all x
#     columns and a FLXPmultinom(~ x1 + ... + xd) gate. LABELS is a file of
#     initial hard labels (1..K, one per line) passed as flexmix's `cluster=`,
#     or "-" for flexmix's own random start (after set.seed(0)). Only the
#     flexmix() call is timed (not reading the CSV). Prints one line, as
#     benchmarks/flexmix_fit.R does:
#       seconds=<s> loglik=<total> iter=<n> converged=<0|1> k=<k> df=<df>
#       flexmix=<v> R=<v> blas=<lib>
#
# TOLERANCE (default 1e-6) is flexmix's: EM stops when
# |logLik - logLik_old| / (|logLik| + 0.1) < TOLERANCE. ITER_MAX defaults to 200.
# minprior = 0 in every mode keeps every component (flexmix's default 0.05
# would drop small ones), so the model stays the one skmoe fits. On patent and
# NPreg the 10-start results are the same with the default minprior.

suppressPackageStartupMessages(library(flexmix))

usage <- paste(
  "usage: flexmix_poisson.R patent|npreg N_STARTS [TOLERANCE] [ITER_MAX]",
  "   or: flexmix_poisson.R DATA.csv K [LABELS|-] [TOLERANCE] [ITER_MAX]",
  sep = "\n"
)
args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 2) stop(usage, call. = FALSE)

versions <- sprintf(
  "flexmix=%s R=%s blas=%s",
  as.character(packageVersion("flexmix")),
  paste(R.version$major, R.version$minor, sep = "."),
  basename(sessionInfo()$BLAS)
)

# Optional numeric argument at position i, or its default.
num_arg <- function(i, default, convert) {
  value <- if (length(args) >= i) suppressWarnings(convert(args[[i]])) else default
  if (is.na(value)) stop(usage, call. = FALSE)
  value
}

if (args[[1]] %in% c("patent", "npreg")) {
  # ---- flexmix's example data, best of N_STARTS random starts ------------
  n_starts <- num_arg(2, NA, as.integer)
  tolerance <- num_arg(3, 1e-6, as.numeric)
  iter_max <- num_arg(4, 200L, as.integer)
  control <- list(iter.max = iter_max, tolerance = tolerance, minprior = 0)

  if (args[[1]] == "patent") {
    data("patent", package = "flexmix", envir = environment())
    fit_once <- function() {
      flexmix(Patents ~ lgRD, data = patent, k = 3,
              model = FLXMRglm(family = "poisson"),
              concomitant = FLXPmultinom(~ RDS), control = control)
    }
  } else {
    data("NPreg", package = "flexmix", envir = environment())
    fit_once <- function() {
      flexmix(yp ~ x, data = NPreg, k = 2,
              model = FLXMRglm(family = "poisson"), control = control)
    }
  }

  best <- NULL
  best_start <- NA_integer_
  logliks <- numeric(n_starts)
  iters <- integer(n_starts)
  start <- proc.time()[["elapsed"]]
  for (s in seq_len(n_starts)) {
    set.seed(s)
    fit <- fit_once()
    logliks[[s]] <- as.numeric(logLik(fit))
    iters[[s]] <- fit@iter
    if (is.null(best) || logliks[[s]] > as.numeric(logLik(best))) {
      best <- fit
      best_start <- s
    }
  }
  seconds <- proc.time()[["elapsed"]] - start

  best_loglik <- logLik(best)
  cat(sprintf(
    "seconds=%.6f loglik=%.10f df=%d iter=%d converged=%d k=%d best_start=%d logliks=%s iters=%s %s\n",
    seconds,
    as.numeric(best_loglik),
    as.integer(attr(best_loglik, "df")),
    best@iter,
    as.integer(best@converged),
    best@k,
    best_start,
    paste(sprintf("%.10f", logliks), collapse = ","),
    paste(iters, collapse = ","),
    versions
  ))
} else {
  # ---- a CSV "y,x1,...,xd": Poisson experts, multinomial gate, one fit ----
  data <- read.csv(args[[1]])
  k <- num_arg(2, NA, as.integer)
  labels_path <- if (length(args) >= 3) args[[3]] else "-"
  tolerance <- num_arg(4, 1e-6, as.numeric)
  iter_max <- num_arg(5, 200L, as.integer)

  cluster <- NULL
  if (labels_path != "-") {
    cluster <- as.integer(scan(labels_path, quiet = TRUE))
    # With cluster= flexmix takes k from the labels; check they agree with K.
    if (length(cluster) != nrow(data) || !all(cluster %in% seq_len(k))) {
      stop("LABELS must hold one label in 1..K per row of DATA.csv", call. = FALSE)
    }
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
    # flexmix takes either k (random start) or cluster (k from the labels).
    k = if (is.null(cluster)) k else NULL,
    cluster = cluster,
    model = FLXMRglm(family = "poisson"),
    concomitant = FLXPmultinom(gate_formula),
    control = control
  )
  seconds <- proc.time()[["elapsed"]] - start

  fit_loglik <- logLik(fit)
  cat(sprintf(
    "seconds=%.6f loglik=%.10f iter=%d converged=%d k=%d df=%d %s\n",
    seconds,
    as.numeric(fit_loglik),
    fit@iter,
    as.integer(fit@converged),
    fit@k,
    as.integer(attr(fit_loglik, "df")),
    versions
  ))
}
