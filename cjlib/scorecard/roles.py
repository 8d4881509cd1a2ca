"""The role of each journey stage (awareness … advocacy), found from the stage map, not from stage names."""

from __future__ import annotations

from cjlib.stagemap import StageMap
from cjlib.validation import resolve_stage_map

__all__ = ["stage_roles"]


def stage_roles(*, stage_map: StageMap | str | None = None) -> dict[str, str]:
    """The role of each stage: ``awareness``, ``consideration``, ``purchase``, ``retention`` or ``advocacy``.

    Found from the map, not from stage names: the first stage listing a conversion event with ``nth == 1`` is
    *purchase*; the first other stage listing a conversion event — with ``nth > 1`` (a repeat purchase), or
    after the purchase stage (a subscription's ``renew`` after ``subscribe``) — is *retention*; the first
    stage is *awareness* (unless it is the purchase stage), stages before purchase are *consideration* and
    stages after purchase and retention are *advocacy*.

    Parameters
    ----------
    stage_map : StageMap, str or None
        The map, a YAML path, or None for the default map.

    Returns
    -------
    dict
        Stage name → role, in journey order.

    Examples
    --------
    >>> stage_roles()
    {'awareness': 'awareness', 'consideration': 'consideration', 'purchase': 'purchase', 'retention': 'retention', 'advocacy': 'advocacy'}
    """
    sm = resolve_stage_map(stage_map)
    conv = set(sm.conversion_events)
    purchase = next((i for i, s in enumerate(sm.stages) if s.nth == 1 and conv & set(s.events)), None)
    retention = next((i for i, s in enumerate(sm.stages) if conv & set(s.events) and i != purchase
                      and (s.nth > 1 or (purchase is not None and i > purchase))), None)
    last_money = max(i for i in (purchase, retention, -1) if i is not None)
    roles = {}
    for i, s in enumerate(sm.stages):
        if i == purchase:
            role = "purchase"
        elif i == retention:
            role = "retention"
        elif i == 0:
            role = "awareness"
        elif purchase is None or i < purchase:
            role = "consideration"
        elif i > last_money:
            role = "advocacy"
        else:
            role = "consideration"
        roles[s.name] = role
    return roles

