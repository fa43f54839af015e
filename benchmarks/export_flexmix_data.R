# Export two of flexmix's data sets to CSV, so that Python tests and examples
# can compare skmoe's Poisson family with flexmix without needing R:
#
#   Rscript benchmarks/export_flexmix_data.R [OUT_DIR]
#
# writes OUT_DIR/patent.csv and OUT_DIR/npreg.csv (OUT_DIR defaults to
# benchmarks/data, relative to the working directory; run it from the
# repository root). Every column of each data set is written, with a header
# row, without R's row names.
#
# Where the data come from (both are shipped with the R package flexmix,
# licensed GPL (>= 2), by Bettina Gruen and Friedrich Leisch:
# https://CRAN.R-project.org/package=flexmix; B. Gruen and F. Leisch, FlexMix
# Version 2: finite mixtures with concomitant variables and varying and
# constant parameters, Journal of Statistical Software 28(4), 1-35, 2008,
# doi:10.18637/jss.v028.i04):
#
# - patent (?patent): patents, R&D spending per sales (RDS) and log R&D
#   spending (lgRD) of 70 pharmaceutical and biomedical companies in 1976,
#   from the NBER R&D Masterfile, as used by P. Wang, I.M. Cockburn and
#   M.L. Puterman, Analysis of patent data - a mixed-Poisson-regression-model
#   approach, Journal of Business & Economic Statistics 16(1), 27-41, 1998.
#   Columns: Company, Patents, RDS, lgRD.
# - NPreg (?ExNPreg): an artificial 2-class regression example made by the
#   flexmix authors (ExNPreg(100) after set.seed(2602)): x uniform on [0, 10]
#   and Gaussian (yn), Poisson (yp) and binomial (yb) responses; class is the
#   true latent class, id1 and id2 are grouping factors.
#   Columns: x, yn, yp, yb, class, id1, id2.

suppressPackageStartupMessages(library(flexmix))

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[[1]] else file.path("benchmarks", "data")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

data("patent", package = "flexmix", envir = environment())
data("NPreg", package = "flexmix", envir = environment())

# The company names are stored blank-padded to a fixed width of 40; the padding
# carries no information and would only get in the way when reading the CSV.
patent$Company <- trimws(patent$Company)

# write.csv writes doubles with 15 significant digits, which does not give back
# R's values for NPreg's x and yn (off by ~1e-14). Write each double with the
# fewest digits (15 to 17) that read back to exactly the same number instead:
# patent's 4-decimal values stay as short as they are printed.
shortest <- function(x) {
  out <- formatC(x, digits = 15, format = "g")
  for (digits in 16:17) {
    inexact <- as.numeric(out) != x
    out[inexact] <- formatC(x[inexact], digits = digits, format = "g")
  }
  stopifnot(all(as.numeric(out) == x))
  trimws(out)
}

write_data <- function(df, path) {
  for (name in names(df)) {
    column <- df[[name]]
    if (is.factor(column)) {
      # id1 and id2 are factors with levels "1", "2", ...: write the integers.
      df[[name]] <- as.integer(as.character(column))
    } else if (is.double(column) && any(column != round(column))) {
      df[[name]] <- shortest(column)
    }
  }
  # Quote only the true text column (Company), not the numbers made text above.
  quote <- which(names(df) == "Company")
  write.csv(df, path, row.names = FALSE, quote = if (length(quote)) quote else FALSE)
}

write_data(patent, file.path(out_dir, "patent.csv"))
write_data(NPreg, file.path(out_dir, "npreg.csv"))

cat(sprintf("wrote %s (%d rows) and %s (%d rows)\n",
            file.path(out_dir, "patent.csv"), nrow(patent),
            file.path(out_dir, "npreg.csv"), nrow(NPreg)))
