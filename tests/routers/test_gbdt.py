"""gbdt: a planted step is learned, boosting stops early on noise, one-class columns stay constant."""

from __future__ import annotations

import numpy as np
import pytest

from routereval.routers import Labelled, Prompts, make_router


def step_problem(n, seed):
    """Candidate 0 is right exactly when the first feature is positive; candidate 1 is a fair coin;
    candidate 2 is always right."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = np.c_[x[:, 0] > 0, rng.random(n) < 0.5, np.ones(n)].astype(float)
    return x, y


def test_learns_a_step_and_stops_early_on_noise():
    x, y = step_problem(400, 0)
    xv, yv = step_problem(200, 1)
    router = make_router("gbdt", n_components=2).fit(Prompts(embeddings=x), y, validation=Labelled(Prompts(embeddings=xv), yv))
    quality = router.predict_quality(Prompts(embeddings=np.array([[0.5, 0.0], [-0.5, 0.0]])))
    assert quality[0, 0] > 0.9 and quality[1, 0] < 0.1
    # The coin: a few rounds already overfit its validation records; the step keeps improving for longer.
    assert router.rounds_[1] < 25 < router.rounds_[0]
    # Always right on 400 records: (400 + 0.5) / 401, not a certainty.
    np.testing.assert_allclose(quality[:, 2], 400.5 / 401)
    assert router.models_[2] is None


def test_every_round_without_validation():
    x, y = step_problem(400, 0)
    router = make_router("gbdt", n_components=2, max_iter=30).fit(Prompts(embeddings=x), y)
    assert list(router.rounds_) == [30, 30, 0]


@pytest.mark.slow  # fits many boosters
def test_boosters_fitted_side_by_side_are_the_ones_fitted_in_turn():
    x, y = step_problem(300, 2)
    y = np.c_[y, y[:, :2][:, ::-1]]
    xv, yv = step_problem(150, 3)
    yv = np.c_[yv, yv[:, :2][:, ::-1]]
    fitted = [make_router("gbdt", n_components=2, n_jobs=jobs).fit(Prompts(embeddings=x), y,
                                                                   validation=Labelled(Prompts(embeddings=xv), yv))
              for jobs in (1, 2)]
    probe = Prompts(embeddings=np.random.default_rng(4).uniform(-1, 1, size=(50, 2)))
    assert list(fitted[0].rounds_) == list(fitted[1].rounds_)
    np.testing.assert_array_equal(fitted[0].predict_quality(probe), fitted[1].predict_quality(probe))


def test_a_bad_number_of_jobs_is_refused():
    x, y = step_problem(50, 0)
    for jobs in (0, -2):
        # Before any work (command lines and sweep files call check_params), and by fit.
        with pytest.raises(ValueError, match="n_jobs"):
            make_router("gbdt", n_jobs=jobs).check_params()
        with pytest.raises(ValueError, match="n_jobs"):
            make_router("gbdt", n_jobs=jobs).fit(Prompts(embeddings=x), y)
