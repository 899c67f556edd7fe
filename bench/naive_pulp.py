"""The same model as optimizer.model, written the way a first PuLP version would be: one Python object per
variable and per coefficient, rows assembled with lpSum over Python lists. Used only as the bench baseline."""

from __future__ import annotations

import warnings

import pulp

from optimizer.data import Instance
from optimizer.model import ModelIndex
from optimizer.plans import CATEGORIES, Plans


def build_naive(instance: Instance, plans: Plans, index: ModelIndex) -> pulp.LpProblem:
    warnings.simplefilter("ignore", DeprecationWarning)
    table = plans.table
    prob = pulp.LpProblem("naive", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{k}", cat=pulp.LpBinary) for k in range(len(table))]
    projects = instance.projects.reset_index(drop=True)
    y = [pulp.LpVariable(f"y{j}", cat=pulp.LpBinary) for j in range(len(projects))]
    flows = index.flows
    f = [pulp.LpVariable(f"f{i}", lowBound=0) for i in range(len(flows))]
    prob += pulp.lpSum(table["value"].iat[k] * x[k] for k in range(len(table)))
    by_household: dict[int, list[int]] = {}
    for k, h in enumerate(table["hh"]):
        by_household.setdefault(int(h), []).append(k)
    for h, ks in by_household.items():
        prob += pulp.lpSum(x[k] for k in ks) == 1, f"assign_{h}"
    hh_village = list(instance.households["village_id"])
    cc = plans.category_cost.tocsr()
    spend: dict[tuple[str, str], list[tuple[pulp.LpVariable, float]]] = {}
    for k in range(len(table)):
        village = hh_village[int(table["hh"].iat[k])]
        for c, amount in zip(cc.indices[cc.indptr[k] : cc.indptr[k + 1]], cc.data[cc.indptr[k] : cc.indptr[k + 1]]):
            spend.setdefault((village, CATEGORIES[c]), []).append((x[k], float(amount)))
    for j in range(len(projects)):
        spend.setdefault((projects["village_id"].iat[j], projects["category"].iat[j]), []).append((y[j], float(projects["cost"].iat[j])))
    inflow: dict[tuple[str, str], list[pulp.LpVariable]] = {}
    by_fund: dict[str, list[pulp.LpVariable]] = {}
    for i in range(len(flows)):
        inflow.setdefault((flows["village_id"].iat[i], flows["category"].iat[i]), []).append(f[i])
        by_fund.setdefault(flows["fund_id"].iat[i], []).append(f[i])
    for (v, c), terms in spend.items():
        prob += pulp.lpSum(coef * var for var, coef in terms) == pulp.lpSum(inflow.get((v, c), [])), f"balance_{v}_{c}"
    for fid, amount in zip(instance.funds["fund_id"], instance.funds["amount"]):
        prob += pulp.lpSum(by_fund.get(fid, [])) <= float(amount), f"budget_{fid}"
    share = dict(zip(instance.funds["fund_id"], instance.funds["co_financing"]))
    for i in range(len(flows)):
        c = float(share[flows["fund_id"].iat[i]])
        if c > 0:
            cell = inflow[(flows["village_id"].iat[i], flows["category"].iat[i])]
            prob += c * f[i] - (1 - c) * pulp.lpSum(g for g in cell if g is not f[i]) <= 0, f"cofin_{i}"
    tied: dict[tuple[int, int], list[pulp.LpVariable]] = {}
    users: dict[int, list[pulp.LpVariable]] = {}
    for k in range(len(table)):
        j = int(table["project"].iat[k])
        if j >= 0:
            tied.setdefault((int(table["hh"].iat[k]), j), []).append(x[k])
            users.setdefault(j, []).append(x[k])
    for (h, j), xs in tied.items():
        prob += pulp.lpSum(xs) <= y[j], f"link_{h}_{j}"
    for j in range(len(projects)):
        prob += pulp.lpSum(users.get(j, [])) <= float(projects["capacity"].iat[j]) * y[j], f"capacity_{j}"
    return prob
