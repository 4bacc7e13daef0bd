"""The classifier's label encoding: classes, partial_fit, multilabel targets."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import LabelBinarizer

from tuner.estimators import MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def test_classifier_partial_fit_requires_classes_first(digits):
    X, y = digits
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)
    clf = MLPClassifier((4,)).partial_fit(X[y < 5], y[y < 5], classes=np.arange(10))
    assert clf.predict_proba(X).shape == (600, 10)


@pytest.mark.parametrize("labels", [np.arange(3), np.array([-1, 4]), np.array(["a", "b", "c"]),
                                    np.array(["a", "b", "c"], dtype=object)])
def test_classifier_partial_fit_encodes_labels_like_label_binarizer(labels):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), labels[rng.integers(0, len(labels), 30)]
    clf = MLPClassifier((4,), random_state=0).partial_fit(X, y, classes=labels)
    _, Y, _ = clf._validate_input(X, y, incremental=True, reset=False)
    np.testing.assert_array_equal(Y, LabelBinarizer().fit(labels).transform(y))
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 2 and set(clf.predict(X)) <= set(labels)
    unknown = np.array([labels[0], "z" if labels.dtype.kind in "UO" else 99], dtype=labels.dtype)
    with pytest.raises(ValueError, match="not among the known classes"):
        clf.partial_fit(X[:2], unknown)


def test_classifier_multilabel_partial_fit_continues_fit():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 4)), (rng.random((40, 3)) > 0.5).astype(int)
    clf = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, Y)
    clf.partial_fit(X, Y)
    assert clf.n_iter_ == 3 and clf.out_activation_ == "logistic"
    assert clf.predict(X).shape == (40, 3)


def test_classifier_first_partial_fit_on_multilabel_indicator_matrix():
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    clf = MLPClassifier((50,), solver="sgd", activation="logistic", alpha=1e-5,
                        learning_rate_init=0.2, random_state=0)
    for _ in range(100):
        clf.partial_fit(X, Y, classes=range(5))
    assert clf.out_activation_ == "logistic" and clf.predict(X).shape == Y.shape
    np.testing.assert_array_equal(clf.classes_, np.arange(5))
    assert clf.score(X, Y) > 0.9


@pytest.mark.parametrize("call", ["fit", "partial_fit"])
def test_classifier_refuses_multiclass_multioutput_targets(call):
    X = np.random.default_rng(0).random((20, 3))
    y = np.random.default_rng(1).integers(0, 3, size=(20, 2))
    clf = MLPClassifier((4,), max_iter=1)
    kwargs = {"classes": [0, 1, 2]} if call == "partial_fit" else {}
    with pytest.raises(ValueError, match="^Multioutput target data is not supported"):
        getattr(clf, call)(X, y, **kwargs)


def test_class_indices_of_numeric_string_and_object_labels():
    from tuner.estimators import MLPClassifier

    for y in (np.array([3, 1, 3, 1]), np.array(["b", "a", "b", "a"]),
              np.array(["b", "a", "b", "a"], dtype=object)):
        clf = MLPClassifier((2,), max_iter=1).fit(np.zeros((4, 1)), y)
        assert clf._class_indices(y).tolist() == [1, 0, 1, 0]
    Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    assert MLPClassifier((2,), max_iter=1).fit(np.zeros((4, 1)), Y)._class_indices(Y) is None
