"""The six-level region tree: validation and the ancestor lookups every later step uses."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from .contract import LEVEL_NAMES, Level
from .inputs import TableRows


@dataclass(frozen=True)
class RegionTree:
    """A validated region tree.

    ``ids`` is the positional order of regions; ``ancestors[i, L]`` is the position of region i's ancestor
    at level L (itself at its own level, -1 below its level).
    """

    ids: pd.Index
    level: np.ndarray
    parent: np.ndarray
    ancestors: np.ndarray

    def pos(self, region_ids: pd.Series | list[str] | np.ndarray) -> np.ndarray:
        """Positions of the given region ids (-1 for unknown ids)."""
        return self.ids.get_indexer(pd.Index(region_ids))

    def ancestor_ids(self, positions: np.ndarray, level: Level) -> np.ndarray:
        """Ids of the ancestors at ``level`` of the regions at ``positions``."""
        anc = self.ancestors[positions, int(level)]
        return np.where(anc >= 0, self.ids.to_numpy()[np.maximum(anc, 0)], "")

    @property
    def villages(self) -> np.ndarray:
        return np.flatnonzero(self.level == Level.VILLAGE)


def build_tree(regions: pd.DataFrame, rows: TableRows | str = "regions.csv") -> tuple[RegionTree, list[str]]:
    """Check the tree shape (one root, known parents, no cycles, no skipped level) and index it.

    Returns the tree and the list of problems; the tree is only usable when the list is empty. ``rows`` says where
    the table's rows are, for the messages (a file or table name, or :class:`TableRows` with each row's line).
    """
    rows = TableRows(rows) if isinstance(rows, str) else rows
    source = rows.file
    problems: list[str] = []
    ids = pd.Index(regions["region_id"].astype(str))
    parent_ids = regions["parent_id"].astype(str).to_numpy()
    level = regions["level"].to_numpy(dtype=np.int64)

    roots = np.flatnonzero(parent_ids == "")
    if len(roots) != 1:
        where = ", ".join(f"{ids[i]}" + (f" on {rows.where(i)}" if rows.numbered else "") for i in roots[:5]) or "none"
        problems.append(f"{source}: column parent_id: the tree needs exactly one root (empty parent_id), found {len(roots)}: {where}")
    parent = ids.get_indexer(pd.Index(parent_ids))
    unknown = np.flatnonzero((parent < 0) & (parent_ids != ""))
    for i in unknown[:20]:
        problems.append(f"{rows.at(int(i))} (region_id={ids[i]}), column parent_id: unknown parent '{parent_ids[i]}'")
    for i in roots:
        if level[i] != Level.CENTRAL:
            problems.append(f"{rows.at(int(i))} (region_id={ids[i]}), column level: the root must be level 0 (central), not {level[i]}")
    ok = parent >= 0
    skip = np.flatnonzero(ok & (level != level[np.maximum(parent, 0)] + 1))
    if len(skip):  # where every link steps down one level, there is no cycle
        graph = nx.DiGraph()
        graph.add_nodes_from(ids)
        graph.add_edges_from(zip(ids[parent[ok]], ids[ok]))
        try:
            cycle = nx.find_cycle(graph)
            problems.append(f"{source}: column parent_id: cycle in the region tree: {' -> '.join(str(a) for a, _ in cycle)} -> {cycle[0][0]}")
        except nx.NetworkXNoCycle:
            pass
    for i in skip[:20]:
        p = parent[i]
        problems.append(
            f"{rows.at(int(i))} (region_id={ids[i]}), column level: a {_lvname(level[i])} (level {level[i]}) "
            f"cannot have a {_lvname(level[p])} (level {level[p]}) as parent '{ids[p]}'; levels must step by one"
        )
    if problems:
        return RegionTree(ids, level, parent, np.empty((0, 6), dtype=np.int64)), problems

    ancestors = np.full((len(ids), 6), -1, dtype=np.int64)
    ancestors[np.arange(len(ids)), level] = np.arange(len(ids))
    for lv in range(5, 0, -1):
        # every region at or below level lv inherits the parent of its level-lv ancestor
        below = np.flatnonzero(ancestors[:, lv] >= 0)
        ancestors[below, lv - 1] = parent[ancestors[below, lv]]
    return RegionTree(ids, level, parent, ancestors), problems


def _lvname(level: int) -> str:
    return LEVEL_NAMES.get(Level(level), str(level)) if 0 <= level <= 5 else str(level)
