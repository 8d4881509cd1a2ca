"""The report's choices of funnels: steps from a parameter, named journeys, the conversion step, segment columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from cjlib.funnel.matching import _labels, _normalize_steps
from cjlib.stagemap import StageMap, load_stage_map


def parse_steps(text: str) -> list:
    """Steps from a comma-separated parameter: ``"a, b|c, d"`` → ``["a", ["b", "c"], "d"]`` (``[]`` when empty).

    A step written with a trailing ``?`` is optional (``"a, b?, c"``; for alternatives ``"b|c?"``, the
    mark on the last name): the funnel functions read the mark (rules: :mod:`cjlib.funnel`, "Funnel
    options"), so the names keep it here.

    Parameters
    ----------
    text : str
        The parameter's text.

    Returns
    -------
    list
        Names, and lists of names for alternatives.

    Examples
    --------
    >>> parse_steps("product_view, add_to_cart|begin_checkout, event:purchase")
    ['product_view', ['add_to_cart', 'begin_checkout'], 'event:purchase']
    >>> parse_steps("product_view, search?, add_to_cart")
    ['product_view', 'search?', 'add_to_cart']
    """
    out = []
    for part in (x.strip() for x in str(text).split(",")):
        if part:
            alts = [a.strip() for a in part.split("|") if a.strip()]
            out.append(alts if len(alts) > 1 else alts[0])
    return out


def parse_exclude(text: str) -> list:
    """Funnel exclusions from a comma-separated parameter (``[]`` when empty).

    Each item is an event or stage name, ``a|b`` for either, optionally followed by ``@i-j``: only between
    steps ``i`` and ``j`` (1-based, ``i < j``); without it, between any two steps of the funnel.
    ``"support_contact@2-4, payment_error"`` → ``[("support_contact", 2, 4), "payment_error"]``.

    Parameters
    ----------
    text : str
        The ``exclude`` parameter.

    Returns
    -------
    list
        What the funnel functions take as ``exclude``: names (lists for alternatives) and
        ``(names, from_step, to_step)`` tuples.

    Examples
    --------
    >>> parse_exclude("support_contact@2-4, payment_error|login")
    [('support_contact', 2, 4), ['payment_error', 'login']]
    >>> parse_exclude("  ")
    []
    """
    out = []
    for part in (x.strip() for x in str(text or "").split(",")):
        if not part:
            continue
        names, at, span = (x.strip() for x in part.partition("@"))
        alts = [a.strip() for a in names.split("|") if a.strip()]
        if not alts:
            raise ValueError(f"exclude: {part!r} names no event (write NAME, A|B, or NAME@2-3)")
        item = alts if len(alts) > 1 else alts[0]
        if at:
            lo, dash, hi = (x.strip() for x in span.partition("-"))
            if not (dash and lo.isdigit() and hi.isdigit() and 0 < int(lo) < int(hi)):
                raise ValueError(f"exclude: {part!r}: the range after '@' is two step numbers i-j with i < j, "
                                 f"e.g. {names}@2-3")
            item = (item, int(lo), int(hi))
        out.append(item)
    return out


def _journey_error(param: str, name: str, sm: StageMap) -> ValueError:
    where = f" ({sm.source})" if sm.source else ""
    known = ", ".join(sorted(sm.journeys))
    if not known:
        return ValueError(f"{param} {name!r}: the stage map{where} names no journeys (leave {param} empty)")
    return ValueError(f"{param} {name!r} is not a journey of the stage map{where}; its journeys are: {known}")


def resolve_journey(journey: str = "", *, stage_map: StageMap) -> tuple[str, list]:
    """The main funnel's name and steps for a ``journey`` parameter.

    ``""`` means the stage map's ``default_journey``, else every stage in order (named ``"stages"``).
    A name the map does not have raises a one-line :class:`ValueError` naming the map's journeys.

    Parameters
    ----------
    stage_map : StageMap
    journey : str, default ""
        The ``journey`` parameter.

    Returns
    -------
    (name, steps)
    """
    name = (journey or "").strip() or stage_map.default_journey
    if not name:
        return "stages", list(stage_map.stage_names)
    if name not in stage_map.journeys:
        raise _journey_error("journey", name, stage_map)
    return name, list(stage_map.journeys[name].steps)


def resolve_checkout(checkout_journey: str = "", *, stage_map: StageMap) -> tuple[str | None, list | None]:
    """The checkout funnel's name and steps: ``""`` means the map's ``checkout_journey`` role.

    ``(None, None)`` when the parameter is empty and the map declares no checkout journey; a name the map
    does not have raises a one-line :class:`ValueError` naming the map's journeys.

    Parameters
    ----------
    stage_map : StageMap
    checkout_journey : str, default ""
        The ``checkout_journey`` parameter.

    Returns
    -------
    (name, steps) or (None, None)
    """
    name = (checkout_journey or "").strip() or stage_map.checkout_journey
    if not name:
        return None, None
    if name not in stage_map.journeys:
        raise _journey_error("checkout_journey", name, stage_map)
    return name, list(stage_map.journeys[name].steps)


def conversion_step(steps: Sequence, *, stage_map: StageMap | None = None) -> str | None:
    """The label of the first step after step 1 that a conversion event satisfies (an event step naming
    a conversion event, or a stage listing one); ``None`` when no later step does (then there is no
    conversion inside the funnel to time, only the reach of its last step).

    Parameters
    ----------
    steps : list
        Funnel steps (as :func:`cjlib.funnel.funnel` takes them).
    stage_map : StageMap, optional
        Default ``data/stage_map.yml``; its ``conversion_events`` say what converts.

    Returns
    -------
    str or None
        A step label.

    Examples
    --------
    >>> conversion_step(["awareness", "consideration", "purchase", "retention"])
    'purchase'
    >>> conversion_step(["page_view", "product_view"]) is None
    True
    """
    sm = stage_map or load_stage_map()
    norm = _normalize_steps(steps)
    labels = _labels(norm)
    conv = set(sm.conversion_events)
    stages = sm.stage_names

    def converts(name: str) -> bool:
        kind, bare = (name.split(":", 1) if name.startswith(("event:", "stage:")) else ("", name))
        if kind == "stage" or (kind == "" and bare in stages):
            return bool(conv & set(sm.stage(bare).events))
        return bare in conv

    for k in range(1, len(norm)):
        if any(converts(n) for n in norm[k]):
            return labels[k]
    return None


def conversion_target(steps: Sequence, *, stage_map: StageMap | None = None) -> tuple[str, bool]:
    """The step a funnel's time to convert runs to: ``(label, True)`` for its :func:`conversion_step`,
    ``(last step's label, False)`` when no step after step 1 converts.

    Parameters
    ----------
    steps : list
        Funnel steps.
    stage_map : StageMap, optional
        Default ``data/stage_map.yml``.

    Returns
    -------
    (label, converts) : (str, bool)

    Examples
    --------
    >>> conversion_target(["awareness", "consideration", "purchase", "retention"])
    ('purchase', True)
    >>> conversion_target(["page_view", "product_view"])
    ('product_view', False)
    """
    conv = conversion_step(steps, stage_map=stage_map)
    return (conv, True) if conv is not None else (_labels(_normalize_steps(steps))[-1], False)


def segment_columns(by: str, profile, events_columns, customer_columns=()) -> tuple[list[str], list[str]]:
    """The segment columns for a ``segments`` parameter (comma-separated ``by``), and the named ones the data lacks.

    ``""`` means ``profile.segment_candidates`` (the columns 00_journey_map uses). A named column is
    usable when it is an event or customer column, or ``acquisition_channel`` with a ``channel`` column.

    Parameters
    ----------
    by : str
        The ``segments`` parameter: comma-separated column names, ``""`` for the profile's candidates.
    profile : DataProfile
        ``data.profile``.
    events_columns, customer_columns : list of str
        The columns of the event log and of the customer table.

    Returns
    -------
    (usable, missing) : lists of column names
    """
    ev_cols, cu_cols = set(events_columns), set(customer_columns or ())

    def usable(c):
        return c in ev_cols or c in cu_cols or (c == "acquisition_channel" and "channel" in ev_cols)

    wanted = [c.strip() for c in str(by or "").split(",") if c.strip()]
    if not wanted:
        return [c for c in profile.segment_candidates if usable(c)], []
    wanted = list(dict.fromkeys(wanted))
    return [c for c in wanted if usable(c)], [c for c in wanted if not usable(c)]




def report_steps(steps: str = "", journey: str = "", *, stage_map: StageMap, profile=None) -> tuple[str, list]:
    """The main funnel of 03_dropoff: ``("custom", steps)`` for a ``steps`` parameter, else the named journey.

    The default journey (both parameters ``""``) ends, given the data ``profile``, at its last step whose
    events occur in the log (at least two steps kept): a stage no event of the log can signal (a log with no
    review or referral has no advocacy) would read as everybody dropping out before it, which is missing
    data, not a drop-off (:func:`trailing_absent` names the stages left out). A journey or steps given by name
    stay as given.

    Parameters
    ----------
    steps : str
        Comma-separated steps (:func:`parse_steps`); ``""`` uses ``journey``.
    journey : str
        A journey of the stage map (:func:`resolve_journey`); ``""`` is its default journey.
    stage_map : StageMap
    profile : DataProfile, optional
        ``data.profile`` (its ``event_counts``); without it the default journey is kept whole.

    Returns
    -------
    (name, steps)

    Examples
    --------
    >>> from cjlib.stagemap import load_stage_map
    >>> report_steps("product_view, event:purchase", stage_map=load_stage_map())
    ('custom', ['product_view', 'event:purchase'])
    """
    if str(steps or "").strip():
        return "custom", parse_steps(steps)
    name, out = resolve_journey(journey, stage_map=stage_map)
    if profile is not None and not str(journey or "").strip():
        gone = trailing_absent(out, stage_map=stage_map, profile=profile)
        out = out[:len(out) - len(gone)]
    return name, out


def absent_steps(steps: Sequence, *, stage_map: StageMap, profile) -> list[str]:
    """Labels of the steps no event of the log can match: none of a step's event names (a stage's: the stage
    map's events of the stage) occurs in the log.

    A stage reached at an ``nth`` occurrence (retention: a second purchase) is not absent when its events
    occur: nobody doing it twice is an outcome of the data, not missing data.

    Parameters
    ----------
    steps : list
        Funnel steps (as :func:`cjlib.funnel.funnel` takes them).
    stage_map : StageMap
    profile : DataProfile
        ``data.profile``: ``event_counts`` holds the events of the log.

    Returns
    -------
    list of str
        Step labels, in step order.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cjlib.stagemap import load_stage_map
    >>> prof = SimpleNamespace(event_counts={"page_view": 3, "purchase": 2, "review": 0})
    >>> absent_steps(["awareness", "stage:purchase", "retention", "advocacy"], stage_map=load_stage_map(),
    ...              profile=prof)
    ['advocacy']
    """
    seen = {str(k) for k, v in dict(profile.event_counts).items() if v}
    by_stage = {st.name: set(st.events) for st in stage_map.stages}
    names = set(stage_map.stage_names)
    out = []
    for label, step in zip(_labels(_normalize_steps(steps)), _normalize_steps(steps)):
        evs = set()
        for x in step:
            kind, _, bare = x.partition(":") if x.startswith(("event:", "stage:")) else ("", "", x)
            evs |= by_stage[bare] if (kind == "stage" or (not kind and bare in names)) else {bare}
        if not evs & seen:
            out.append(label)
    return out


def trailing_absent(steps: Sequence, *, stage_map: StageMap, profile, keep: int = 2) -> list[str]:
    """Labels of the last steps, after the last one with events in the log, that :func:`absent_steps` finds
    (at most all but ``keep`` steps): what :func:`report_steps` cuts off the default journey.

    Parameters
    ----------
    steps : list
        Funnel steps.
    stage_map : StageMap
    profile : DataProfile
        ``data.profile``.
    keep : int, default 2
        Steps always kept.

    Returns
    -------
    list of str
        Step labels, in step order (empty when the last step has events).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cjlib.stagemap import load_stage_map
    >>> sm = load_stage_map()
    >>> trailing_absent(sm.journeys["purchase"].steps, stage_map=sm, profile=SimpleNamespace(event_counts={"page_view": 1}))
    ['purchase', 'retention', 'advocacy']
    """
    labels = _labels(_normalize_steps(steps))
    gone = set(absent_steps(steps, stage_map=stage_map, profile=profile))
    k = len(labels)
    while k > keep and labels[k - 1] in gone:
        k -= 1
    return labels[k:]


def report_window(window: str, profile) -> str | None:
    """The conversion window of a ``window`` parameter: ``"auto"`` fits the data (``profile.default_window()``),
    ``""`` is unbounded (``None``), anything else is the duration as written.

    Parameters
    ----------
    window : str
        The ``window`` parameter.
    profile : DataProfile
        ``data.profile`` (read only for ``"auto"``).

    Returns
    -------
    str or None

    Examples
    --------
    >>> report_window(" 12h ", None), report_window("", None)
    ('12h', None)
    """
    text = str(window or "").strip()
    return (profile.default_window() if text.lower() == "auto" else text) or None


_COHORT_FREQ = {"week": "W", "month": "MS"}


def cohort_freq(name: str) -> str:
    """The pandas alias of a ``cohort_freq`` parameter: ``"week"`` → ``"W"``, ``"month"`` → ``"MS"``.

    Parameters
    ----------
    name : str
        The ``cohort_freq`` parameter (``"week"`` or ``"month"``, any case).

    Returns
    -------
    str
        ``"W"`` or ``"MS"``.

    Examples
    --------
    >>> cohort_freq("Month"), cohort_freq("week")
    ('MS', 'W')
    """
    key = str(name).strip().lower()
    if key not in _COHORT_FREQ:
        raise ValueError(f"cohort_freq must be one of {list(_COHORT_FREQ)}, got {name!r}")
    return _COHORT_FREQ[key]


@dataclass(frozen=True)
class ReportSegments:
    """The segment columns of 03_dropoff and the events they are read from.

    Attributes
    ----------
    events : DataFrame
        The event log with the customer-level columns joined per customer (customer-table columns and
        ``acquisition_channel``, the customer's first channel); event columns stay as they are.
    columns : list of str
        Usable segment columns (:func:`segment_columns`).
    missing : list of str
        Named columns the data lacks.
    variant : str or None
        The A/B variant column when the data has it.
    """

    events: pd.DataFrame
    columns: list
    missing: list
    variant: str | None


def report_segments(events: pd.DataFrame, *, profile, customers: pd.DataFrame | None = None, by: str = "",
                    variant_column: str = "") -> ReportSegments:
    """The segment columns for a ``segments`` parameter (``by``) and a ``variant_column``, and the events
    with the customer-level ones joined (:func:`cjlib.scorecard.customer_segments`).

    Parameters
    ----------
    events : DataFrame or cjlib.engine.Partitioned
        The loaded event log (a ``Partitioned`` one: the columns are joined partition by partition and the
        returned ``events`` is ``Partitioned`` too).
    profile : DataProfile
        ``data.profile``: ``by=""`` means its segment candidates.
    customers : DataFrame, optional
        Customer attributes.
    by : str
        Comma-separated column names; ``""`` picks the profile's candidates.
    variant_column : str
        The A/B column; ``""`` or a column the data lacks gives ``variant=None``.

    Returns
    -------
    ReportSegments
    """
    from cjlib.funnel import distributed
    from cjlib.scorecard import customer_segments

    cust_cols = list(customers.columns) if customers is not None else []
    ev_cols = distributed.columns(events)
    cols, missing = segment_columns(by, profile, ev_cols, cust_cols)
    has_variant = bool(variant_column) and bool(segment_columns(variant_column, profile, ev_cols, cust_cols)[0])
    variant = variant_column if has_variant else None
    joined = [c for c in cols + ([variant] if variant else []) if c not in ev_cols]
    if joined and distributed.is_partitioned(events):  # joined on the workers; the log stays there
        events = distributed.join_segments(events, joined, customers)
    elif joined:
        events = events.join(customer_segments(events, by=joined, customers=customers), on="customer_id")
    return ReportSegments(events, cols, missing, variant)
