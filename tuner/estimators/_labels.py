"""The classifier's label encoding: class labels to the rows its output layer learns, and back.

As in scikit-learn's MLPClassifier, a ``LabelBinarizer`` holds the encoding:

==================  =====================================  ==============
target type         output rows ``Y``                      output layer
==================  =====================================  ==============
binary              one 0/1 column, 1 for ``classes_[1]``  logistic
multiclass (k > 2)  one-hot rows over ``classes_``         softmax
multilabel          the 0/1 indicator matrix itself        logistic
==================  =====================================  ==============

``fit`` fits the binarizer on ``y``; the first ``partial_fit`` fits it on
``classes`` (on ``y`` itself when ``y`` is a multilabel indicator matrix, as
scikit-learn does).  Multiclass-multioutput targets are refused with
scikit-learn's message. Encoding 1-D labels uses :func:`tuner.nn.targets.encode_labels`
(one ``searchsorted``) instead of the binarizer's ``transform``, whose
``np.unique`` passes cost milliseconds on every ``partial_fit`` of a search.

Examples
--------
>>> import numpy as np
>>> binarizer = fit_binarizer(np.array(["b", "a", "c"]))
>>> encode(binarizer, np.array(["c", "a"]), np.float64)
array([[0., 0., 1.],
       [1., 0., 0.]])
>>> decode(binarizer, np.array([[0.2, 0.7, 0.1]])), out_activation(binarizer)
(array(['b'], dtype='<U1'), 'softmax')
"""

from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import multiclass

from ..nn.targets import can_encode, class_indices, encode_labels


def fit_binarizer(y):
    """A ``LabelBinarizer`` fitted on the targets of ``fit`` (checked as classification targets)."""
    multiclass.check_classification_targets(y)
    return LabelBinarizer().fit(y)


def first_partial_fit(estimator, classes):
    """True on the first ``partial_fit`` (``classes`` required then, and fixed afterwards).

    Adapter for scikit-learn's private ``_check_partial_fit_first_call``, the rule
    (and the messages) its own incremental classifiers apply; there is no public one.
    It sets ``estimator.classes_`` on the first call.
    """
    return multiclass._check_partial_fit_first_call(estimator, classes)


def fit_binarizer_on_classes(classes, y):
    """A ``LabelBinarizer`` for a first ``partial_fit``: on ``classes`` (on ``y`` if multilabel)."""
    if multiclass.type_of_target(y).startswith("multilabel"):
        return LabelBinarizer().fit(y)
    return LabelBinarizer().fit(classes)


def check_supported_targets(y):
    """Refuse what the MLP cannot learn (multiclass-multioutput) with scikit-learn's message.

    Only 2-D targets are looked at (1-D ones cost nothing: this runs on every ``partial_fit``).
    """
    if y.ndim == 2 and multiclass.type_of_target(y) == "multiclass-multioutput":
        raise ValueError("Multioutput target data is not supported with label binarization")


def encode(binarizer, y, dtype):
    """The output rows ``Y`` of the labels ``y`` (ValueError naming unknown labels)."""
    classes = binarizer.classes_
    if binarizer.y_type_ in ("binary", "multiclass") and can_encode(y, classes):
        # as binarizer.transform(y), without its np.unique passes (ms per partial_fit)
        return encode_labels(y, classes, binary=binarizer.y_type_ == "binary", dtype=dtype)
    # multilabel or object labels: the binarizer's general path
    multiclass.check_classification_targets(y)
    encode_labels(multiclass.unique_labels(y), classes)  # raises on unknown labels
    return binarizer.transform(y)


def indices(binarizer, y):
    """Class indices of 1-D labels ``y`` (binary or multiclass encodings), else None."""
    classes = binarizer.classes_
    if binarizer.y_type_ not in ("binary", "multiclass") or y.ndim != 1:
        return None
    if can_encode(y, classes):
        return class_indices(y, classes)
    if "O" in (y.dtype.kind, classes.dtype.kind):  # e.g. strings from pandas
        try:
            return class_indices(y, classes)
        except TypeError:  # labels of mixed types do not order
            return None
    return None


def decode(binarizer, P):
    """Class labels (or the indicator matrix) from the output activations ``P``."""
    return binarizer.inverse_transform(P.ravel() if P.shape[1] == 1 else P)


def out_activation(binarizer):
    """"softmax" for multiclass targets, "logistic" for binary and multilabel ones."""
    return "softmax" if binarizer.y_type_ == "multiclass" else "logistic"
