"""The personas' bootstrap ARI (a dense contingency table) equals sklearn's adjusted_rand_score exactly."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from cjlib.personas.selection import _ari


def test_hand_computed():
    # identical partitions (relabelled): 1; the textbook example: ARI of [0,0,1,1] vs [0,0,1,2] = 0.5714…
    assert _ari(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0])) == 1.0
    assert _ari(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 2])) == 4 / 7
    assert _ari(np.array([0, 0, 0, 0]), np.array([0, 1, 2, 3])) == 0.0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), min_size=1, max_size=200))
def test_equals_sklearn(pairs):
    a, b = np.array(pairs).T
    assert _ari(a, b) == adjusted_rand_score(a, b)
