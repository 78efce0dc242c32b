"""The same analysis at every training budget: the runs that repeat an analysed run for longer or shorter.

The analyses draw their figures from the runs `analysis.*` names; docs/claims.md judges every claim at every
budget the scale trains. A run's budget twin trains the same model on the same dataset with the same recipe
and evaluation, differing only in its number of steps (`fashion-base` and `fashion-base-long` at the small
scale). The analysis stages compute each twin's per-seed data beside the named runs' and store it under
`budget/<images>/` in their .npz (with `budget/<images>/runs`, role -> run as JSON); the report judges the
figure claims at each budget from it.
"""

from __future__ import annotations

from dataclasses import replace

from cips.scale import Params


def images(params: Params, run: str) -> int:
    """Run `run`'s training budget in images (steps x batch)."""
    train = params.run(params.members_of(run)[0]).train
    return train.steps * train.batch


def budget_twins(params: Params, run: str) -> dict[int, str]:
    """Budget (images) -> the run that trains `run`'s model, dataset, recipe and evaluation for that many
    images: `run` itself at its own budget, the first such run of the scale at each other one."""
    ref = params.run(params.members_of(run)[0])
    out = {images(params, run): run}
    for other in params.runs:
        cfg = params.run(params.members_of(other)[0])
        if ((cfg.dataset, cfg.model, cfg.eval) == (ref.dataset, ref.model, ref.eval)
                and replace(cfg.train, steps=0) == replace(ref.train, steps=0)):
            out.setdefault(images(params, other), other)
    return out


def other_budgets(params: Params, roles: dict[str, str]) -> dict[int, dict[str, str]]:
    """Budget (images) -> role -> run, for every budget other than the named runs' own at which each of
    `roles`' runs (role -> run) has a twin; roles without one there are left out of that budget."""
    own = {images(params, run) for run in roles.values()}
    out: dict[int, dict[str, str]] = {}
    for role, run in roles.items():
        for budget, twin in budget_twins(params, run).items():
            if budget not in own:
                out.setdefault(budget, {})[role] = twin
    return dict(sorted(out.items()))


def prefix(budget: int) -> str:
    """The .npz key prefix of one budget's data."""
    return f"budget/{budget}/"
