"""The predictive distribution (sample_y, predict_quantiles, predict_interval) and
the classifier's predict_uncertainty.

The references are built here from the fitted model's documented attributes
(``noise_variance_``, ``scale_`` and ``df_``, ``dispersion_``, ``shape_``), the
gate's probabilities and the experts' predictions, not from skmoe's own mapping to
``scipy.stats``: they check that mapping too.
"""

import copy

import joblib
import numpy as np
import pytest
from scipy import stats
from scipy.optimize import brentq
from scipy.special import entr, rel_entr
from sklearn.exceptions import NotFittedError

import skmoe._predictive
from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe._predictive import distribution_builder, routed_mixture
from skmoe.datasets import make_moe_classification, make_moe_regression
from skmoe.families import Gaussian, StudentT

FAMILIES = ["gaussian", "student_t", "poisson", "negative_binomial", "gamma"]
DISCRETE = {"poisson", "negative_binomial"}


@pytest.fixture(scope="module")
def fitted():
    """One fitted two-expert model per family, and its data."""
    models = {}
    for family in FAMILIES:
        X, y = make_moe_regression(
            n_samples=600, n_experts=2, family=family, random_state=0
        )
        # A fixed df above 2: the Student-t's variance exists.
        spec = StudentT(df=6.0) if family == "student_t" else family
        moe = MixtureOfExpertsRegressor(family=spec, n_init=1, random_state=0)
        models[family] = (moe.fit(X, y), X, y)
    return models


def _components(moe, X):
    """The reference: gate weights, component means and the frozen per-expert
    distributions, from the model's documented attributes."""
    w, mu = moe.predict_gate_proba(X), moe.predict_experts(X)
    name = moe.family if isinstance(moe.family, str) else moe.family_.name
    if name == "gaussian":
        dist = stats.norm(mu, np.sqrt(moe.noise_variance_))
    elif name == "student_t":
        dist = stats.t(moe.df_, mu, moe.scale_)
    elif name == "poisson":
        dist = stats.poisson(mu)
    elif name == "negative_binomial":
        alpha = moe.dispersion_
        dist = stats.nbinom(1 / alpha, 1 / (1 + alpha * mu))
    else:
        dist = stats.gamma(moe.shape_, scale=mu / moe.shape_)
    return w, mu, dist


def _mixture_cdf(w, dist, y):
    return (w * dist.cdf(y[:, None])).sum(axis=1)


def _mass(moe, X, region, discrete):
    """The mass of each row's region under the reference mixture."""
    w, _, dist = _components(moe, X)
    total = np.zeros(len(X))
    for row, intervals in enumerate(region):
        for low, high in intervals:
            below = low - 1 if discrete else low
            cdf = _mixture_cdf(w[[row]], _row(dist, row), np.array([high, below]))
            total[row] += cdf[0] - cdf[1]
    return total


def _row(dist, row):
    """The frozen distribution of one row of a (n, K) frozen distribution."""
    values = [*dist.args, *dist.kwds.values()]
    shape = np.broadcast_shapes(*(np.shape(v) for v in values))
    args = [np.broadcast_to(a, shape)[[row]] for a in dist.args]
    kwds = {k: np.broadcast_to(v, shape)[[row]] for k, v in dist.kwds.items()}
    return dist.dist(*args, **kwds)


# ---- coverage on held-out rows


def test_central_interval_covers_90_percent_overall_and_per_regime():
    X, y, truth = make_moe_regression(
        n_samples=40_000, n_experts=2, random_state=0, return_params=True
    )
    train, test = slice(20_000, None), slice(None, 20_000)
    moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X[train], y[train])
    low, high = moe.predict_interval(X[test], coverage=0.9).T
    covered = (y[test] >= low) & (y[test] <= high)
    assert 0.89 <= covered.mean() <= 0.91
    for regime in range(2):
        share = covered[truth.labels[test] == regime].mean()
        assert 0.89 <= share <= 0.91, (regime, share)


# ---- the distribution equals the one the likelihood reads


@pytest.mark.parametrize("family", FAMILIES)
def test_log_density_equals_score_samples(fitted, family):
    moe, X, y = fitted[family]
    mixture = routed_mixture(moe, X, distribution_builder(moe.family_))
    np.testing.assert_allclose(
        mixture.log_density(y), moe.score_samples(X, y), rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_quantiles_solve_the_mixture_cdf(fitted, family):
    moe, X, _ = fitted[family]
    levels = np.array([0.001, 0.05, 0.37, 0.5, 0.95, 0.999])
    X = X[:20]
    quantiles = moe.predict_quantiles(X, levels)
    w, _, dist = _components(moe, X)
    for row in range(len(X)):
        frozen = _row(dist, row)

        def cdf(y, row=row, frozen=frozen):
            return _mixture_cdf(w[[row]], frozen, np.atleast_1d(y))[0]

        for column, level in enumerate(levels):
            q = quantiles[row, column]
            if family in DISCRETE:  # the smallest integer with F(q) >= level
                assert q == np.round(q)
                assert cdf(q) >= level > cdf(q - 1)
            else:
                low, high = frozen.ppf(level).min(), frozen.ppf(level).max()
                root = brentq(lambda y, q=level: cdf(y) - q, low, high, xtol=1e-300)
                np.testing.assert_allclose(q, root, rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("family", FAMILIES)
def test_quantiles_are_monotone_in_the_level(fitted, family):
    moe, X, _ = fitted[family]
    levels = np.random.default_rng(0).uniform(0.001, 0.999, 40)
    quantiles = moe.predict_quantiles(X[:50], levels)
    order = np.argsort(levels)
    assert np.all(np.diff(quantiles[:, order], axis=1) >= 0)
    # The given order is kept, and one level gives the same column.
    np.testing.assert_array_equal(
        moe.predict_quantiles(X[:50], levels[3])[:, 0], quantiles[:, 3]
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_samples_have_the_mixture_mean_and_variance(fitted, family):
    moe, X, _ = fitted[family]
    X, n = X[:3], 40_000
    draws = moe.sample_y(X, n_samples=n, random_state=0)
    assert draws.shape == (3, n)
    w, mu, dist = _components(moe, X)
    mean = (w * mu).sum(axis=1)
    variance = (w * (dist.var() + mu**2)).sum(axis=1) - mean**2
    np.testing.assert_allclose(mean, moe.predict(X), rtol=1e-12)
    centred = draws - draws.mean(axis=1, keepdims=True)
    fourth = (centred**4).mean(axis=1)
    assert np.all(np.abs(draws.mean(axis=1) - mean) < 5 * np.sqrt(variance / n))
    assert np.all(
        np.abs(draws.var(axis=1) - variance) < 5 * np.sqrt((fourth - variance**2) / n)
    )
    if family in DISCRETE:
        assert np.all(draws == np.round(draws)) and np.all(draws >= 0)
    if family == "gamma":
        assert np.all(draws > 0)


def test_samples_are_seeded(fitted):
    moe, X, _ = fitted["gaussian"]
    first = moe.sample_y(X[:5], n_samples=3, random_state=1)
    np.testing.assert_array_equal(first, moe.sample_y(X[:5], 3, random_state=1))
    assert not np.array_equal(first, moe.sample_y(X[:5], 3, random_state=2))


# ---- routing


@pytest.mark.parametrize("routing", ["soft", "hard", "top_k"])
def test_the_predictive_mean_is_predict(fitted, routing):
    moe, X, _ = copy.deepcopy(fitted["gamma"])
    moe.set_params(routing=routing, top_k=1)
    mixture = routed_mixture(moe, moe._validate_X(X), distribution_builder(moe.family_))
    means = mixture.distribution.mean(**mixture.params)
    np.testing.assert_allclose((mixture.weights * means).sum(axis=1), moe.predict(X))


def test_hard_routing_is_the_most_probable_experts_distribution(fitted):
    moe, X, _ = copy.deepcopy(fitted["gaussian"])
    levels = [0.05, 0.5, 0.95]
    soft = moe.predict_quantiles(X, levels)
    moe.set_params(routing="hard")
    expert = moe.predict_gate(X)
    mu = moe.predict_experts(X)[np.arange(len(X)), expert]
    sd = np.sqrt(moe.noise_variance_[expert])
    expected = stats.norm.ppf(levels, mu[:, None], sd[:, None])
    np.testing.assert_allclose(moe.predict_quantiles(X, levels), expected, rtol=1e-10)
    assert not np.allclose(soft, expected)  # some rows mix both experts
    # Every draw comes from the routed expert.
    draws = moe.sample_y(X[:2], n_samples=20_000, random_state=0)
    assert np.all(np.abs(draws.mean(axis=1) - mu[:2]) < 5 * sd[:2] / np.sqrt(20_000))
    # top_k with every expert is the soft mixture.
    moe.set_params(routing="top_k", top_k=2)
    np.testing.assert_allclose(moe.predict_quantiles(X, levels), soft, rtol=1e-10)


# ---- highest-density regions


@pytest.fixture(scope="module")
def bimodal():
    """Two experts far apart under a constant gate: every row is bimodal."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 1))
    upper = rng.uniform(size=2000) < 0.4
    y = np.where(upper, 4 + X[:, 0], -4 + X[:, 0]) + rng.normal(0, 0.5, 2000)
    moe = MixtureOfExpertsRegressor(gate_features=[], n_init=1, random_state=0)
    return moe.fit(X, y), X[:5]


def test_highest_density_region_of_a_bimodal_row_is_two_intervals(bimodal):
    moe, X = bimodal
    regions = moe.predict_interval(X, coverage=0.9, kind="highest_density")
    central = moe.predict_interval(X, coverage=0.9)
    means = np.sort(moe.predict_experts(X), axis=1)
    np.testing.assert_allclose(_mass(moe, X, regions, False), 0.9, atol=1e-9)
    for row, region in enumerate(regions):
        assert region.shape == (2, 2)
        assert np.all(np.diff(region.ravel()) > 0)  # sorted, disjoint
        # Each interval holds one mode; the region is shorter than the central one.
        assert region[0, 0] < means[row, 0] < region[0, 1]
        assert region[1, 0] < means[row, 1] < region[1, 1]
        assert np.diff(region, axis=1).sum() < central[row, 1] - central[row, 0]
        # The density is the same at its four ends.
        w, _, dist = _components(moe, X[[row]])
        density = (w * dist.pdf(region.reshape(-1, 1))).sum(axis=1)
        np.testing.assert_allclose(density, density[0], rtol=1e-9)


def test_highest_density_region_of_one_gaussian_is_the_central_interval(fitted):
    moe, X, _ = fitted["gaussian"]
    moe = copy.deepcopy(moe).set_params(routing="hard")
    regions = moe.predict_interval(X[:10], coverage=0.8, kind="highest_density")
    central = moe.predict_interval(X[:10], coverage=0.8)
    np.testing.assert_allclose(np.concatenate(regions), central, rtol=1e-9)


@pytest.mark.parametrize("family", ["student_t", "gamma"])
def test_highest_density_region_has_the_coverage(fitted, family):
    moe, X, _ = fitted[family]
    regions = moe.predict_interval(X[:30], coverage=0.75, kind="highest_density")
    np.testing.assert_allclose(_mass(moe, X[:30], regions, False), 0.75, atol=1e-6)
    central = moe.predict_interval(X[:30], coverage=0.75)
    length = np.array([np.diff(r, axis=1).sum() for r in regions])
    assert np.all(length <= central[:, 1] - central[:, 0] + 1e-9)


@pytest.mark.parametrize("family", sorted(DISCRETE))
def test_discrete_highest_density_region_is_the_fewest_most_probable_counts(
    fitted, family
):
    moe, X, _ = fitted[family]
    X = X[:20]
    regions = moe.predict_interval(X, coverage=0.9, kind="highest_density")
    w, _, dist = _components(moe, X)
    counts = np.arange(0, 400)
    for row, region in enumerate(regions):
        pmf = (w[[row]] * _row(dist, row).pmf(counts[:, None])).sum(axis=1)
        chosen = np.zeros(counts.size, dtype=bool)
        for low, high in region.astype(int):
            chosen[low : high + 1] = True
        assert pmf[chosen].sum() >= 0.9 > pmf[chosen].sum() - pmf[chosen].min()
        assert pmf[~chosen].max() <= pmf[chosen].min()


# ---- bad input, and what is left untouched


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m, X: m.predict_quantiles(X, [0.5, 1.0]), r"open interval \(0, 1\)"),
        (lambda m, X: m.predict_quantiles(X, 0.0), r"open interval \(0, 1\)"),
        (lambda m, X: m.predict_quantiles(X, [0.5, np.nan]), r"open interval"),
        (lambda m, X: m.predict_quantiles(X, [np.inf]), r"open interval"),
        (lambda m, X: m.predict_quantiles(X, []), r"1-D list of levels"),
        (lambda m, X: m.predict_quantiles(X, [[0.1, 0.2]]), r"1-D list of levels"),
        (lambda m, X: m.predict_quantiles(X, ["a"]), r"numbers in \(0, 1\)"),
        (lambda m, X: m.predict_quantiles(X, True), r"open interval"),
        (lambda m, X: m.predict_interval(X, coverage=1.0), r"coverage must be in"),
        (lambda m, X: m.predict_interval(X, coverage=-0.1), r"coverage must be in"),
        (lambda m, X: m.predict_interval(X, coverage=np.nan), r"coverage must be"),
        (lambda m, X: m.predict_interval(X, coverage=True), r"coverage must be a"),
        (lambda m, X: m.predict_interval(X, coverage="0.9"), r"coverage must be a"),
        (lambda m, X: m.predict_interval(X, kind="hdr"), r"kind must be"),
        (lambda m, X: m.sample_y(X, n_samples=0), r"n_samples must be at least 1"),
        (lambda m, X: m.sample_y(X, n_samples=2.0), r"n_samples must be an integer"),
        (lambda m, X: m.sample_y(X, n_samples=True), r"n_samples must be an integer"),
        (lambda m, X: m.sample_y(X[:, :1]), r"features"),
        (lambda m, X: m.predict_quantiles(np.full_like(X, np.nan), 0.5), r"NaN"),
    ],
)
def test_bad_input_is_refused_before_any_work(fitted, monkeypatch, call, match):
    moe, X, _ = fitted["gaussian"]

    def no_work(*args):
        raise AssertionError("the mixture was built before the input was checked")

    monkeypatch.setattr(skmoe._predictive, "routed_mixture", no_work)
    with pytest.raises(ValueError, match=match):
        call(moe, X)


@pytest.mark.parametrize(
    "method, args",
    [("sample_y", ()), ("predict_quantiles", (0.5,)), ("predict_interval", ())],
)
def test_an_unfitted_model_is_refused(method, args):
    X = np.zeros((3, 2))
    with pytest.raises(NotFittedError):
        getattr(MixtureOfExpertsRegressor(), method)(X, *args)


def test_predict_uncertainty_on_an_unfitted_model_is_refused():
    with pytest.raises(NotFittedError):
        MixtureOfExpertsClassifier().predict_uncertainty(np.zeros((3, 2)))


def test_the_fitted_model_is_left_unchanged(fitted):
    moe, X, _ = fitted["negative_binomial"]
    before = joblib.hash(moe)
    moe.sample_y(X, n_samples=2, random_state=0)
    moe.predict_quantiles(X, [0.1, 0.9])
    moe.predict_interval(X, kind="highest_density")
    assert joblib.hash(moe) == before


class _OwnGaussian(Gaussian):
    """A family whose log-density is its own (here the Gaussian's)."""

    def log_likelihood(self, outputs, target, out=None):
        return super().log_likelihood(outputs, target, out)


class _OwnGaussianWithHook(_OwnGaussian):
    def predictive_distribution(self, means, experts):
        return stats.norm(loc=means, scale=np.sqrt(self.variance_)[experts])


class _PlainSubclass(Gaussian):
    pass


def test_a_family_of_ones_own_needs_its_distribution(fitted):
    moe, X, _ = fitted["gaussian"]
    expected = moe.predict_quantiles(X[:5], [0.1, 0.9])
    own = copy.deepcopy(moe)
    own.family_.__class__ = _OwnGaussian
    with pytest.raises(TypeError, match=r"_OwnGaussian.*predictive_distribution\("):
        own.predict_quantiles(X[:5], [0.1, 0.9])
    own.family_.__class__ = _OwnGaussianWithHook
    np.testing.assert_allclose(own.predict_quantiles(X[:5], [0.1, 0.9]), expected)
    # A subclass that keeps the log-density keeps the distribution.
    own.family_.__class__ = _PlainSubclass
    np.testing.assert_allclose(own.predict_quantiles(X[:5], [0.1, 0.9]), expected)


# ---- the classifier's uncertainty


@pytest.fixture(scope="module")
def classifier():
    X, y = make_moe_classification(n_samples=600, n_classes=3, random_state=0)
    moe = MixtureOfExpertsClassifier(n_experts=3, n_init=1, random_state=0)
    return moe.fit(X, y), X


def test_predict_uncertainty_splits_the_entropy(classifier):
    moe, X = classifier
    u = moe.predict_uncertainty(X)
    proba, experts, gate = moe.predict_proba(X), moe.predict_experts(X), None
    gate = moe.predict_gate_proba(X)
    np.testing.assert_allclose(u.total, entr(proba).sum(axis=1), atol=1e-12)
    within = (gate * entr(experts).sum(axis=2)).sum(axis=1)
    np.testing.assert_allclose(u.within, within, atol=1e-12)
    # The gate's share is the mutual information between expert and label.
    information = (gate * rel_entr(experts, proba[:, None, :]).sum(axis=2)).sum(axis=1)
    np.testing.assert_allclose(u.gate, information, atol=1e-12)
    np.testing.assert_allclose(u.total, u.within + u.gate, atol=1e-12)
    for part in (u.total, u.within, u.gate):
        assert part.shape == (len(X),) and np.all(part >= 0)
    assert np.all(u.total <= np.log(3) + 1e-12)
    assert u.gate.max() > 0.05  # somewhere the experts disagree


def test_one_expert_per_row_leaves_the_gate_no_share(classifier):
    moe, X = classifier
    hard = copy.deepcopy(moe).set_params(routing="hard")
    u = hard.predict_uncertainty(X)
    np.testing.assert_array_equal(u.gate, 0.0)
    np.testing.assert_allclose(u.total, entr(hard.predict_proba(X)).sum(axis=1))
    single = MixtureOfExpertsClassifier(n_experts=1, random_state=0).fit(
        X, moe.predict(X)
    )
    np.testing.assert_array_equal(single.predict_uncertainty(X).gate, 0.0)
