"""The noise families: their densities, what EM recovers with them, and their errors."""

import csv
import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import minimize
from sklearn.base import clone
from sklearn.linear_model import (
    GammaRegressor,
    LinearRegression,
    PoissonRegressor,
)
from sklearn.model_selection import GridSearchCV
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import MixtureOfExpertsRegressor
from skmoe._glm import fit_glm_experts
from skmoe.datasets import make_moe_regression
from skmoe.exceptions import ExpertCollapseWarning
from skmoe.families import (
    Categorical,
    Family,
    Gamma,
    Gaussian,
    NegativeBinomial,
    Poisson,
    StudentT,
)
from skmoe.inspection import summary
from skmoe.model_selection import select_n_experts

FAMILIES = ["gaussian", "student_t", "poisson", "negative_binomial", "gamma"]
DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data"


def _fitted(family, n_samples=6000, n_experts=2, random_state=1, **params):
    X, y, truth = make_moe_regression(
        n_samples=n_samples,
        n_experts=n_experts,
        family=family,
        random_state=random_state,
        return_params=True,
    )
    moe = MixtureOfExpertsRegressor(
        family=family, n_experts=n_experts, random_state=0, **params
    ).fit(X, y)
    return X, y, truth, moe


def _matched(moe, truth):
    """The fitted experts' indices in the order of the true experts."""
    fitted = np.array([np.append(e.coef_, e.intercept_) for e in moe.experts_])
    true = np.column_stack([truth.coef, truth.intercept])
    distances = ((true[:, None] - fitted[None]) ** 2).sum(axis=2)
    order = np.argmin(distances, axis=1)
    assert len(set(order)) == len(order)
    return order


# ---- the log-densities, with every constant


def _scipy_log_density(name, means, y, parameter):
    if name == "poisson":
        return stats.poisson.logpmf(y[:, None], means)
    if name == "negative_binomial":
        size = 1.0 / parameter
        return stats.nbinom.logpmf(y[:, None], size, size / (size + means))
    if name == "gamma":
        return stats.gamma.logpdf(y[:, None], parameter, scale=means / parameter)
    return stats.t.logpdf(y[:, None], parameter[1], loc=means, scale=parameter[0])


@pytest.mark.parametrize(
    "family, parameters",
    [
        (Poisson(), {}),
        (NegativeBinomial(), {"dispersion_": np.array([0.3, 2.0])}),
        (Gamma(), {"shape_": np.array([0.7, 5.0])}),
        (StudentT(), {"scale_": np.array([0.5, 2.0]), "df_": np.array([1.0, 7.5])}),
    ],
    ids=lambda p: type(p).__name__ if isinstance(p, Family) else "",
)
def test_log_density_is_scipys(family, parameters):
    rng = np.random.default_rng(0)
    means = rng.uniform(0.2, 6.0, size=(50, 2))
    real = family.name in ("gamma", "student_t")
    y = rng.uniform(0.1, 9.0, 50) if real else rng.integers(0, 12, 50).astype(float)
    for name, value in parameters.items():
        setattr(family, name, value)
    parameter = {
        "negative_binomial": parameters.get("dispersion_"),
        "gamma": parameters.get("shape_"),
        "student_t": (parameters.get("scale_"), parameters.get("df_")),
    }.get(family.name)
    expected = _scipy_log_density(family.name, means, y, parameter)
    np.testing.assert_allclose(family.log_likelihood(means, y), expected, rtol=1e-10)


def test_poisson_zero_mean_is_finite():
    y = np.array([0.0, 3.0])
    log_density = Poisson().log_likelihood(np.zeros((2, 1)), y)
    assert abs(log_density[0, 0]) < 1e-200
    assert np.isfinite(log_density[1, 0]) and log_density[1, 0] < -1000


# ---- recovery


@pytest.mark.parametrize("family", FAMILIES)
def test_recovers_experts_gate_and_family_parameters(family):
    X, _, truth, moe = _fitted(family)
    order = _matched(moe, truth)
    tolerance = 0.1  # three to five standard errors at these sizes
    for true_k, k in enumerate(order):
        expert = moe.experts_[k]
        np.testing.assert_allclose(expert.coef_, truth.coef[true_k], atol=tolerance)
        assert abs(expert.intercept_ - truth.intercept[true_k]) < tolerance
    true_gate = np.argmax(X @ truth.gate_coef.T + truth.gate_intercept, axis=1)
    assert np.mean(moe.predict_gate(X) == order[true_gate]) > 0.97
    if family == "student_t":
        np.testing.assert_allclose(moe.df_, truth.df, atol=0.6)
        np.testing.assert_allclose(moe.scale_, truth.scale, rtol=0.1)
    if family == "negative_binomial":
        np.testing.assert_allclose(moe.dispersion_, truth.dispersion, atol=0.1)
    if family == "gamma":
        np.testing.assert_allclose(moe.shape_, truth.shape, rtol=0.1)
    if family == "gaussian":
        np.testing.assert_allclose(np.sqrt(moe.noise_variance_), 0.5, rtol=0.1)


@pytest.mark.parametrize("family", ["student_t", "poisson", "gamma"])
def test_em_never_lowers_the_log_likelihood(family):
    *_, moe = _fitted(family, n_samples=3000, n_init=1, init_size=None, tol=1e-9)
    steps = np.diff(moe.log_likelihood_curve_)
    assert steps.min() > -1e-9 * abs(moe.log_likelihood_)


def test_student_t_recovers_lines_that_outliers_drag_gaussian_experts_off():
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.uniform(-3, 3, n)
    labels = rng.integers(0, 3, n)
    slopes, intercepts = np.array([2.0, -1.0, 0.5]), np.array([0.0, 8.0, -8.0])
    y = slopes[labels] * x + intercepts[labels] + 0.5 * rng.standard_normal(n)
    outliers = rng.uniform(size=n) < 0.05
    y[outliers] = rng.uniform(-40, 40, outliers.sum())
    X = x[:, None]
    train, test = slice(0, 2000), slice(2000, None)
    fits = {
        family: MixtureOfExpertsRegressor(
            family=family, n_experts=3, gate_features=[], random_state=0
        ).fit(X[train], y[train])
        for family in ("gaussian", "student_t")
    }
    errors = {}
    for family, moe in fits.items():
        lines = np.array([[e.coef_[0], e.intercept_] for e in moe.experts_])
        true = np.column_stack([slopes, intercepts])
        errors[family] = np.abs(true[:, None] - lines[None]).max(axis=2).min(axis=1)
    assert errors["student_t"].max() < 0.1
    assert errors["gaussian"].max() > 0.1
    held_out = {f: m.score_samples(X[test], y[test]).mean() for f, m in fits.items()}
    assert held_out["student_t"] > held_out["gaussian"]


def test_student_t_df_options_and_parameter_counts():
    X, y = make_moe_regression(n_samples=1500, n_experts=2, random_state=0)
    counts = {}
    for name, family in [
        ("gaussian", "gaussian"),
        ("per_expert", StudentT()),
        ("shared", StudentT(df="shared")),
        ("fixed", StudentT(df=5.0)),
        ("poisson_like", "gaussian"),
    ]:
        moe = MixtureOfExpertsRegressor(family=family, random_state=0).fit(X, y)
        counts[name] = moe._n_parameters()
        if name == "shared":
            assert moe.df_[0] == moe.df_[1]
        if name == "fixed":
            np.testing.assert_array_equal(moe.df_, [5.0, 5.0])
    assert counts["per_expert"] == counts["gaussian"] + 2
    assert counts["shared"] == counts["gaussian"] + 1
    assert counts["fixed"] == counts["gaussian"]


def test_count_families_parameter_counts():
    X, y = make_moe_regression(
        n_samples=1500, n_experts=2, family="negative_binomial", random_state=0
    )
    poisson = MixtureOfExpertsRegressor(family="poisson", random_state=0).fit(X, y)
    nb = MixtureOfExpertsRegressor(family="negative_binomial", random_state=0)
    nb.fit(X, y)
    # Two experts of 3 coefficients, a gate of 3, and one dispersion per expert.
    assert poisson._n_parameters() == 2 * 3 + 3
    assert nb._n_parameters() == poisson._n_parameters() + 2
    assert nb.bic(X, y) < poisson.bic(X, y)  # the data are overdispersed


def test_glm_newton_reaches_the_experts_own_optimum():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 3))
    weights = rng.uniform(0, 1, 400)
    for expert, y in [
        (PoissonRegressor(alpha=0.3), rng.poisson(np.exp(0.3 * X[:, 0] + 1.0))),
        (GammaRegressor(alpha=0.0), rng.gamma(2.0, np.exp(0.5 * X[:, 1]) / 2.0)),
    ]:
        y = y.astype(float)
        reference = clone(expert).set_params(solver="newton-cholesky", tol=1e-12)
        reference.fit(X, y, sample_weight=weights)
        warm = clone(expert).fit(X[:50], y[:50])  # any fitted start
        predictions, short = fit_glm_experts([warm], X, y, [weights])
        assert short == []
        np.testing.assert_allclose(warm.coef_, reference.coef_, atol=1e-7)
        np.testing.assert_allclose(warm.intercept_, reference.intercept_, atol=1e-7)
        np.testing.assert_allclose(predictions[0], reference.predict(X), rtol=1e-6)


# ---- flexmix's own Poisson examples (benchmarks/flexmix_poisson.R, 10 starts)


def _read_csv(name):
    with open(DATA / name, newline="") as file:
        rows = list(csv.DictReader(file))
    return {
        column: np.array([float(row[column]) for row in rows])
        for column in rows[0]
        if column != "Company"
    }


FLEXMIX_BEST_OF_10 = {"patent": -197.6751973592, "npreg": -440.6409504197}


def test_patent_data_reaches_flexmix_best_of_ten_starts():
    data = _read_csv("patent.csv")
    X = np.column_stack([data["lgRD"], data["RDS"]])
    y = data["Patents"]
    best = -np.inf
    for seed in range(10):
        moe = MixtureOfExpertsRegressor(
            family="poisson",
            n_experts=3,
            expert_features=[0],
            gate_features=[1],
            random_state=seed,
        ).fit(X, y)
        best = max(best, moe.score_samples(X, y).sum())
        assert moe._n_parameters() <= 10
    assert best >= FLEXMIX_BEST_OF_10["patent"] - 1e-6


def test_npreg_counts_reach_flexmix_best_of_ten_starts():
    data = _read_csv("npreg.csv")
    X, y = data["x"][:, None], data["yp"]
    best = max(
        MixtureOfExpertsRegressor(
            family="poisson", n_experts=2, gate_features=[], random_state=seed
        )
        .fit(X, y)
        .score_samples(X, y)
        .sum()
        for seed in range(10)
    )
    assert best >= FLEXMIX_BEST_OF_10["npreg"] - 1e-6


# ---- exposure


def test_rates_weighted_by_exposure_fit_the_offset_model():
    rng = np.random.default_rng(0)
    n = 2000
    X = rng.standard_normal((n, 2))
    exposure = rng.uniform(0.5, 5.0, n)
    counts = rng.poisson(exposure * np.exp(0.4 * X[:, 0] - 0.2 * X[:, 1] + 0.5))
    moe = MixtureOfExpertsRegressor(family="poisson", n_experts=1).fit(
        X, counts / exposure, sample_weight=exposure
    )
    design = np.column_stack([X, np.ones(n)])

    def offset_loss(theta):  # the offset model's negative log-likelihood
        eta = design @ theta + np.log(exposure)
        return np.sum(np.exp(eta) - counts * eta)

    offset = minimize(offset_loss, np.zeros(3), method="BFGS", options={"gtol": 1e-10})
    fitted = np.append(moe.experts_[0].coef_, moe.experts_[0].intercept_)
    np.testing.assert_allclose(fitted, offset.x, atol=1e-5)


# ---- the family as a parameter, in the scikit-learn tools


def test_grid_search_chooses_student_t_by_bic_on_heavy_tails():
    X, y = make_moe_regression(
        n_samples=1500, n_experts=2, family="student_t", df=1.5, random_state=0
    )
    search = GridSearchCV(
        MixtureOfExpertsRegressor(n_experts=2, random_state=0),
        {"family": ["gaussian", "student_t"]},
        scoring=lambda moe, X, y: -moe.bic(X, y),
        cv=3,
    ).fit(X, y)
    assert search.best_params_["family"] == "student_t"


def test_family_parameters_are_nested_parameters():
    moe = MixtureOfExpertsRegressor(family=StudentT())
    moe.set_params(family__df=3.0)
    assert moe.get_params()["family__df"] == 3.0
    X, y = make_moe_regression(n_samples=500, n_experts=2, random_state=0)
    moe.fit(X, y)
    np.testing.assert_array_equal(moe.df_, [3.0, 3.0])
    assert moe.family.get_params() == {"df": 3.0}  # the parameter is not fitted
    assert not hasattr(moe.family, "df_")


@pytest.mark.parametrize("family", FAMILIES)
def test_pickle_keeps_the_family_parameters(family):
    X, y, _, moe = _fitted(family, n_samples=800)
    restored = pickle.loads(pickle.dumps(moe))
    np.testing.assert_array_equal(restored.score_samples(X, y), moe.score_samples(X, y))
    for name, value in moe.family_.fitted_attributes().items():
        np.testing.assert_array_equal(getattr(restored, name), value)


def test_skops_trusts_the_public_family_path():
    sio = pytest.importorskip("skops.io")
    X, y, _, moe = _fitted("student_t", n_samples=800)
    data = sio.dumps(moe)
    untrusted = sio.get_untrusted_types(data=data)
    assert "skmoe.families.StudentT" in untrusted
    restored = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(restored.df_, moe.df_)
    np.testing.assert_array_equal(restored.score_samples(X, y), moe.score_samples(X, y))


def test_summary_shows_the_family_parameters():
    X, y, _, moe = _fitted("negative_binomial", n_samples=800)
    text = str(summary(moe, X, y))
    assert "dispersion" in text.splitlines()[2]
    expert = summary(moe, X, y).experts[0]
    assert expert.family_parameters == {"dispersion": moe.dispersion_[0]}


def test_a_dropped_expert_takes_its_family_parameters():
    X, y = make_moe_regression(
        n_samples=2000, n_experts=1, family="student_t", random_state=0
    )
    moe = MixtureOfExpertsRegressor(
        family="student_t", n_experts=3, collapse_threshold=0.4, random_state=0
    )
    with pytest.warns(ExpertCollapseWarning):  # some share is at most 1/3
        moe.fit(X, y)
    assert moe.n_experts_ < 3
    assert moe.df_.shape == moe.scale_.shape == (moe.n_experts_,)
    assert np.all(np.isfinite(moe.score_samples(X, y)))


def test_student_t_trains_by_mini_batches():
    X, y, truth = make_moe_regression(
        n_samples=4000,
        n_experts=2,
        family="student_t",
        random_state=1,
        return_params=True,
    )
    moe = MixtureOfExpertsRegressor(
        family="student_t", solver="gradient", max_iter=30, random_state=0
    ).fit(X, y)
    order = _matched(moe, truth)
    for true_k, k in enumerate(order):
        np.testing.assert_allclose(moe.experts_[k].coef_, truth.coef[true_k], atol=0.3)
    assert np.all((moe.df_ > 1.0) & (moe.df_ < 10.0))


# ---- degenerate data: no NaN


def test_all_zero_counts_fit_without_nan():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 2))
    moe = MixtureOfExpertsRegressor(family="poisson", random_state=0)
    moe.fit(X, np.zeros(300))
    assert np.all(np.isfinite(moe.score_samples(X, np.zeros(300))))
    assert np.all(moe.predict(X) < 1e-3)


def test_student_t_expert_on_outliers_alone_stays_finite():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 1))
    y = np.where(X[:, 0] > 0, X[:, 0], 1e3 * rng.standard_cauchy(400))
    moe = MixtureOfExpertsRegressor(family="student_t", random_state=0).fit(X, y)
    assert np.all(np.isfinite(moe.score_samples(X, y)))
    assert np.all(np.isfinite(moe.df_)) and np.all(np.isfinite(moe.scale_))


def test_constant_target_student_t_and_gamma_stay_finite():
    X = np.random.default_rng(0).standard_normal((200, 2))
    for family in ("student_t", "gamma"):
        moe = MixtureOfExpertsRegressor(family=family, random_state=0)
        moe.fit(X, np.full(200, 2.0))
        assert np.all(np.isfinite(moe.score_samples(X, np.full(200, 2.0))))


# ---- bad input: clear errors before EM work, the fitted model kept


@pytest.mark.parametrize(
    "family, y, message",
    [
        ("poisson", [0.0, -1.0, 2.0, 3.0], "poisson family needs non-negative"),
        ("poisson", [0.0, 1.5, 2.0, 3.0], "needs integer counts.*rows.*\\[1\\]"),
        ("negative_binomial", [0.0, 2.5, 2.0, 3.0], "negative_binomial.*integer"),
        ("gamma", [1.0, 0.0, 2.0, 3.0], "gamma family needs positive targets"),
    ],
)
def test_targets_the_family_cannot_take(family, y, message):
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match=message):
        MixtureOfExpertsRegressor(family=family).fit(X, np.array(y))


def test_poisson_reads_non_integer_targets_with_weights_as_rates():
    X = np.random.default_rng(0).standard_normal((40, 1))
    y = np.tile([0.5, 1.5], 20)
    moe = MixtureOfExpertsRegressor(family="poisson", n_experts=1)
    moe.fit(X, y, sample_weight=np.full(40, 2.0))
    with pytest.raises(ValueError, match="pass the exposures as sample_weight"):
        MixtureOfExpertsRegressor(family="poisson", n_experts=1).fit(X, y)
    with pytest.raises(ValueError, match="frequency weights"):
        MixtureOfExpertsRegressor(family="negative_binomial", n_experts=1).fit(
            X, y, sample_weight=np.full(40, 2.0)
        )


def test_a_linear_expert_of_a_count_family_is_refused_before_any_fit():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 1))
    y = rng.poisson(np.exp(X[:, 0])).astype(float)
    for family in ["poisson", "negative_binomial", "gamma"]:
        moe = MixtureOfExpertsRegressor(LinearRegression(), family=family)
        with pytest.raises(ValueError, match=r"LinearRegression\(\) cannot be an"):
            moe.fit(X, y + 1)


def test_an_expert_predicting_negative_means_is_named():
    class Shifted(DecisionTreeRegressor):
        def predict(self, X):
            return super().predict(X) - 100.0

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 1))
    y = rng.poisson(np.exp(X[:, 0])).astype(float)
    moe = MixtureOfExpertsRegressor(Shifted(max_depth=2), family="poisson")
    with pytest.raises(ValueError, match=r"expert .*Shifted.*not non-neg"):
        moe.fit(X, y)


@pytest.mark.parametrize(
    "family, error",
    [
        ("laplace", InvalidParameterError),
        (object(), InvalidParameterError),
        (Categorical(), ValueError),
    ],
)
def test_unknown_or_wrong_families(family, error):
    X, y = make_moe_regression(n_samples=100, random_state=0)
    with pytest.raises(error, match="family"):
        MixtureOfExpertsRegressor(family=family).fit(X, y)


def test_a_family_missing_a_method_cannot_be_made():
    class NoDensity(Family):
        def expert_output(self, expert, X, target):
            return expert.predict(X)

    with pytest.raises(TypeError, match="log_likelihood"):
        NoDensity()


def test_negative_binomial_refuses_mini_batches():
    X, y = make_moe_regression(n_samples=100, family="poisson", random_state=0)
    moe = MixtureOfExpertsRegressor(
        family="negative_binomial", solver="gradient", expert=LinearRegression()
    )
    with pytest.raises(ValueError, match="negative_binomial family cannot be trained"):
        moe.fit(X, y)


def test_a_failed_fit_leaves_the_fitted_model_as_it_was():
    X, y = make_moe_regression(n_samples=300, family="poisson", random_state=0)
    moe = MixtureOfExpertsRegressor(family="poisson", random_state=0).fit(X, y)
    before = moe.score_samples(X, y)
    with pytest.raises(ValueError):
        moe.set_params(family="gamma").fit(X, y)  # zero counts are not positive
    assert isinstance(moe.family_, Poisson)
    np.testing.assert_array_equal(moe.score_samples(X, y), before)


def test_warm_start_refuses_another_family():
    X, y = make_moe_regression(n_samples=300, family="poisson", random_state=0)
    moe = MixtureOfExpertsRegressor(family="poisson", warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="warm_start"):
        moe.set_params(family="negative_binomial").fit(X, y)
    assert isinstance(moe.family_, Poisson) and not isinstance(moe.family_, Gaussian)


def test_select_n_experts_works_for_counts():
    X, y = make_moe_regression(
        n_samples=2000, n_experts=2, family="poisson", coef_scale=1.0, random_state=0
    )
    for strategy in ("independent", "split"):
        best, _ = select_n_experts(
            MixtureOfExpertsRegressor(family="poisson", random_state=0),
            X,
            y,
            n_experts=[1, 2, 3],
            strategy=strategy,
        )
        assert best.n_experts == 2
        assert isinstance(best.family_, Poisson)


def test_nested_family_parameters_work_with_a_family_name():
    moe = MixtureOfExpertsRegressor(family="student_t").set_params(family__df=4.0)
    assert isinstance(moe.family, StudentT) and moe.family.get_params() == {"df": 4.0}
    search = GridSearchCV(
        MixtureOfExpertsRegressor(family="student_t", random_state=0),
        {"family__df": [2.0, 50.0]},
        cv=2,
    )
    X, y = make_moe_regression(n_samples=400, n_experts=2, random_state=0)
    assert search.fit(X, y).best_estimator_.family.df in (2.0, 50.0)


def test_student_t_partial_fit_continues_an_em_fit():
    X, y = make_moe_regression(
        n_samples=2000, n_experts=2, family="student_t", random_state=1
    )
    moe = MixtureOfExpertsRegressor(family="student_t", random_state=0).fit(X, y)
    moe.set_params(solver="gradient")
    for start in range(0, 1500, 500):
        moe.partial_fit(X[start : start + 500], y[start : start + 500])
    assert np.all((moe.df_ > 1.5) & (moe.df_ < 6.0))  # the data's df is 3
