"""Time per EM iteration: skmoe._distributed on a 2-process LocalCluster against the
in-memory fit (the difference of 22- and 2-iteration fits over 20, tol=0)."""

import time
import warnings

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster
from sklearn.linear_model import LinearRegression

from skmoe import MixtureOfExpertsRegressor
from skmoe._distributed import fit_distributed_em
from skmoe.datasets import make_moe_regression

warnings.simplefilter("ignore")
if __name__ == "__main__":
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cl,
        Client(cl) as client,
    ):
        for n in (20_000, 200_000, 1_000_000):
            X, y = make_moe_regression(
                n_samples=n, n_features=3, n_experts=3, random_state=0
            )
            init = np.random.default_rng(0).dirichlet(np.ones(3), size=n)
            for it in (2, 22):
                t = time.perf_counter()
                moe = MixtureOfExpertsRegressor(
                    n_experts=3, init=init, n_init=1, init_size=None, max_iter=it, tol=0
                ).fit(X, y)
                tm = time.perf_counter() - t
                if it == 2:
                    m2 = tm
            mem = (tm - m2) / 20
            for rows in (n // 8, n // 2):
                Xd, yd = (
                    da.from_array(X, chunks=(rows, 3)),
                    da.from_array(y, chunks=rows),
                )
                Xd, yd = client.persist(Xd), client.persist(yd)
                times = {}
                for it in (2, 22):
                    t = time.perf_counter()
                    fit = fit_distributed_em(
                        client,
                        Xd,
                        yd,
                        init,
                        expert=LinearRegression(),
                        max_iter=it,
                        tol=0,
                    )
                    times[it] = time.perf_counter() - t
                d = (times[22] - times[2]) / 20
                gap = abs(fit.log_likelihood - moe.log_likelihood_)
                print(
                    f"n={n} chunks={n // rows} in-memory {mem * 1e3:.1f} ms/iter, "
                    f"distributed {d * 1e3:.1f} ms/iter, passes {fit.passes}, "
                    f"log-likelihood gap {gap:.1e}",
                    flush=True,
                )
