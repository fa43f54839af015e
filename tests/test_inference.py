"""The observed information and the coefficient table (skmoe.inference)."""

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.families import Gaussian, StudentT
from skmoe.inference import InferenceWarning, coefficient_table
from skmoe.inference._observed import MixtureLikelihood

pd = pytest.importorskip("pandas")

N = 400


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 2))
    regime = X[:, 1] + 0.3 * rng.normal(size=N) > 0
    lines = np.where(regime, 1 + 2 * X[:, 0], -1 - X[:, 0])
    linear = lines + rng.normal(0, 0.5, N)
    mean = np.exp(np.where(regime, 1 + 0.5 * X[:, 0], 0.2 - 0.3 * X[:, 0]))
    counts = rng.poisson(mean * rng.gamma(2, 0.5, N)).astype(float)
    positive = rng.gamma(3, mean / 3)
    return rng, X, linear, counts, positive


def _models():
    rng, X, linear, counts, positive = _data()
    heavy = linear + 0.5 * rng.standard_t(3, N)
    labels = (linear > 0).astype(int)
    three = np.digitize(linear, [-1, 1])
    # Unpenalised experts: the information is the likelihood's, at its maximum.
    logistic = LogisticRegression(C=np.inf, max_iter=1000)
    cases = {
        "gaussian": (MixtureOfExpertsRegressor(), linear),
        "student_t": (MixtureOfExpertsRegressor(family="student_t"), heavy),
        "student_t_shared": (
            MixtureOfExpertsRegressor(family=StudentT(df="shared")),
            heavy,
        ),
        "student_t_fixed": (MixtureOfExpertsRegressor(family=StudentT(df=4)), heavy),
        "poisson": (MixtureOfExpertsRegressor(family="poisson"), counts),
        "negative_binomial": (
            MixtureOfExpertsRegressor(family="negative_binomial"),
            counts,
        ),
        "gamma": (MixtureOfExpertsRegressor(family="gamma"), positive),
        "binary": (MixtureOfExpertsClassifier(expert=logistic), labels),
        "multinomial": (MixtureOfExpertsClassifier(expert=logistic), three),
    }
    return X, cases


X_SHARED, CASES = _models()


@pytest.fixture(scope="module")
def fitted():
    out = {}
    for name, (model, y) in CASES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Fitted tightly: EM's default tol stops some fits a fraction of a
            # standard error short of the maximum (the table warns of it).
            model.set_params(random_state=0, tol=1e-10, max_iter=2000)
            out[name] = (model.fit(X_SHARED, y), y)
    return out


def _weights():
    return np.random.default_rng(1).uniform(0.5, 1.5, N)


def _fd_hessian(likelihood, free, step=1e-6):
    theta = likelihood.theta
    columns = []
    for j in free:
        h = step * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        columns.append(
            (likelihood.evaluate(up, 1)[1] - likelihood.evaluate(down, 1)[1]) / (2 * h)
        )
    return np.array(columns).T[free]


@pytest.mark.parametrize("name", list(CASES))
def test_log_likelihood_is_the_models(fitted, name):
    model, y = fitted[name]
    w = _weights()
    likelihood = MixtureLikelihood(model, X_SHARED, y, w)
    value = likelihood.evaluate(likelihood.theta, 0)
    assert value == pytest.approx(w @ model.score_samples(X_SHARED, y), rel=1e-10)


@pytest.mark.parametrize("name", list(CASES))
def test_information_is_the_negative_hessian(fitted, name):
    """The analytic information equals finite differences of the analytic
    gradient, and the gradient those of the log-likelihood."""
    model, y = fitted[name]
    likelihood = MixtureLikelihood(model, X_SHARED, y, _weights())
    free = np.setdiff1d(np.arange(likelihood.theta.size), list(likelihood.on_bound))
    _, gradient, information = likelihood.evaluate(likelihood.theta)
    numeric = _fd_hessian(likelihood, free)
    scale = np.abs(numeric).max()
    assert np.abs(-information[np.ix_(free, free)] - numeric).max() <= 1e-5 * scale
    theta = likelihood.theta
    for j in free:
        h = 1e-6 * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        slope = (likelihood.evaluate(up, 0) - likelihood.evaluate(down, 0)) / (2 * h)
        assert gradient[j] == pytest.approx(slope, abs=1e-5 * (1 + abs(slope)))


@pytest.mark.parametrize("name", ["gaussian", "student_t", "poisson", "multinomial"])
def test_standard_errors_equal_finite_differences(fitted, name):
    """The table's standard errors equal those of the inverse of a finite-
    difference Hessian of the log-likelihood's gradient, to 1e-5."""
    model, y = fitted[name]
    likelihood = MixtureLikelihood(model, X_SHARED, y, np.ones(N))
    free = np.arange(likelihood.theta.size)
    numeric = -_fd_hessian(likelihood, free)
    covariance = np.linalg.inv(0.5 * (numeric + numeric.T))
    jacobian = likelihood.jacobian
    expected = np.sqrt(np.diag(jacobian @ covariance @ jacobian.T))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InferenceWarning)  # at the maximum
        table = coefficient_table(model, X_SHARED, y)
    np.testing.assert_allclose(table["std_error"], expected, rtol=1e-5)
    assert table["estimable"].all()


def test_table_layout_and_intervals(fitted):
    model, y = fitted["student_t"]
    table = coefficient_table(model, X_SHARED, y, confidence_level=0.9)
    assert list(table.columns) == [
        "component",
        "parameter",
        "estimate",
        "std_error",
        "z",
        "p_value",
        "ci_low",
        "ci_high",
        "estimable",
    ]
    assert list(table["parameter"][:5]) == ["intercept", "x0", "x1", "scale", "df"]
    assert list(table["component"].unique()) == [
        "expert 0",
        "expert 1",
        "gate: expert 1",
    ]
    assert not table.drop(columns=["component", "parameter"]).isna().any().any()
    np.testing.assert_allclose(table["z"], table["estimate"] / table["std_error"])
    half = 1.6448536269514722 * table["std_error"]
    coefficients = ~table["parameter"].isin(["scale", "df"])
    np.testing.assert_allclose(
        table["ci_high"][coefficients], (table["estimate"] + half)[coefficients]
    )
    # A positive parameter's interval is the exponential of its log's: positive
    # and symmetric on the log scale.
    family = table[~coefficients]
    assert (family["ci_low"] > 0).all()
    np.testing.assert_allclose(
        np.log(family["ci_high"] / family["estimate"]),
        np.log(family["estimate"] / family["ci_low"]),
    )
    assert table.attrs["method"] == "observed"


def test_reference_coding_of_the_gate(fitted):
    model, y = fitted["gaussian"]
    table = coefficient_table(model, X_SHARED, y)
    gate = table[table["component"] == "gate: expert 1"]
    expected = np.r_[
        model.gate_.intercept_[1] - model.gate_.intercept_[0],
        model.gate_.coef_[1] - model.gate_.coef_[0],
    ]
    np.testing.assert_allclose(gate["estimate"], expected)


def test_shared_and_fixed_degrees_of_freedom(fitted):
    shared = coefficient_table(*_model_and_data(fitted, "student_t_shared"))
    assert list(shared["component"][shared["parameter"] == "df"]) == ["all experts"]
    fixed = coefficient_table(*_model_and_data(fitted, "student_t_fixed"))
    assert "df" not in set(fixed["parameter"])


def _model_and_data(fitted, name):
    model, y = fitted[name]
    return model, X_SHARED, y


def test_multinomial_expert_rows(fitted):
    model, y = fitted["multinomial"]
    table = coefficient_table(model, X_SHARED, y)
    first = table[table["component"] == "expert 0"]["parameter"]
    assert list(first) == [
        "class 1: intercept",
        "class 1: x0",
        "class 1: x1",
        "class 2: intercept",
        "class 2: x0",
        "class 2: x1",
    ]


@pytest.mark.filterwarnings("ignore:The fit is not at:UserWarning")
def test_frequency_weights_equal_repeated_rows(fitted):
    model, y = fitted["gaussian"]
    counts = np.random.default_rng(3).integers(1, 3, N)
    weighted = coefficient_table(model, X_SHARED, y, sample_weight=counts)
    repeated = coefficient_table(
        model, np.repeat(X_SHARED, counts, axis=0), np.repeat(y, counts)
    )
    np.testing.assert_allclose(weighted["std_error"], repeated["std_error"], rtol=1e-9)


def test_feature_names_from_a_pipeline_of_a_dataframe():
    _, X, y, _, _ = _data()
    frame = pd.DataFrame(X, columns=["dose", "age"])
    pipe = make_pipeline(StandardScaler(), MixtureOfExpertsRegressor(random_state=0))
    pipe.fit(frame, y)
    table = coefficient_table(pipe, frame, y)
    assert list(table["parameter"][:3]) == ["intercept", "dose", "age"]


def test_collinear_expert_columns_are_marked():
    _, X, y, _, _ = _data()
    Z = np.column_stack([X, 2 * X[:, 0]])
    model = MixtureOfExpertsRegressor(random_state=0).fit(Z, y)
    with pytest.warns(InferenceWarning, match="do not determine expert 0: x0"):
        table = coefficient_table(model, Z, y)
    assert not table.drop(columns=["component", "parameter"]).isna().any().any()
    marked = table[~table["estimable"]]
    assert set(marked["parameter"]) == {"x0", "x2"}
    assert np.isinf(marked["std_error"]).all()
    assert (marked["p_value"] == 1).all()
    assert np.isinf(marked["ci_low"]).all() and np.isinf(marked["ci_high"]).all()
    # The intercept and the other slope are still determined.
    kept = table[table["estimable"]]
    assert np.isfinite(kept["std_error"]).all()
    assert {"intercept", "x1", "noise_variance"} <= set(kept["parameter"])


def test_constant_gate_column_is_marked():
    _, X, y, _, _ = _data()
    Z = np.column_stack([X, np.full(N, 3.0)])
    model = MixtureOfExpertsRegressor(
        gate_features=[0, 2], expert_features=[0, 1], random_state=0
    ).fit(Z, y)
    with pytest.warns(InferenceWarning, match="gate: expert 1: x2"):
        table = coefficient_table(model, Z, y)
    gate = table[table["component"] == "gate: expert 1"].set_index("parameter")
    # A constant column and the intercept are confounded; the slope on x0 is not.
    assert not gate.loc["x2", "estimable"] and not gate.loc["intercept", "estimable"]
    assert gate.loc["x0", "estimable"]
    assert not table.drop(columns=["component", "parameter"]).isna().any().any()


def test_dispersion_at_its_floor_is_marked():
    rng, X, _, _, _ = _data()
    counts = rng.poisson(np.exp(0.5 + 0.3 * X[:, 0])).astype(float)
    model = MixtureOfExpertsRegressor(
        n_experts=1, family="negative_binomial", random_state=0
    ).fit(X, counts)
    assert model.family_.dispersion_[0] < 1e-6
    with pytest.warns(InferenceWarning, match="bound of their range"):
        table = coefficient_table(model, X, counts)
    rows = table.set_index("parameter")
    assert not rows.loc["dispersion", "estimable"]
    assert rows.loc["dispersion", "ci_low"] == 0
    assert rows.drop(index="dispersion")["estimable"].all()


def test_unconverged_fit_warns():
    _, X, y, _, _ = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MixtureOfExpertsRegressor(max_iter=1, n_init=1, random_state=0).fit(
            X, y
        )
    with pytest.warns(InferenceWarning, match="not at the likelihood's maximum"):
        coefficient_table(model, X, y)


def test_nothing_changes_the_model(fitted):
    model, y = fitted["gamma"]
    before = pickle.dumps(model)
    coefficient_table(model, X_SHARED, y)
    assert pickle.dumps(model) == before


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (
            MixtureOfExpertsRegressor(expert=DecisionTreeRegressor(max_depth=2)),
            r"no coefficients.*bootstrap",
        ),
        (MixtureOfExpertsRegressor(solver="gradient", max_iter=3), "solver='em'"),
        (MixtureOfExpertsRegressor(solver="cem"), "solver='em'"),
    ],
)
def test_observed_refuses_what_it_cannot_do(model, match):
    _, X, y, _, _ = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.set_params(random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=match):
        coefficient_table(model, X, y)


def test_family_of_ones_own_is_refused():
    class Noisy(Gaussian):
        pass

    _, X, y, _, _ = _data()
    model = MixtureOfExpertsRegressor(family=Noisy(), random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"skmoe's own families.*bootstrap"):
        coefficient_table(model, X, y)


def test_bad_arguments(fitted):
    model, y = fitted["gaussian"]
    for bad in [0.0, 1.0, 1.5]:
        with pytest.raises(InvalidParameterError, match="confidence_level"):
            coefficient_table(model, X_SHARED, y, confidence_level=bad)
    with pytest.raises(InvalidParameterError, match="method"):
        coefficient_table(model, X_SHARED, y, method="sandwich")
    with pytest.raises(NotFittedError):
        coefficient_table(MixtureOfExpertsRegressor(), X_SHARED, y)
    with pytest.raises(ValueError, match="features"):
        coefficient_table(model, X_SHARED[:, :1], y)
    with pytest.raises(TypeError, match="MixtureOfExpertsRegressor"):
        coefficient_table(LinearRegression().fit(X_SHARED, y), X_SHARED, y)


def test_summary_prints_the_table_per_component(fitted):
    from skmoe.inspection import MixtureSummary, summary

    model, y = fitted["gaussian"]
    result = summary(
        model,
        X_SHARED,
        y,
        inference="observed",
        inference_params={"confidence_level": 0.9},
    )
    text = str(result)
    assert "Standard errors (observed information), 90% intervals:" in text
    for component in ["$expert 0", "$expert 1", "$gate: expert 1"]:
        assert component in text
    table = coefficient_table(model, X_SHARED, y, confidence_level=0.9)
    assert [row["std_error"] for row in result.inference["rows"]] == list(
        table["std_error"]
    )
    assert MixtureSummary.from_dict(result.to_dict()) == result
    assert summary(model, X_SHARED, y).inference is None


@pytest.mark.parametrize("flexmix_model", ["plain", "concomitant"])
def test_standard_errors_match_flexmix_refit(flexmix_model):
    """Against flexmix's summary(refit(m)) on its NPreg example, as written by
    benchmarks/flexmix_refit.R (R is not needed to run this test)."""
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    data = pd.read_csv(root / "data" / "npreg.csv")
    flexmix = pd.read_csv(root / "results" / "flexmix_refit.csv")
    flexmix = flexmix[
        (flexmix["model"] == flexmix_model) & (flexmix["parameter"] != "logLik")
    ]
    X = pd.DataFrame({"x": data["x"], "x^2": data["x"] ** 2})
    model = MixtureOfExpertsRegressor(
        gate_features=["x"] if flexmix_model == "concomitant" else [],
        n_init=10,
        tol=1e-12,
        max_iter=5000,
        random_state=0,
    ).fit(X, data["yn"])
    table = coefficient_table(model, X, data["yn"])
    names = {
        "(Intercept)": "intercept",
        "x": "x",
        "I(x^2)": "x^2",
        "prior": "intercept",
    }
    # flexmix's Comp.1 is the expert with the smaller slope on x.
    slopes = table[table["parameter"] == "x"].iloc[:2]["estimate"].to_numpy()
    order = {"Comp.1": int(np.argmin(slopes)), "Comp.2": int(np.argmax(slopes))}
    for _, row in flexmix.iterrows():
        if row["component"].startswith("concomitant"):
            component = "gate: expert 1"
        else:
            component = f"expert {order[row['component']]}"
        ours = table[
            (table["component"] == component)
            & (table["parameter"] == names.get(row["parameter"], row["parameter"]))
        ]["std_error"].item()
        assert ours == pytest.approx(row["std_error"], rel=1e-3), row.to_dict()
