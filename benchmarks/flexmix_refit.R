# flexmix's standard errors on its NPreg example, the reference for skmoe's
# coefficient_table (benchmarks/bench_inference.py, tests/test_inference.py):
#
#   Rscript benchmarks/flexmix_refit.R [OUT.csv]
#
# Run from the repository root; writes OUT.csv (default
# benchmarks/results/flexmix_refit.csv) with one row per parameter: model
# ("plain", or "concomitant" with FLXPmultinom(~ x)), component ("Comp.1",
# "Comp.2", "concomitant Comp.2"), parameter, estimate, std_error, z, p_value;
# and one row per model with parameter "logLik" (the log-likelihood of the EM
# fit; its std_error and the rest empty).
#
# What refit() computes (flexmix 2.3, method = "optim", the default): it
# maximises the incomplete-data log-likelihood over all parameters jointly with
# optim(method = "BFGS", hessian = TRUE), starting from the EM fit, and takes the
# inverse of the numerical Hessian as the covariance. The parameters are each
# component's coefficients, its log(sigma) (so the coefficients' standard errors
# account for the sigmas' uncertainty), and the concomitant model's coefficients
# of components 2..K against component 1 (reference coding). So its standard
# errors are those of the observed information over all parameters at the
# maximum likelihood estimate: the same quantity skmoe's observed information
# computes analytically. refit's estimates are optim's, at the MLE, which can
# differ in the last digits from EM's.
#
# Both models start from the true classes (cluster = NPreg$class, as flexmix's
# own examples do), with EM run to tolerance 1e-12.

suppressPackageStartupMessages(library(flexmix))

args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[[1]] else "benchmarks/results/flexmix_refit.csv"
NPreg <- read.csv("benchmarks/data/npreg.csv")
control <- list(tolerance = 1e-12, iter.max = 5000)

fits <- list(
  plain = flexmix(yn ~ x + I(x^2), data = NPreg, cluster = NPreg$class,
                  control = control),
  concomitant = flexmix(yn ~ x + I(x^2), data = NPreg, cluster = NPreg$class,
                        concomitant = FLXPmultinom(~ x), control = control)
)

rows <- list()
add <- function(model, component, table) {
  for (i in seq_len(nrow(table))) {
    rows[[length(rows) + 1]] <<- data.frame(
      model = model, component = component, parameter = rownames(table)[i],
      estimate = table[i, 1], std_error = table[i, 2], z = table[i, 3],
      p_value = table[i, 4]
    )
  }
}
for (model in names(fits)) {
  m <- fits[[model]]
  r <- refit(m)
  cat("==", model, ": logLik", format(as.numeric(logLik(m)), digits = 10), "\n")
  print(summary(r))
  for (component in names(r@components[[1]])) {
    add(model, component, r@components[[1]][[component]])
  }
  if (length(r@concomitant)) {
    print(summary(r, which = "concomitant"))
    for (component in names(r@concomitant)) {
      add(model, paste("concomitant", component), r@concomitant[[component]])
    }
  }
  rows[[length(rows) + 1]] <- data.frame(
    model = model, component = "", parameter = "logLik",
    estimate = as.numeric(logLik(m)), std_error = NA, z = NA, p_value = NA
  )
}
write.csv(do.call(rbind, rows), out, row.names = FALSE, na = "")
cat("written to", out, "\n")
