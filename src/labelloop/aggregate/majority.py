"""Vote-counting aggregators: majority vote, Wawa and Zero-Based Skill.

Their posterior is the (weighted) share of votes per class; the weight of a source is 1
(majority vote), its agreement with the majority (Wawa), or a skill learned by repeated
agreement updates (Zero-Based Skill). Soft votes count with their probabilities.
"""

from __future__ import annotations

import numpy as np

from labelloop.aggregate._base import Aggregator
from labelloop.aggregate._kernels import (
    Votes,
    correct_prob,
    count,
    segsum,
    symmetric_log_conf,
    vote_share,
)
from labelloop.exceptions import InputError

TIES = ("first", "random", "prior")


class _WeightedVote(Aggregator):
    def _source_params(self) -> dict[str, np.ndarray]:
        return {"log_conf": symmetric_log_conf(self._acc, len(self.classes_)), "weight": self._weights}

    def _predict(self, v: Votes, params: dict[str, np.ndarray]) -> np.ndarray:
        return vote_share(v, params["weight"])

    def _agreement(self, v: Votes, post: np.ndarray) -> np.ndarray:
        """Per source, the (soft) rate at which its answers match the current hard labels."""
        hard = np.zeros_like(post)
        hard[np.arange(post.shape[0]), self._argmax(post)] = 1.0
        n = count(v.s, v.n_sources)
        agree = segsum(v.s, correct_prob(v, hard), v.n_sources)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, agree / np.maximum(n, 1), 0.0)

    def _skills(self):
        return self._weights.copy(), self._acc.copy()

    def _finish(self, v: Votes, post: np.ndarray) -> np.ndarray:
        acc = self._agreement(v, self._clamp(post, self.gold_))
        # a smoothed accuracy for the answer model used in held-out scoring
        n = count(v.s, v.n_sources)
        self._acc = (acc * n + 1.0) / (n + 2.0)
        return post


class MajorityVote(_WeightedVote):
    """Majority vote: the posterior is the share of votes per class.

    ``tie``: how exact ties pick a label: ``first`` (lowest class code), ``random`` (uniformly,
    seeded by ``random_state``) or ``prior`` (the class with most votes overall).
    ``skills_`` reports each source's agreement with the majority label.
    """

    name = "mv"

    def __init__(self, *, tie: str = "first", random_state: int | None = 0):
        self.tie = tie
        self.random_state = random_state

    def _fit(self, v: Votes, gold: np.ndarray) -> np.ndarray:
        if self.tie not in TIES:
            raise InputError(f"tie must be one of {', '.join(TIES)}, got {self.tie!r}")
        self._weights = np.ones(v.n_sources)
        self._overall = segsum(v.lab, np.ones(v.n), v.K) if v.Q is None else v.Q.sum(0)
        post = vote_share(v)
        return self._finish(v, post)

    def _argmax(self, post: np.ndarray) -> np.ndarray:
        codes = post.argmax(axis=1)
        if self.tie == "first" or post.shape[0] == 0:
            return codes
        top = post.max(axis=1, keepdims=True)
        tied = np.isclose(post, top, rtol=0, atol=1e-12)
        multi = np.flatnonzero(tied.sum(1) > 1)
        if multi.size == 0:
            return codes
        if self.tie == "random":
            rng = np.random.default_rng(self.random_state)
            scores = rng.random(post.shape)
        else:
            scores = np.broadcast_to(self._overall, post.shape)
        codes[multi] = np.where(tied[multi], scores[multi], -np.inf).argmax(axis=1)
        return codes


class Wawa(_WeightedVote):
    """Worker Agreement With Aggregate: majority vote, then each source's agreement with it
    becomes its weight in a second, weighted vote."""

    name = "wawa"

    def __init__(self):
        pass

    def _fit(self, v: Votes, gold: np.ndarray) -> np.ndarray:
        mv = self._clamp(vote_share(v), gold)
        self._weights = self._agreement(v, mv)
        post = vote_share(v, self._weights)
        return self._finish(v, post)


class ZeroBasedSkill(_WeightedVote):
    """Zero-Based Skill: skills start at zero and move towards each source's agreement with
    the weighted vote, with a learning rate that is cut every ``lr_steps_to_reduce`` steps."""

    name = "zbs"
    iterative = True

    def __init__(
        self,
        *,
        max_iter: int = 100,
        lr_init: float = 1.0,
        lr_steps_to_reduce: int = 20,
        lr_reduce_factor: float = 0.5,
        tol: float = 1e-5,
    ):
        self.max_iter = max_iter
        self.lr_init = lr_init
        self.lr_steps_to_reduce = lr_steps_to_reduce
        self.lr_reduce_factor = lr_reduce_factor
        self.tol = tol

    def _fit(self, v: Votes, gold: np.ndarray) -> np.ndarray:
        skills = np.zeros(v.n_sources)
        lr = self.lr_init
        post = self._clamp(vote_share(v), gold)
        converged = False
        for it in range(self.max_iter):
            if it and it % self.lr_steps_to_reduce == 0:
                lr *= self.lr_reduce_factor
            w = skills if skills.any() else np.ones(v.n_sources)
            post = self._clamp(vote_share(v, w), gold)
            agree = self._agreement(v, post)
            new = skills + lr * (agree - skills)
            step = float(np.abs(new - skills).max()) if skills.size else 0.0
            skills = new
            self.loss_history_.append(step)
            self.n_iter_ = it + 1
            if step < self.tol:
                converged = True
                break
        if not converged:
            self._warn_not_converged()
        self._weights = skills
        post = vote_share(v, skills if skills.any() else None)
        return self._finish(v, post)
