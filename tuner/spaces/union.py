"""SearchSpaceUnion: a list of sklearn param grids, searched by grid only.

Each member is a :class:`~tuner.spaces.space.SearchSpace`; the union answers
the same protocol: its grid is the members' grids in order (like
``ParameterGrid``), a raw point resolves with the first member that accepts
it, ``with_prefix`` and ``replace`` apply to every member. It has no single
distribution per name, so ``sample`` raises and ``suggest`` only records an
enqueued grid point (``grid_only`` is True).
"""

import copy

from tuner.errors import SearchSpaceError
from tuner.spaces.space import DEFAULT_MAX_GRID_SIZE, SearchSpace


class SearchSpaceUnion(SearchSpace):
    """A union of sub-spaces (an sklearn list of param grids): grid search only.

    Parameters
    ----------
    members : list of SearchSpace
        The sub-spaces, in order.
    description : str, default=""
    source : str, default="<dict>"

    Examples
    --------
    >>> union = SearchSpace.load([{"kernel": ["linear"]}, {"kernel": ["rbf"], "gamma": [1, 2]}])
    >>> union.grid()
    [{'kernel': 'linear'}, {'gamma': 1, 'kernel': 'rbf'}, {'gamma': 2, 'kernel': 'rbf'}]
    """

    grid_only = True

    def __init__(self, members, *, description="", source="<dict>"):
        self.description, self.source, self.members = description, source, list(members)

    @property
    def _params(self):
        """Every member's parameters, the first member's object for a shared name."""
        params = {}
        for member in self.members:
            params.update({n: p for n, p in member._params.items() if n not in params})
        return params

    def with_prefix(self, step):
        """The union with every member routed to the Pipeline step `step`."""
        prefixed = super().with_prefix(step)
        prefixed.members = [member.with_prefix(step) for member in self.members]
        return prefixed

    def _grid_search_only(self):
        """The error of sampling a union: it has no single distribution per parameter."""
        return SearchSpaceError("a list of param grids (a union of sub-grids) supports grid "
                                "search only", source=self.source, key="union",
                                allowed="GridSearch, or one dict of lists / distributions")

    def sample(self, rng=None):
        """Raise SearchSpaceError: a union cannot be sampled."""
        raise self._grid_search_only()

    def suggest(self, trial, *, point=None):
        """Record the enqueued grid point ``point`` in the trial (SearchSpaceError without).

        A union has no single distribution per name: each value of ``point`` is
        suggested from a categorical over all the values its name takes in the
        union's grid (Optuna needs one distribution per name per study), so the
        trial returns the enqueued values.

        Examples
        --------
        >>> import optuna
        >>> union = SearchSpace.load([{"a": [1, 2]}, {"b": ["x"]}])
        >>> study = optuna.create_study()
        >>> study.enqueue_trial({"b": "x"})
        >>> union.suggest(study.ask(), point={"b": "x"})
        {'b': 'x'}
        """
        if point is None:
            raise self._grid_search_only()
        choices = {}
        for grid_point in self.grid():
            for name, value in grid_point.items():
                choices.setdefault(name, [])
                if value not in choices[name]:
                    choices[name].append(value)
        return {name: trial.suggest_categorical(name, choices[name]) for name in point}

    def grid(self, *, max_grid_size=DEFAULT_MAX_GRID_SIZE):
        """The concatenated grids of the members, in order (like ParameterGrid)."""
        points = []
        for member in self.members:
            points.extend(member.grid(max_grid_size=max_grid_size))
            if len(points) > max_grid_size:
                raise SearchSpaceError(f"grid has more than {max_grid_size} points",
                                       source=self.source, key="union",
                                       allowed="fewer sub-grid points or a larger max_grid_size")
        return points

    def resolve(self, raw, *, n_samples=None):
        """Resolve with the first member that accepts the raw point."""
        for member in self.members:
            if set(raw) <= set(member.names):
                try:
                    return member.resolve(raw, n_samples=n_samples)
                except SearchSpaceError:
                    continue
        raise SearchSpaceError("point belongs to no sub-grid", source=self.source,
                               key="union", value=raw)

    def upper_bound(self, name):
        """Largest value over the members that have the parameter."""
        self._get(name.removeprefix(self.prefix))
        return max(m.upper_bound(name) for m in self.members if name in m)

    def to_dict(self):
        """``{"description": ..., "union": [{"parameters": ...}, ...]}``."""
        return {"description": self.description,
                "union": [{"parameters": m.to_dict()["parameters"]} for m in self.members]}

    def replace(self, name, **spec):
        """Replace the parameter in every member that has it."""
        self._get(name)
        replaced = copy.copy(self)
        replaced.members = [m.replace(name, **spec) if name in m else m for m in self.members]
        return replaced

    def __repr__(self):
        parts = "\n".join("  | " + repr(m).replace("\n", "\n    ") for m in self.members)
        prefix = f", prefix={self.prefix!r}" if self.prefix else ""
        return f"SearchSpaceUnion({self.source!r}{prefix}, {len(self.members)} sub-grids:\n{parts})"
