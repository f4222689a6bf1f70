"""With several annotators: ask another answer for an uncertain item, or label a new one?

Each option is worth the expected number of wrong labels it removes:

* another answer for an item whose aggregate has top posterior q: the label is wrong with
  probability 1 - q; an answer from an annotator of accuracy a fixes it with probability about
  a when it is wrong, so the gain is (1 - q) * a - q * (1 - a) * flip, where ``flip`` is the
  chance one dissenting answer overturns a majority (0 once an item has a clear majority);
* a new item that the model predicts with top probability p: without a human answer its label
  would be the model's guess, wrong with probability 1 - p; one answer makes it right with
  probability a, so the gain is a - p.

:class:`RepeatOrNew` ranks both kinds together and returns the best ``n`` actions.
"""

from __future__ import annotations

import numpy as np

from labelloop.exceptions import InputError


class RepeatOrNew:
    """Rank "one more answer for answered item i" against "first answer for new item j".

    ``annotator_accuracy``: the expected accuracy of the next answer (e.g. the mean skill from
    the aggregator). ``select`` returns a list of ``("repeat", i)`` / ``("new", j)`` with
    indices into the two inputs, best first.
    """

    def __init__(self, *, annotator_accuracy: float = 0.8):
        if not 0.0 < annotator_accuracy <= 1.0:
            raise InputError("annotator_accuracy must be in (0, 1]")
        self.annotator_accuracy = annotator_accuracy

    def gains(self, answered_posteriors, n_answers, new_proba) -> tuple[np.ndarray, np.ndarray]:
        a = float(self.annotator_accuracy)
        Q = np.asarray(answered_posteriors, dtype=np.float64).reshape(len(n_answers), -1) if len(n_answers) else np.zeros((0, 1))
        q = Q.max(axis=1) if Q.size else np.zeros(0)
        cnt = np.asarray(n_answers, dtype=np.float64)
        # one dissenting answer overturns the aggregate only while the votes are close (<= 2 answers)
        flip = np.where(cnt <= 2, 1.0, 0.0)
        g_repeat = (1.0 - q) * a - q * (1.0 - a) * flip * 0.5
        Pn = np.asarray(new_proba, dtype=np.float64)
        p = Pn.max(axis=1) if Pn.size else np.zeros(0)
        g_new = a - p
        return g_repeat, g_new

    def select(self, answered_posteriors, n_answers, new_proba, n: int) -> list[tuple[str, int]]:
        g_rep, g_new = self.gains(answered_posteriors, n_answers, new_proba)
        kinds = np.concatenate([np.zeros(len(g_rep), dtype=np.int8), np.ones(len(g_new), dtype=np.int8)])
        idx = np.concatenate([np.arange(len(g_rep)), np.arange(len(g_new))])
        g = np.concatenate([g_rep, g_new])
        order = np.argsort(-g, kind="stable")[: max(0, int(n))]
        return [("repeat" if kinds[o] == 0 else "new", int(idx[o])) for o in order]
