"""A Dask collection as the input of a fitted model's row-wise methods.

A method whose output has one row per row of ``X`` (``predict``,
``predict_proba``, ``score_samples`` and the like) is decorated with
:func:`rowwise`. On an in-memory ``X`` the decorator only looks at the input's
type and calls the method. On a ``dask.array.Array`` or
``dask.dataframe.DataFrame`` it checks the input when the method is called
(fitted model, features and their names, known row chunks, ``y`` chunked like
``X``), then returns a lazy Dask array with one task per row chunk of ``X``: the
same method on that chunk, in memory. The output is chunked like the input's
rows, its other axes in one chunk, and equals the in-memory result.

Dask stays optional: nothing here imports it until a Dask collection arrives,
and a collection is only looked for once ``dask`` has been imported.
"""

import functools
import inspect
import math
import reprlib
import sys

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data


def is_dask_collection(obj):
    """Whether ``obj`` is a Dask collection, without importing Dask."""
    if type(obj) is np.ndarray or "dask" not in sys.modules:
        return False
    import dask

    return dask.is_dask_collection(obj)


def rowwise(template, *, seeded=None):
    """Let a row-wise method of a fitted model take Dask collections too.

    Parameters
    ----------
    template : callable
        ``template(estimator, **arguments)``, with the method's arguments other
        than ``X`` and ``y`` (defaults filled in): an empty array with the
        shape of the output of zero rows and its dtype, such as
        ``np.empty((0, n_classes))``. It checks the arguments it reads, so that
        a bad one is refused when the method is called; it is only called for
        Dask inputs.

    seeded : str, default=None
        The argument that seeds random draws (``random_state``). Each row chunk
        draws with its own seed: one ``SeedSequence`` entropy drawn from the
        argument when the method is called, spawned by the chunk's index
        (:func:`block_random_state`).

    Returns
    -------
    decorate : callable
        The decorator.
    """

    def decorate(method):
        signature = inspect.signature(method)
        takes_y = "y" in signature.parameters

        @functools.wraps(method)
        def dispatch(self, X, *args, **kwargs):
            if not is_dask_collection(X):
                return method(self, X, *args, **kwargs)
            bound = signature.bind(self, X, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            del arguments["self"], arguments["X"]
            y = arguments.pop("y") if takes_y else None
            return map_rows(
                self, method.__name__, X, y, template, arguments, seeded=seeded
            )

        return dispatch

    return decorate


def map_rows(estimator, method, X, y, template, arguments, seeded=None):
    """``estimator.method(X, [y], **arguments)`` as a lazy Dask array, one task
    per row chunk of the Dask collection ``X``, every check made now.

    Parameters
    ----------
    estimator : fitted mixture
        The model; the graph holds it as one key (``dask.delayed``), read when
        the result is computed.
    method : str
        The name of the row-wise method each chunk calls.
    X : dask.array.Array or dask.dataframe.DataFrame
        The input; see :func:`dask_rows`.
    y : dask.array.Array, dask.dataframe.Series, array-like or None
        The targets of methods that take them; see :func:`target_rows`.
    template, seeded
        As in :func:`rowwise`.
    arguments : dict
        The method's other arguments, passed to every chunk.

    Returns
    -------
    result : dask.array.Array
        Chunked like ``X``'s rows, its other axes in one chunk.
    """
    check_is_fitted(estimator)
    template = template(estimator, **arguments)
    X = dask_rows(estimator, X)
    others = [] if y is None else [target_rows(y, X)[:, None]]
    import dask
    import dask.array as da

    if seeded is not None:
        seeded = (seeded, check_random_state(arguments[seeded]).randint(_MAX_SEED))
    axes = {}
    if template.ndim == 1:
        axes["drop_axis"] = 1
    elif template.ndim > 2:
        axes["new_axis"] = list(range(2, template.ndim))
    return da.map_blocks(
        _on_block,
        dask.delayed(estimator, pure=False),
        X,
        *others,
        method=method,
        arguments=arguments,
        template=template,
        seeded=seeded,
        chunks=(X.chunks[0], *((size,) for size in template.shape[1:])),
        meta=template,
        token=method,
        **axes,
    )


_MAX_SEED = np.iinfo(np.int32).max


def block_random_state(entropy, index):
    """The random state of row chunk ``index``: child ``index`` of the
    ``SeedSequence`` of ``entropy``, as a ``RandomState``."""
    sequence = np.random.SeedSequence(entropy, spawn_key=(index,))
    return np.random.RandomState(np.random.MT19937(sequence))


def _on_block(
    estimator,
    X,
    *others,
    method,
    arguments,
    template,
    seeded,
    block_id=None,
    block_info=None,
):
    """The method on one row chunk, in memory; an error says which chunk."""
    if X.shape[0] == 0:
        return template
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        # The names were checked at call time; a nameless chunk would warn again.
        import pandas as pd

        X = pd.DataFrame(X, columns=names, copy=False)
    index = block_id[0]
    if seeded is not None:
        name, entropy = seeded
        arguments = {**arguments, name: block_random_state(entropy, index)}
    try:
        result = getattr(estimator, method)(
            X, *(other[:, 0] for other in others), **arguments
        )
    except Exception as error:
        start, stop = block_info[None]["array-location"][0]
        error.add_note(
            f"In row chunk {index} (rows {start} to {stop - 1}) of the Dask input."
        )
        raise
    return np.asarray(result, dtype=template.dtype)


# ---- the inputs, checked without computing them


def dask_rows(estimator, X):
    """``X`` as a Dask array in one column chunk, with known row chunks, checked
    as the in-memory path checks it: its number of features and its column
    names (the same errors and warnings as ``validate_data``).

    A DataFrame becomes ``X.to_dask_array(lengths=True)``, which computes the
    length of each partition. An array chunked along its columns is rechunked
    to one column chunk.
    """
    import dask.array as da

    if _is_dask_dataframe(X):
        import pandas as pd

        # An empty frame of X's columns: sklearn's own checks of the names.
        validate_data(
            estimator,
            pd.DataFrame(columns=X.columns),
            skip_check_array=True,
            reset=False,
        )
        X = X.to_dask_array(lengths=True)
    elif isinstance(X, da.Array):
        _check_dimensions(X)
        _check_known_chunks(X, "X")
        validate_data(
            estimator, np.empty((0, X.shape[1])), skip_check_array=True, reset=False
        )
    else:
        raise TypeError(
            f"X is a Dask {type(X).__name__}; a fitted mixture predicts on a Dask "
            "Array or DataFrame (or on data in memory)."
        )
    _check_known_chunks(X, "X")
    if X.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
            "is required."
        )
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def target_rows(y, X):
    """``y`` as a 1-D Dask array chunked like the rows of the Dask array ``X``.

    A Dask Series becomes ``y.to_dask_array(lengths=True)``; an in-memory ``y``
    is cut into ``X``'s row chunks. A Dask ``y`` chunked otherwise is refused:
    rechunking it would move its rows between workers unasked.
    """
    import dask.array as da

    if _is_dask_dataframe(y) or _is_dask_series(y):
        y = y.to_dask_array(lengths=True)
    elif not is_dask_collection(y):
        y = np.asarray(y)
    elif not isinstance(y, da.Array):
        raise TypeError(f"y is a Dask {type(y).__name__}; give a Dask Array or Series.")
    if isinstance(y, da.Array):
        _check_known_chunks(y, "y")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must be 1-D with one value per row of X ({X.shape[0]}); got shape "
            f"{y.shape}."
        )
    if not isinstance(y, da.Array):
        return da.from_array(y, chunks=(X.chunks[0],))
    if y.chunks[0] != X.chunks[0]:
        raise ValueError(
            f"y must have the row chunks of X; got {reprlib.repr(y.chunks[0])} and "
            f"{reprlib.repr(X.chunks[0])}. Rechunk y to X's rows: "
            "y.rechunk({0: X.chunks[0]})."
        )
    return y


def _check_dimensions(X):
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D Dask array, got a {X.ndim}-D one of shape {X.shape}; "
            "X must be (n_samples, n_features)."
        )


def _check_known_chunks(array, name):
    if any(math.isnan(size) for sizes in array.chunks for size in sizes):
        raise ValueError(
            f"{name} has unknown chunk sizes (NaN in {name}.chunks); call "
            f"{name}.compute_chunk_sizes() first (for a Dask DataFrame, "
            "to_dask_array(lengths=True) computes them)."
        )


def _is_dask_dataframe(obj):
    if "dask.dataframe" not in sys.modules:
        return False
    import dask.dataframe as dd

    return isinstance(obj, dd.DataFrame)


def _is_dask_series(obj):
    if "dask.dataframe" not in sys.modules:
        return False
    import dask.dataframe as dd

    return isinstance(obj, dd.Series)
