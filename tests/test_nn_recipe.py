"""Tests of lrconv.nn.recipe: the digits split, the schedule and the one-call network."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv import nn

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_digits  # noqa: E402

TINY = nn.Schedule(phases=((1, 3e-3), (1, 1e-3)), batch_size=64)


@pytest.fixture(scope="module")
def data() -> nn.DigitsSplit:
    return nn.load_digits_split()


def test_the_split_has_the_stated_shapes_range_and_strata(data):
    assert [a.shape for a in data] == [(1347, 1, 8, 8), (450, 1, 8, 8), (1347,), (450,)]
    assert data.X_train.dtype == np.float64 and np.issubdtype(data.y_train.dtype, np.integer)
    for images in (data.X_train, data.X_test):
        assert images.min() == 0.0 and images.max() == 1.0
    digits = load_digits()
    # together the two parts are the whole data set, each image once
    rows = np.concatenate([data.X_train, data.X_test]).reshape(1797, 64) * 16
    labels = np.concatenate([data.y_train, data.y_test])
    key = np.lexsort(np.column_stack([rows, labels]).T)
    ref_key = np.lexsort(np.column_stack([digits.data, digits.target]).T)
    np.testing.assert_array_equal(rows[key], digits.data[ref_key])
    np.testing.assert_array_equal(labels[key], digits.target[ref_key])
    # stratified: each digit's share of the test part is its share of the whole, to one image
    counts, test_counts = np.bincount(digits.target), np.bincount(data.y_test)
    assert np.all(np.abs(test_counts - counts * 450 / 1797) <= 1)
    again = nn.load_digits_split()
    for a, b in zip(data, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_stored_split_is_scikit_learns(data):
    """lrconv/digits.npz holds exactly what load_digits and train_test_split give."""
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images[:, None].astype(np.float64) / 16.0
    parts = train_test_split(images, digits.target, test_size=0.25, random_state=0,
                             stratify=digits.target)
    for ours, theirs in zip(data, parts, strict=True):
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


def test_the_digits_schedule_is_chapter_7s():
    s = nn.DIGITS_SCHEDULE
    assert s.phases == ((15, 3e-3), (5, 1e-3)) and s.batch_size == 32 and s.epochs == 20
    with pytest.raises(AttributeError):
        s.batch_size = 64  # frozen


def test_schedule_run_is_the_chapters_two_phase_training(data):
    """One Adam through both phases, the second phase's order drawn from seed + 1."""
    x, y = data.X_train[:200], data.y_train[:200]
    a = nn.small_cnn(3, channels=(2, 4))
    hist = TINY.run(a, x, y, seed=3)
    b = nn.small_cnn(3, channels=(2, 4))
    opt = nn.Adam(lr=3e-3)
    first = nn.train(b, x, y, epochs=1, batch_size=64, optimizer=opt, seed=3)
    opt.lr = 1e-3
    second = nn.train(b, x, y, epochs=1, batch_size=64, optimizer=opt, seed=4)
    assert hist.loss == first.loss + second.loss
    for k, v in a.named_params().items():
        np.testing.assert_array_equal(v, b.named_params()[k])


def test_train_digits_cnn_and_fine_tune(data):
    model, hist = nn.train_digits_cnn(1, channels=(2, 4), schedule=TINY, data=data)
    assert model.dtype == np.float32 and len(hist.loss) == 2
    same = nn.small_cnn(1, channels=(2, 4), dtype=np.float32)
    TINY.run(same, data.X_train, data.y_train, seed=1)
    np.testing.assert_array_equal(nn.predict(model, data.X_test), nn.predict(same, data.X_test))
    assert 0 <= nn.correct(model, data.X_test, data.y_test) <= 450
    tuned = model.copy()
    tuned[0].trainable = False
    history = nn.fine_tune(tuned, data.X_train[:100], data.y_train[:100], epochs=1, seed=2)
    assert len(history.loss) == 1
    np.testing.assert_array_equal(tuned[0].kernel(), model[0].kernel())
    assert not np.array_equal(tuned[3].kernel(), model[3].kernel())


@settings(max_examples=20, deadline=None)
@given(phases=st.sampled_from([(), ((1,),), ((1, 0.0),), ((-1, 1e-3),), ((1, "a"),),
                               [(1, 1e-3)], ((1.5, 1e-3),)]))
def test_schedule_refuses_bad_phases(phases):
    with pytest.raises((TypeError, ValueError), match="phases"):
        nn.Schedule(phases=phases)


def test_recipe_arguments_are_checked(data):
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        nn.Schedule(batch_size=0)
    with pytest.raises(TypeError, match="seed must be an integer"):
        nn.train_digits_cnn("a", data=data)
    with pytest.raises(TypeError, match="schedule must be a lrconv.nn.Schedule"):
        nn.train_digits_cnn(0, schedule=((1, 1e-3),), data=data)
    with pytest.raises(TypeError, match="data must be a DigitsSplit"):
        nn.train_digits_cnn(0, data=(1, 2), schedule=TINY)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        nn.train_digits_cnn(0, dtype=np.float16, data=data)
    with pytest.raises(ValueError, match="lr must be > 0"):
        nn.fine_tune(nn.small_cnn(0), data.X_train[:2], data.y_train[:2], lr=0.0)
    with pytest.raises(TypeError, match="model must be a lrconv.nn.Sequential"):
        nn.fine_tune(None, data.X_train[:2], data.y_train[:2])


def test_sample_per_class_draws_that_many_of_every_class(data):
    idx = nn.sample_per_class(data.y_train, 10, seed=3)
    assert idx.shape == (100,) and np.all(np.diff(idx) > 0)  # sorted, no repeats
    np.testing.assert_array_equal(np.bincount(data.y_train[idx]), np.full(10, 10))
    np.testing.assert_array_equal(idx, nn.sample_per_class(data.y_train, 10, seed=3))
    assert not np.array_equal(idx, nn.sample_per_class(data.y_train, 10, seed=4))
    with pytest.raises(ValueError, match="class 0 has 2 examples, received 3"):
        nn.sample_per_class(np.array([0, 1, 1, 0, 1]), 3)
    with pytest.raises(ValueError, match=r"y must be a non-empty 1-D array .*\(2, 2\)"):
        nn.sample_per_class(np.zeros((2, 2), int), 1)
    with pytest.raises(ValueError, match="per_class must be >= 1"):
        nn.sample_per_class(data.y_train, 0)


def test_only_trainable_gives_a_linear_probe(data):
    model = nn.small_cnn(0, channels=(2, 3))
    probe = model.only_trainable(7)
    assert [layer.trainable for layer in probe] == [False] * 7 + [True]
    assert all(layer.trainable for layer in model)  # the original is untouched
    nn.fine_tune(probe, data.X_train[:64], data.y_train[:64], epochs=1)
    np.testing.assert_array_equal(probe[3].kernel(), model[3].kernel())
    assert not np.array_equal(probe[7].weight, model[7].weight)
    with pytest.raises(ValueError, match="indices must be below 8"):
        model.only_trainable(8)
