# mixtools' hmeEM on its own documented example, the reference for skmoe's
# hierarchical mixtures of experts (benchmarks/bench_hierarchy.py, benchmark 1):
#
#   Rscript benchmarks/mixtools_hme.R [DATA.csv [OUT.csv [LAMBDA.csv]]]
#
# Run from the repository root. The example is the one in hmeEM's manual
# (mixtools 2.0.0, man/hmeEM.Rd), verbatim:
#
#   data(NOdata)
#   attach(NOdata)
#   set.seed(100)
#   em.out <- regmixEM(Equivalence, NO)
#   hme.out <- hmeEM(Equivalence, NO, beta = em.out$beta)
#   hme.out[3:7]
#
# NOdata (88 rows, shipped with mixtools) is the ethanol engine data: NO, the
# exhaust's nitric oxide, and Equivalence, the equivalence ratio. NOTE the
# roles: the example regresses y = Equivalence on x = NO (the reverse of the
# usual NO ~ Equivalence); this script keeps the manual's roles.
#
# WHAT hmeEM FITS (read from mixtools 2.0.0's R/hmeEM.R). Despite the name it is
# not hierarchical: it is a flat mixture of k = 2 linear Gaussian experts under
# one logistic gate on x (any k other than 2 only prints a warning; the gate's
# Newton step is hard-coded for one predictor plus the intercept, x[, 2]):
#
#   p(y | x) = lambda(x) N(y; b10 + b11 x, s1^2) + (1 - lambda(x)) N(y; b20 + b21 x, s2^2)
#   lambda(x) = 1 / (1 + exp(-(w0 + w1 x)))           (comp.1's gate probability)
#
# Its reported loglik is the full observed-data Gaussian log-likelihood with
# every constant (the code writes it as sum(log(lambda)) - n log(sqrt(2 pi))
# - n log(s1) - sum(r1^2) / (2 s1^2) + sum(log(1 + ...)), which is algebraically)
#
#   loglik = sum_i log[ lambda(x_i) N(y_i; f1(x_i), s1^2) + (1 - lambda(x_i)) N(y_i; f2(x_i), s2^2) ]
#
# exactly skmoe's log_likelihood_ for n_experts=2 with a softmax gate on x (the
# softmax of two logits is the logistic of their difference: skmoe's gate logit
# difference, comp.1 minus comp.2, is w0 + w1 x). This script recomputes it
# with dnorm at the reported parameters ("loglik_recomputed"), and
# bench_hierarchy.py again in Python with skmoe's formula.
#
# The fit (also from R/hmeEM.R): EM; the sigmas are the maximum-likelihood ones
# (weighted mean squared residuals, no degrees-of-freedom correction); the
# experts by weighted lm. The gate's M-step is NOT exact: its "Newton" step uses
# the weights 1 / (p (1 - p)) where Newton's are p (1 - p) (A in its NR
# function), an ascent step 16 or more times shorter than the bound-optimisation
# step, iterated only until the step's absolute sum is below 0.002 (p * 0.001),
# so each iteration is a generalised EM step. It stops when the log-likelihood
# rises by less than epsilon = 1e-8 in one iteration (maxit = 10000), so it can
# stop short of the maximum while the gate still creeps. A decrease in the
# log-likelihood or a sigma below 1e-8 restarts it from random values
# (regmix.init), at most 15 times; "iterations" below counts since the last
# restart. Starting values: beta as given (the example passes regmixEM's);
# sigma from regmix.init (1 / rexp(2, rate = the binned fits' residual sds), so
# the seed matters even with beta given); w = 0 (lambda = 1/2).
#
# Fits: (1) "documented": the manual's example exactly (set.seed(100), regmixEM,
# then hmeEM with its beta); (2) "restart_01" ... "restart_20": hmeEM from its
# own random start (beta = NULL) with set.seed(1), ..., set.seed(20); (3) "best":
# a copy of the fit with the highest loglik among (1) and (2). Writes:
#
# - DATA.csv (default benchmarks/data/nodata.csv): x (NO), y (Equivalence).
# - OUT.csv (default benchmarks/results/mixtools_hme.csv): columns fit, seed,
#   parameter, value; parameters: loglik (hmeEM's), loglik_recomputed (dnorm at
#   its parameters), gate_intercept and gate_x (w0, w1: the logit of comp.1's
#   probability), comp1_intercept, comp1_x, comp1_sigma, comp2_intercept,
#   comp2_x, comp2_sigma, lambda_mean (comp.1's mean gate probability),
#   iterations, restarts, seconds (elapsed), mixtools_version.
# - LAMBDA.csv (default benchmarks/results/mixtools_hme_lambda.csv): the best
#   fit's lambda per row: row, x, lambda (comp.1), posterior (comp.1).

suppressPackageStartupMessages(library(mixtools))

args <- commandArgs(trailingOnly = TRUE)
out_data <- if (length(args) >= 1) args[[1]] else "benchmarks/data/nodata.csv"
out <- if (length(args) >= 2) args[[2]] else "benchmarks/results/mixtools_hme.csv"
out_lambda <- if (length(args) >= 3) args[[3]] else "benchmarks/results/mixtools_hme_lambda.csv"

data(NOdata, package = "mixtools")
x <- NOdata$NO
y <- NOdata$Equivalence
write.csv(data.frame(x = x, y = y), out_data, row.names = FALSE)

quiet <- function(expr) {
  # hmeEM and regmixEM print their iteration counts with cat().
  value <- NULL
  invisible(capture.output(value <- expr))
  value
}

recomputed_loglik <- function(fit) {
  lambda <- fit$lambda[, 1]
  mean <- fit$x %*% fit$beta
  sum(log(lambda * dnorm(y, mean[, 1], fit$sigma[1]) +
    (1 - lambda) * dnorm(y, mean[, 2], fit$sigma[2])))
}

timed_fit <- function(seed, documented) {
  set.seed(seed)
  start <- proc.time()[["elapsed"]]
  fit <- tryCatch(
    quiet({
      if (documented) {
        em.out <- regmixEM(y, x)
        hmeEM(y, x, beta = em.out$beta)
      } else {
        hmeEM(y, x)
      }
    }),
    error = function(e) NULL
  )
  if (!is.null(fit)) fit$seconds <- proc.time()[["elapsed"]] - start
  fit
}

rows <- function(name, seed, fit) {
  values <- c(
    loglik = fit$loglik,
    loglik_recomputed = recomputed_loglik(fit),
    gate_intercept = fit$w[1],
    gate_x = fit$w[2],
    comp1_intercept = fit$beta[1, 1],
    comp1_x = fit$beta[2, 1],
    comp1_sigma = fit$sigma[1],
    comp2_intercept = fit$beta[1, 2],
    comp2_x = fit$beta[2, 2],
    comp2_sigma = fit$sigma[2],
    lambda_mean = mean(fit$lambda[, 1]),
    iterations = length(fit$all.loglik) - 1,
    restarts = fit$restarts,
    seconds = fit$seconds
  )
  frame <- data.frame(
    fit = name, seed = seed, parameter = names(values),
    value = sprintf("%.17g", values)
  )
  rbind(frame, data.frame(
    fit = name, seed = seed, parameter = "mixtools_version",
    value = as.character(packageVersion("mixtools"))
  ))
}

fits <- list(documented = timed_fit(100, documented = TRUE))
seeds <- c(documented = 100)
for (seed in 1:20) {
  name <- sprintf("restart_%02d", seed)
  fit <- timed_fit(seed, documented = FALSE)
  if (is.null(fit)) {
    cat(name, ": hmeEM stopped (too many restarts)\n")
    next
  }
  fits[[name]] <- fit
  seeds[[name]] <- seed
}
logliks <- sapply(fits, function(fit) fit$loglik)
best <- names(which.max(logliks))
fits[["best"]] <- fits[[best]]
seeds[["best"]] <- seeds[[best]]

table <- do.call(rbind, lapply(names(fits), function(name) {
  rows(name, seeds[[name]], fits[[name]])
}))
write.csv(table, out, row.names = FALSE)
write.csv(data.frame(
  row = seq_along(y), x = x, lambda = fits$best$lambda[, 1],
  posterior = fits$best$posterior[, 1]
), out_lambda, row.names = FALSE)

for (name in names(fits)) {
  fit <- fits[[name]]
  cat(sprintf(
    "%-11s loglik %.6f (recomputed %.6f), %d iterations, %d restarts, %.2f s\n",
    name, fit$loglik, recomputed_loglik(fit), length(fit$all.loglik) - 1,
    fit$restarts, fit$seconds
  ))
}
cat("best:", best, "\n")
print(fits$best[c("w", "beta", "sigma", "loglik")])
