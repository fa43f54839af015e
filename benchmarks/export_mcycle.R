# Export the motorcycle-acceleration data (MASS::mcycle) to CSV, so that Python
# tests and benchmarks can fit it without needing R:
#
#   Rscript benchmarks/export_mcycle.R [OUT_DIR]
#
# writes OUT_DIR/mcycle.csv (OUT_DIR defaults to benchmarks/data, relative to
# the working directory; run it from the repository root): a header row
# "times,accel" and the 133 rows in R's order, without row names.
#
# Where the data come from: the R package MASS (GPL-2 | GPL-3, by Brian Ripley
# and others; https://CRAN.R-project.org/package=MASS; W.N. Venables and B.D.
# Ripley, Modern Applied Statistics with S, 4th edition, Springer, 2002).
# ?mcycle: "A data frame giving a series of measurements of head acceleration
# in a simulated motorcycle accident, used to test crash helmets", from B.W.
# Silverman, Some aspects of the spline smoothing approach to non-parametric
# curve fitting, Journal of the Royal Statistical Society B 47, 1-52, 1985.
# Columns: times (milliseconds after impact), accel (acceleration, in g).
# Both columns have one decimal, which write.csv's 15 digits give back exactly.

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[[1]] else file.path("benchmarks", "data")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

data("mcycle", package = "MASS", envir = environment())
path <- file.path(out_dir, "mcycle.csv")
write.csv(mcycle, path, row.names = FALSE, quote = FALSE)
stopifnot(isTRUE(all.equal(read.csv(path), mcycle, check.attributes = FALSE,
                           tolerance = 0)))
cat(sprintf("wrote %s (%d rows)\n", path, nrow(mcycle)))
