"""Targets for the output losses: one-hot / indicator rows from class labels.

:func:`encode_labels` does what scikit-learn's ``LabelBinarizer.transform`` does
for 1-D labels (one column per class, or a single 0/1 column for two classes)
with one ``searchsorted`` on the sorted classes, instead of the several
``np.unique`` passes of ``type_of_target`` / ``label_binarize``: this is the
per-call cost of a ``partial_fit`` that a search pays every epoch of every fold.

Examples
--------
>>> import numpy as np
>>> encode_labels(np.array([2, 0, 2]), np.array([0, 1, 2]))
array([[0., 0., 1.],
       [1., 0., 0.],
       [0., 0., 1.]])
>>> encode_labels(np.array(["no", "yes"]), np.array(["no", "yes"]), binary=True).ravel()
array([0., 1.])
"""

import numpy as np


def can_encode(y, classes):
    """True if :func:`encode_labels` applies: 1-D ``y``, both numeric or both strings.

    Examples
    --------
    >>> import numpy as np
    >>> can_encode(np.array([1, 2]), np.array([1.0, 2.0]))
    True
    >>> can_encode(np.array(["a"]), np.arange(2))
    False
    """
    kinds = {y.dtype.kind, classes.dtype.kind}
    return y.ndim == 1 and (kinds <= set("biuf") or kinds == {"U"})


class UnknownLabelError(ValueError):
    """Some labels are not among the known classes."""


def class_indices(y, classes):
    """The position of each label of ``y`` in the sorted unique ``classes``.

    Raises
    ------
    UnknownLabelError
        If a label is not in ``classes``.

    Examples
    --------
    >>> import numpy as np
    >>> class_indices(np.array(["b", "a", "b"]), np.array(["a", "b"]))
    array([1, 0, 1])
    """
    # classes is sorted: y[i] is known iff classes[searchsorted(classes, y[i])] == y[i]
    index = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
    if not np.array_equal(classes[index], y):
        unknown = np.setdiff1d(y, classes)
        raise UnknownLabelError(f"`y` has classes {unknown} not among the known classes "
                                f"{classes}.")
    return index


def encode_labels(y, classes, *, binary=False, dtype=np.float64):
    """One-hot rows of ``y`` over the sorted unique ``classes``.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Labels, each one of ``classes``.
    classes : ndarray of shape (k,)
        Sorted unique class labels (as scikit-learn's ``classes_``).
    binary : bool
        One column, 1 where ``y == classes[1]`` (a logistic output), instead of ``k``.
    dtype : numpy dtype
        Dtype of the result.

    Returns
    -------
    Y : ndarray of shape (n, k), or (n, 1) when ``binary``
        (UnknownLabelError as :func:`class_indices` for a label not in ``classes``)

    Examples
    --------
    >>> import numpy as np
    >>> encode_labels(np.array([1.0, 3.0]), np.array([1, 3]), binary=True).ravel()
    array([0., 1.])
    """
    index = class_indices(y, classes)
    if binary:
        return np.equal(index, 1).astype(dtype).reshape(-1, 1)
    return np.take(np.eye(len(classes), dtype=dtype), index, axis=0)  # row i = e_{index[i]}
