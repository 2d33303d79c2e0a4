"""Disc measurements (papila.model.serving.measures) and the combination that turns them into a probability."""

from __future__ import annotations

import numpy as np
from papila.model.serving.combination import combine
from papila.model.serving.measures import NAMES, measures
from papila.model.training.cdr import combine_fit

SIZE = 96


def _disc(cup_radius: float, disc_radius: float = 30, pale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Soft disc/cup masks (round, centred) and a crop whose disc is `pale` times brighter than the retina."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    r = np.hypot(yy - SIZE / 2, xx - SIZE / 2)
    masks = np.stack([(r < disc_radius).astype(np.float32), (r < cup_radius).astype(np.float32)], -1)
    image = np.full((SIZE, SIZE, 3), (150.0, 60.0, 30.0))
    image[r < disc_radius] *= pale
    image[r < cup_radius] *= 1.3
    return masks, image.clip(0, 255)


def test_one_value_per_name_and_never_nan():
    empty = measures(np.zeros((SIZE, SIZE, 2), np.float32), np.zeros((SIZE, SIZE, 3)))
    assert empty.shape == (len(NAMES),) and np.isfinite(empty).all()
    assert measures(*_disc(10)).shape == (len(NAMES),)


def test_a_larger_cup_gives_larger_ratios():
    small, large = measures(*_disc(8)), measures(*_disc(22))
    for name in ("vertical_cdr_0.5", "horizontal_cdr_0.5", "cup_disc_area"):
        i = NAMES.index(name)
        assert large[i] > small[i] + 0.2, name
    i = NAMES.index("vertical_cdr_0.5")
    assert abs(large[i] - 22 / 30) < 0.05


def test_a_pale_disc_is_brighter_than_the_retina_around_it():
    dull, pale = measures(*_disc(10, pale=1.0)), measures(*_disc(10, pale=1.5))
    i = NAMES.index("g_vertical_0.5_0.75")  # the rim, outside the cup
    assert abs(dull[i] - 1.0) < 0.05 and pale[i] > 1.4


def test_the_combination_folds_the_standardisation_into_its_weights():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(NAMES))) * rng.uniform(0.1, 5, len(NAMES)) + rng.uniform(-3, 3, len(NAMES))
    y = (x[:, 0] / x[:, 0].std() + rng.normal(size=200) > 0).astype(int)
    p_network = rng.uniform(0.05, 0.95, 200)
    w = combine_fit(p_network, x, y, use_network=False)
    assert w["w_logit"] == 0 and set(w["w_measures"]) == set(NAMES)
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000))
    expected = reference.fit(x, y).predict_proba(x)[:, 1]
    served = np.array([combine(p, m, w) for p, m in zip(p_network, x, strict=True)])
    assert np.allclose(served, expected, atol=1e-3)
    # With the network, its logit gets a weight, and the probability moves with it.
    w2 = combine_fit(np.where(y == 1, 0.8, 0.2), x, y)
    assert w2["w_logit"] > 0
    assert combine(0.9, x[0], w2) > combine(0.1, x[0], w2)


def test_the_rim_above_and_below_the_centre_are_measured_apart():
    masks, image = _disc(10)
    yy = np.mgrid[0:SIZE, 0:SIZE][0]
    image[(yy > SIZE / 2) & (masks[..., 0] > 0)] *= 1.4  # the lower half of the disc paler
    values = measures(masks, image.clip(0, 255))
    above, below = NAMES.index("g_above_0.5_1.0"), NAMES.index("g_below_0.5_1.0")
    assert values[below] > values[above] * 1.3


def test_a_disc_with_structure_has_more_texture_than_a_flat_one():
    masks, flat = _disc(10)
    striped = flat.copy()
    striped[::4] *= 0.6  # vessel-like lines everywhere; the disc keeps them, the retina around loses them
    striped[masks[..., 0] == 0] = flat[masks[..., 0] == 0]
    i = NAMES.index("texture_disc_vs_around")
    assert measures(masks, striped)[i] > 3 * measures(masks, flat)[i]
