"""Exact arithmetic: a policy's values in rationals, and exact policy iteration from a float policy.

The float solver gives a policy that is optimal up to its certificate; here its equations are solved in
the spec's own rationals (``Fraction``), and policy iteration continues exactly until no row improves.
Only rows whose float gap could hide a non-positive exact gap are ever evaluated exactly.
"""

from __future__ import annotations

import heapq
from fractions import Fraction

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from ..expressions import UNIT_ROUNDOFF as _U
from ..graph import terminates_surely
from ..model import nearest_float
from .certificate import Roundoff
from .errors import SolverError
from .problem import FloatArray, IntArray, Problem
from .proper import negative_cycle_error

__all__ = ["ExactProblem", "exact_refine"]


class ExactProblem:
    """A problem in rational arithmetic: its exact numbers (the spec's), exact policy values and gaps."""

    def __init__(self, problem: Problem, cost: list[Fraction] | None = None) -> None:
        self.problem = problem
        exact = problem.exact
        self.gamma = exact.gamma
        self.row_entries = exact.entries
        self.cost = exact.cost if cost is None else cost

    def q(self, r: int, V: list[Fraction]) -> Fraction:
        return self.cost[r] + self.gamma * sum((p * V[j] for j, p in self.row_entries[r]), Fraction(0))

    def evaluate(self, pi: IntArray) -> list[Fraction]:
        """The exact value of policy ``pi``: SCC by SCC, sinks first; sparse elimination inside an SCC."""
        core = self.problem
        n = core.n
        V = [Fraction(0)] * n
        solve = ~core.terminal if self.gamma == 1 else np.ones(n, dtype=bool)
        pi_list = pi.tolist()
        succ = [[(j, p) for j, p in self.row_entries[pi_list[s]] if solve[j]] if solve[s] else [] for s in range(n)]
        src = [s for s in range(n) for j, _ in succ[s]]
        dst = [j for s in range(n) for j, _ in succ[s]]
        graph = sp.csr_array((np.ones(len(src)), (np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64))),
                             shape=(n, n))
        n_comp, label = csgraph.connected_components(graph, directed=True, connection="strong")
        members: list[list[int]] = [[] for _ in range(n_comp)]
        for s in np.flatnonzero(solve).tolist():
            members[label[s]].append(s)
        # Kahn's algorithm on the condensation, sinks first
        out_degree = [0] * n_comp
        parents: list[list[int]] = [[] for _ in range(n_comp)]
        for (a, b) in {(int(label[s]), int(label[j])) for s, j in zip(src, dst) if label[s] != label[j]}:
            out_degree[a] += 1
            parents[b].append(a)
        ready = [k for k in range(n_comp) if out_degree[k] == 0 and members[k]]
        gamma = self.gamma
        while ready:
            k = ready.pop()
            states = members[k]
            if len(states) == 1:
                s = states[0]
                diagonal = Fraction(1)
                rhs = self.cost[pi_list[s]]
                acc = Fraction(0)
                for j, p in succ[s]:
                    if j == s:
                        diagonal -= gamma * p
                    else:
                        acc += p * V[j]
                V[s] = (rhs + gamma * acc) / diagonal
            else:
                self._solve_block(states, succ, pi_list, V)
            for parent in parents[k]:
                out_degree[parent] -= 1
                if out_degree[parent] == 0:
                    ready.append(parent)
        return V

    def _solve_block(self, states: list[int], succ: list[list[tuple[int, Fraction]]], pi: list[int],
                     V: list[Fraction]) -> None:
        """Gaussian elimination on ``(I - gamma P_pi)`` restricted to one SCC, dynamic Markowitz pivots.

        The matrix is a nonsingular M-matrix, so every symmetric ordering has nonzero pivots.
        """
        local = {s: i for i, s in enumerate(states)}
        k = len(states)
        gamma = self.gamma
        rows: list[dict[int, Fraction]] = []
        b: list[Fraction] = []
        cols: list[set[int]] = [set() for _ in range(k)]
        for i, s in enumerate(states):
            row: dict[int, Fraction] = {i: Fraction(1)}
            acc = Fraction(0)
            for j, probability in succ[s]:
                if j in local:
                    li = local[j]
                    row[li] = row.get(li, Fraction(0)) - gamma * probability
                else:
                    acc += probability * V[j]
            row = {j: a for j, a in row.items() if a != 0 or j == i}
            for j in row:
                cols[j].add(i)
            rows.append(row)
            b.append(self.cost[pi[s]] + gamma * acc)
        done = [False] * k
        heap = [((len(rows[i]) - 1) * (len(cols[i]) - 1), i) for i in range(k)]
        heapq.heapify(heap)
        order: list[int] = []
        while heap:
            score, p = heapq.heappop(heap)
            if done[p]:
                continue
            current = (len(rows[p]) - 1) * (len(cols[p]) - 1)
            if current != score:
                heapq.heappush(heap, (current, p))
                continue
            pivot_row = rows[p]
            pivot = pivot_row[p]
            for i in cols[p]:
                if i == p or done[i]:
                    continue
                row = rows[i]
                factor = row.pop(p) / pivot
                for j, a in pivot_row.items():
                    if j == p:
                        continue
                    new = row.get(j, Fraction(0)) - factor * a
                    if new == 0 and j != i:
                        if j in row:
                            del row[j]
                            cols[j].discard(i)
                    else:
                        if j not in row:
                            cols[j].add(i)
                        row[j] = new
                b[i] -= factor * b[p]
            for j in pivot_row:
                cols[j].discard(p)
            done[p] = True
            order.append(p)
        x: list[Fraction] = [Fraction(0)] * k
        for p in reversed(order):
            acc = b[p]
            for j, a in rows[p].items():
                if j != p:
                    acc -= a * x[j]
            x[p] = acc / rows[p][p]
        for i, s in enumerate(states):
            V[s] = x[i]


def exact_refine(problem: Problem, pi: IntArray, V_float: FloatArray, gap_float: FloatArray, ro: Roundoff,
                 max_iter: int) -> tuple[list[Fraction], dict[int, Fraction], IntArray, int]:
    """Exact policy iteration from ``pi``: exact ``V``, exact gaps of the rows that need them, final policy,
    and the number of exact evaluations.

    Only rows whose float gap could hide a non-positive exact gap are evaluated exactly: with
    ``E >= max |V_pi - V_float|`` (measured on the exact ``V_pi``), the exact gap of row ``r`` under ``pi``
    is at least ``gap_float(r) - slack - (1 + rho) E``; rows above ``2 (slack + (1 + rho) E)`` are
    certainly neither improving nor optimal. Rows of ``pi`` have exact gap 0 by construction.
    """
    exact = ExactProblem(problem)
    rs = problem.row_state.tolist()
    pi = pi.copy()
    for evaluations in range(1, max_iter + 1):
        V = exact.evaluate(pi)
        V_rounded = np.array([nearest_float(v) for v in V])
        E = float(np.abs(V_rounded - V_float).max(initial=0.0)) * (1 + 2 * _U) \
            + 2 * _U * float(np.abs(V_rounded).max(initial=0.0))
        threshold = 2.0 * (ro.slack + (1.0 + ro.rho) * E)
        candidates = np.flatnonzero(gap_float <= threshold)
        candidates = candidates[~np.isin(candidates, pi)]
        gaps = {int(r): Fraction(0) for r in pi}
        best: dict[int, tuple[Fraction, int]] = {}
        for r in candidates.tolist():
            g = gaps[r] = exact.q(r, V) - V[rs[r]]
            s = rs[r]
            if g < 0 and (s not in best or g < best[s][0]):
                best[s] = (g, r)
        if not best:
            return V, gaps, pi, evaluations
        for s, (_, r) in best.items():
            pi[s] = r
        if problem.gamma == 1.0:
            proper = terminates_surely(sp.csr_array(problem.P[pi]), problem.terminal)
            if not proper.all():
                raise negative_cycle_error(problem, pi, ~proper)
        V_float = V_rounded
        gap_float = problem.c + problem.P @ (problem.gamma * V_rounded) - V_rounded[problem.row_state]
    raise SolverError(f"exact policy iteration did not finish in {max_iter} evaluations", iterations=max_iter)
