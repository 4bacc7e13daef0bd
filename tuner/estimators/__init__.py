"""scikit-learn estimators over the numpy core: :class:`MLPClassifier` and :class:`MLPRegressor`.

``_base`` holds :class:`BaseMLP` (validation, network set-up, the epoch loop
shared by ``fit`` and ``partial_fit``), ``_mlp`` the two public classes,
``_labels`` the classifier's label encoding and ``_docs`` the numpydoc
sections both classes share.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier((16,), max_iter=50, random_state=0).fit(X / 8, y)
>>> clf.n_iter_, clf.n_updates_, clf.predict_proba(X[:2]).shape
(50, 50, (2, 3))
"""

from ._base import BaseMLP
from ._mlp import MLPClassifier, MLPRegressor

__all__ = ["BaseMLP", "MLPClassifier", "MLPRegressor"]
