"""A model fitted in memory predicts on Dask collections, lazily, chunk by chunk.

Every row-wise method given a Dask array or DataFrame returns a lazy Dask array
chunked like the input's rows, equal to the in-memory result; bad inputs are
refused when the method is called, before anything is computed.
"""

import itertools
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor, make_hierarchy
from skmoe._dask_inputs import block_random_state
from skmoe.datasets import make_moe_classification, make_moe_regression

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    "ignore::skmoe.exceptions.ExpertCollapseWarning",
)

N_SAMPLES = 300
# One chunk; even chunks; uneven ones, with a chunk of one row.
CHUNKINGS = [(300,), (100, 100, 100), (1, 120, 179)]

REGRESSOR_CALLS = {
    "predict": lambda moe, X, y: moe.predict(X),
    "predict_experts": lambda moe, X, y: moe.predict_experts(X),
    "predict_gate_proba": lambda moe, X, y: moe.predict_gate_proba(X),
    "predict_gate": lambda moe, X, y: moe.predict_gate(X),
    "score_samples": lambda moe, X, y: moe.score_samples(X, y),
    "posterior_proba": lambda moe, X, y: moe.posterior_proba(X, y),
    "predict_quantiles": lambda moe, X, y: moe.predict_quantiles(X, [0.1, 0.5, 0.9]),
    "predict_interval": lambda moe, X, y: moe.predict_interval(X, coverage=0.8),
}
CLASSIFIER_CALLS = {
    "predict": lambda moe, X, y: moe.predict(X),
    "predict_proba": lambda moe, X, y: moe.predict_proba(X),
    "predict_experts": lambda moe, X, y: moe.predict_experts(X),
    "predict_gate_proba": lambda moe, X, y: moe.predict_gate_proba(X),
    "predict_gate": lambda moe, X, y: moe.predict_gate(X),
    "score_samples": lambda moe, X, y: moe.score_samples(X, y),
    "posterior_proba": lambda moe, X, y: moe.posterior_proba(X, y),
}


def _no_compute(*args, **kwargs):
    raise AssertionError("the call computed part of the graph")


@pytest.fixture(scope="module")
def regression():
    X, y = make_moe_regression(
        n_samples=N_SAMPLES, n_features=4, n_experts=2, random_state=0
    )
    moe = MixtureOfExpertsRegressor(n_experts=2, n_init=1, random_state=0)
    return moe.fit(X, y), X, y


@pytest.fixture(scope="module")
def classification():
    X, y = make_moe_classification(n_samples=N_SAMPLES, n_classes=3, random_state=0)
    labels = np.array(["low", "middle", "high"])[y]  # a dtype of its own
    moe = MixtureOfExpertsClassifier(n_experts=2, n_init=1, random_state=0)
    return moe.fit(X, labels), X, labels


@pytest.fixture(scope="module")
def named_regression(regression):
    _, X, y = regression
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    moe = MixtureOfExpertsRegressor(n_experts=2, n_init=1, random_state=0)
    return moe.fit(frame, y), frame, y


def _dask(X, y, rows):
    return da.from_array(X, chunks=(rows, -1)), da.from_array(y, chunks=(rows,))


def _row_slices(rows):
    starts = np.cumsum((0, *rows))
    return [slice(start, stop) for start, stop in itertools.pairwise(starts)]


def _check_lazy_and_equal(call, moe, X, y, rows):
    """The call on Dask inputs computes nothing, is chunked like the rows, and
    equals the in-memory call on each chunk; and the call on all of X, up to the
    rounding of a one-row chunk, which the in-memory path computes with other
    BLAS kernels than a block of rows."""
    X_dask, y_dask = _dask(X, y, rows)
    with dask.config.set(scheduler=_no_compute):
        result = call(moe, X_dask, y_dask)
    expected = call(moe, X, y)
    assert isinstance(result, da.Array)
    assert result.chunks == (rows, *((size,) for size in expected.shape[1:]))
    assert result.dtype == expected.dtype
    result = result.compute()
    by_chunk = [call(moe, X[rows], y[rows]) for rows in _row_slices(rows)]
    np.testing.assert_array_equal(result, np.concatenate(by_chunk))
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("rows", CHUNKINGS, ids=str)
@pytest.mark.parametrize("method", REGRESSOR_CALLS)
def test_regressor_methods_are_lazy_and_equal_the_in_memory_ones(
    regression, method, rows
):
    _check_lazy_and_equal(REGRESSOR_CALLS[method], *regression, rows)


@pytest.mark.parametrize("rows", CHUNKINGS, ids=str)
@pytest.mark.parametrize("method", CLASSIFIER_CALLS)
def test_classifier_methods_are_lazy_and_equal_the_in_memory_ones(
    classification, method, rows
):
    _check_lazy_and_equal(CLASSIFIER_CALLS[method], *classification, rows)


@pytest.mark.parametrize("routing", ["hard", "top_k"])
def test_routed_predictions_equal_the_in_memory_ones(regression, routing):
    moe, X, y = regression
    moe = clone(moe).set_params(routing=routing, top_k=1).fit(X, y)
    for method in ("predict", "predict_quantiles"):
        _check_lazy_and_equal(REGRESSOR_CALLS[method], moe, X, y, (1, 120, 179))


def test_predict_uncertainty_is_a_bunch_of_lazy_arrays(classification):
    moe, X, y = classification
    X_dask, _ = _dask(X, y, (100, 200))
    with dask.config.set(scheduler=_no_compute):
        uncertainty = moe.predict_uncertainty(X_dask)
    expected = moe.predict_uncertainty(X)
    computed = dask.compute(dict(uncertainty))[0]
    for name in ("total", "within", "gate"):
        assert uncertainty[name].chunks == ((100, 200),)
        np.testing.assert_array_equal(computed[name], expected[name])


def test_gate_levels_of_a_hierarchy(regression):
    _, X, y = regression
    tree = make_hierarchy(LinearRegression(), depth=2, n_init=1, random_state=0)
    tree.fit(X, y)
    X_dask = da.from_array(X, chunks=(120, -1))
    for level in (1, 2, None):
        result = tree.predict_gate_proba(X_dask, level=level)
        expected = tree.predict_gate_proba(X, level=level)
        assert result.chunks == ((120, 120, 60), (expected.shape[1],))
        np.testing.assert_array_equal(result.compute(), expected)
    with pytest.raises(ValueError, match="level=3 is deeper"):
        tree.predict_gate_proba(X_dask, level=3)


def test_columns_in_several_chunks_are_rechunked(regression):
    moe, X, _ = regression
    X_dask = da.from_array(X, chunks=(100, 2))
    assert len(X_dask.chunks[1]) > 1
    result = moe.predict_experts(X_dask)
    assert result.chunks == ((100, 100, 100), (2,))
    np.testing.assert_array_equal(result.compute(), moe.predict_experts(X))


def test_an_in_memory_y_is_cut_into_the_rows_of_X(regression):
    moe, X, y = regression
    X_dask = da.from_array(X, chunks=(100, -1))
    result = moe.score_samples(X_dask, pd.Series(y))
    assert result.chunks == ((100, 100, 100),)
    np.testing.assert_array_equal(result.compute(), moe.score_samples(X, y))


# ---- sample_y: one seed per row chunk


def test_sample_y_draws_each_chunk_with_its_own_seed(regression):
    moe, X, _ = regression
    rows = (100, 50, 150)
    X_dask = da.from_array(X, chunks=(rows, -1))
    draws = moe.sample_y(X_dask, n_samples=4, random_state=0)
    assert draws.chunks == (rows, (4,))
    draws = draws.compute()
    np.testing.assert_array_equal(
        draws, moe.sample_y(X_dask, n_samples=4, random_state=0).compute()
    )
    entropy = np.random.RandomState(0).randint(np.iinfo(np.int32).max)
    for index, chunk in enumerate(_row_slices(rows)):
        expected = moe.sample_y(
            X[chunk], n_samples=4, random_state=block_random_state(entropy, index)
        )
        np.testing.assert_array_equal(draws[chunk], expected)
    other = moe.sample_y(X_dask, n_samples=4, random_state=1).compute()
    assert not np.array_equal(draws, other)


# ---- DataFrames and column names


def test_dask_dataframe_with_the_fitted_names(named_regression):
    moe, frame, y = named_regression
    X_dask = dd.from_pandas(frame, npartitions=3)
    y_dask = dd.from_pandas(pd.Series(y), npartitions=3)
    rows = tuple(len(part) for part in X_dask.partitions)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prediction = moe.predict(X_dask)
        log_prob = moe.score_samples(X_dask, y_dask)
        assert prediction.chunks == (rows,)
        prediction, log_prob = dask.compute(prediction, log_prob)
    np.testing.assert_array_equal(prediction, moe.predict(frame))
    # A pandas frame's rows reach the in-memory path in Fortran order, the
    # chunks in C order, which changes the E-step's rounding.
    expected = moe.score_samples(frame, y)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-12, atol=1e-12)


def test_dask_dataframe_with_other_names_is_refused(named_regression):
    moe, frame, _ = named_regression
    renamed = frame.rename(columns={"x0": "z"})
    with pytest.raises(ValueError, match="Feature names unseen at fit time:\n- z"):
        moe.predict(dd.from_pandas(renamed, npartitions=2))
    reordered = frame[frame.columns[::-1]]
    with pytest.raises(ValueError, match="must be in the same order"):
        moe.predict(dd.from_pandas(reordered, npartitions=2))


def test_names_warn_once_at_call_time_as_in_memory(regression, named_regression):
    named, frame, _ = named_regression
    X_dask = da.from_array(frame.to_numpy(), chunks=(100, -1))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        prediction = named.predict(X_dask)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the chunks do not warn again
        np.testing.assert_array_equal(prediction.compute(), named.predict(frame))
    nameless, _, _ = regression
    with pytest.warns(UserWarning, match="X has feature names, but"):
        nameless.predict(dd.from_pandas(frame, npartitions=2))


def test_empty_partitions_give_empty_chunks(named_regression):
    moe, frame, _ = named_regression
    X_dask = dd.from_pandas(frame, npartitions=3)
    kept = X_dask.map_partitions(lambda part: part[part.index >= 150])
    prediction = moe.predict(kept)
    assert prediction.chunks == ((0, 50, 100),)  # the first partition is empty
    np.testing.assert_array_equal(
        prediction.compute(), moe.predict(frame[frame.index >= 150])
    )


# ---- what is refused when the method is called


def test_unknown_chunk_sizes_are_refused(regression):
    moe, X, y = regression
    X_dask = da.from_array(X, chunks=(100, -1))
    masked = X_dask[X_dask[:, 0] > -np.inf]
    with pytest.raises(ValueError, match=r"X has unknown chunk sizes.*compute_chunk"):
        moe.predict(masked)
    y_dask = da.from_array(y, chunks=100)
    with pytest.raises(ValueError, match=r"y has unknown chunk sizes"):
        moe.score_samples(X_dask, y_dask[y_dask > -np.inf])
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=2)
    with pytest.raises(ValueError, match=r"X has unknown chunk sizes"):
        moe.predict(frame.to_dask_array())


def test_the_wrong_number_of_features_as_in_memory(regression):
    moe, X, _ = regression
    with pytest.raises(ValueError) as in_memory:
        moe.predict(X[:, :-1])
    X_dask = da.from_array(X[:, :-1], chunks=(100, -1))
    with pytest.raises(ValueError) as on_dask:
        moe.predict(X_dask)
    assert str(on_dask.value) == str(in_memory.value)
    assert "is expecting 4 features" in str(on_dask.value)


def test_y_in_other_chunks_or_of_another_length_is_refused(regression):
    moe, X, y = regression
    X_dask = da.from_array(X, chunks=(100, -1))
    with pytest.raises(
        ValueError, match=r"row chunks of X; got \(150, 150\) and \(100, 100, 100\)"
    ):
        moe.posterior_proba(X_dask, da.from_array(y, chunks=150))
    with pytest.raises(ValueError, match=r"one value per row of X \(300\)"):
        moe.score_samples(X_dask, da.from_array(y[:-1], chunks=100))
    with pytest.raises(ValueError, match=r"y must be 1-D"):
        moe.score_samples(X_dask, da.from_array(y[:, None], chunks=(100, 1)))


def test_other_dask_collections_and_shapes_are_refused(regression):
    moe, X, _ = regression
    bag = pytest.importorskip("dask.bag")
    with pytest.raises(TypeError, match="X is a Dask Bag"):
        moe.predict(bag.from_sequence(X.tolist()))
    with pytest.raises(ValueError, match="Expected a 2-D Dask array"):
        moe.predict(da.from_array(X[:, 0], chunks=100))
    with pytest.raises(ValueError, match="0 sample"):
        moe.predict(da.from_array(X[:0], chunks=(100, -1)))


def test_an_unfitted_model_is_refused_at_call_time(regression):
    moe, X, y = regression
    X_dask, y_dask = _dask(X, y, (100, 200))
    for call in REGRESSOR_CALLS.values():
        with pytest.raises(NotFittedError):
            call(clone(moe), X_dask, y_dask)


def test_bad_arguments_are_refused_at_call_time(regression):
    moe, X, _ = regression
    X_dask = da.from_array(X, chunks=(100, -1))
    with dask.config.set(scheduler=_no_compute):
        with pytest.raises(ValueError, match="open interval"):
            moe.predict_quantiles(X_dask, [0.5, 1.5])
        with pytest.raises(ValueError, match="level=2 is deeper"):
            moe.predict_gate_proba(X_dask, level=2)
        with pytest.raises(ValueError, match="n_samples must be at least 1"):
            moe.sample_y(X_dask, n_samples=0)
        with pytest.raises(TypeError, match=r"highest_density.*compute"):
            moe.predict_interval(X_dask, kind="highest_density")


def test_nan_surfaces_at_compute_naming_its_chunk(regression):
    moe, X, _ = regression
    X = X.copy()
    X[150, 2] = np.nan
    prediction = moe.predict(da.from_array(X, chunks=(100, -1)))  # lazy: no error
    with pytest.raises(ValueError, match="NaN") as raised:
        prediction.compute()
    assert "In row chunk 1 (rows 100 to 199)" in raised.value.__notes__[-1]


# ---- what is not row-wise


def test_score_and_criteria_on_dask_inputs(regression, classification):
    for moe, X, y in (regression, classification):
        X_dask, y_dask = _dask(X, y, (100, 200))
        # sklearn's score computes the predictions and compares them with y.
        assert moe.score(X_dask, y_dask) == moe.score(X, y)
    moe, X, y = regression
    X_dask, y_dask = _dask(X, y, (100, 200))
    with dask.config.set(scheduler=_no_compute):
        bic, aic = moe.bic(X_dask, y_dask), moe.aic(X_dask, y_dask)
    # The sums are reduced chunk by chunk: equal up to their rounding.
    np.testing.assert_allclose(bic.compute(), moe.bic(X, y), rtol=1e-12)
    np.testing.assert_allclose(aic.compute(), moe.aic(X, y), rtol=1e-12)


# ---- Dask stays optional


def test_importing_and_predicting_in_memory_does_not_import_dask():
    code = textwrap.dedent(
        """
        import sys
        from skmoe import MixtureOfExpertsRegressor
        from skmoe.datasets import make_moe_regression
        X, y = make_moe_regression(n_samples=100, random_state=0)
        moe = MixtureOfExpertsRegressor(n_init=1, random_state=0).fit(X, y)
        moe.predict(X), moe.score_samples(X, y), moe.predict_quantiles(X, 0.5)
        assert "dask" not in sys.modules, "dask was imported"
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


# ---- on a cluster


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_the_graph_runs_on_worker_processes(dask_client, classification):
    moe, X, y = classification
    X_dask, y_dask = _dask(X, y, (100, 100, 100))
    proba, log_prob = dask.compute(
        moe.predict_proba(X_dask), moe.score_samples(X_dask, y_dask)
    )
    np.testing.assert_array_equal(proba, moe.predict_proba(X))
    np.testing.assert_array_equal(log_prob, moe.score_samples(X, y))
    X_nan = X.copy()
    X_nan[250] = np.nan
    with pytest.raises(ValueError, match="NaN") as raised:
        moe.predict(da.from_array(X_nan, chunks=(100, -1))).compute()
    assert "In row chunk 2" in raised.value.__notes__[-1]
