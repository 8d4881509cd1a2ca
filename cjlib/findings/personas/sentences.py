"""The persona report's sentences and chart titles (see :mod:`cjlib.findings.personas`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from cjlib.findings import (
    MIN_GROUP,
    is_number,
    join,
    leader,
    number,
    pct,
    ranking,
    rates_differ,
    see_above,
)
from cjlib.personas.rfm import RFM_SEGMENTS
from cjlib.personas.text import percent
from cjlib.validation import duration

EXCLUDED_WHY = {"id": "an identifier or code, not a quantity", "outcome": "it restates the outcome",
                "experiment": "an A/B assignment, random by design"}

# What each section shows, said only when the section runs (never an explanation over nothing).
METHOD = {
    "k": "Each k from `k_min` to `k_max` is fitted; its silhouette says how well separated the personas are, "
         "its bootstrap adjusted Rand index (ARI) says whether refits on resampled customers find the same "
         "personas. A k is admissible when its smallest persona holds at least 5 % of customers, its mean "
         "ARI is at least 0.8 and its worst refit at least 0.7; among those, k-means takes the highest "
         "silhouette × ARI (a mixture, the lowest BIC). When no k-means k is admissible a Gaussian mixture is "
         "tried, and when none of its k is either, customers are shown in rule-based RFM segments.",
    "profile": "Each cell is the persona's mean minus the mean of all customers, in standard deviations: red "
               "is above average, blue below.",
    "map": "The clustered features projected on their two main directions of variation; each dot is a "
           "customer (a sample of at most 5,000).",
    "journey": "The share of each persona's customers that reached each stage of the journey.",
    "assignments": "Every customer's persona goes to a CSV under `output_dir` for campaign tools; the report "
                   "shows only a few pseudonymized examples.",
}
def cards_method(*, revenue: bool, channel: bool, feedback: bool, inactive: bool = True) -> str:
    """What a persona sheet shows, naming only what this data has (no revenue, channels or satisfaction
    on a log without them).

    Parameters
    ----------
    revenue, channel, feedback : bool
        Whether the data has revenue, channels and feedback; each adds its part of the sheet.
    inactive : bool, default True
        Whether the cards show the share inactive for 90 days (``cards["churn_rate"]`` not all NaN); when
        not, one more sentence says the log is too short for it (:func:`cjlib.personas.result.inactive_shown`).

    Returns
    -------
    str
        The sentence.

    Examples
    --------
    >>> cards_method(revenue=False, channel=False, feedback=False)
    'A persona sheet for marketing: size, who they are, what they do most (the stages that make up most of their events), where they stall (the most common furthest stage short of the last) and the share inactive for 90 days at the last date (a churn proxy).'
    """
    parts = ["size and revenue" if revenue else "size", "who they are",
             "what they do most (the stages that make up most of their events)",
             "where they stall (the most common furthest stage short of the last)"]
    parts += ["their channels"] if channel else []
    parts += ["satisfaction"] if feedback else []
    if not inactive:
        return (f"A persona sheet for marketing: {join(parts)}. The share inactive for 90 days is left out: the "
                f"log spans less than two such windows, so almost nobody could have been inactive that long.")
    parts.append("the share inactive for 90 days at the last date (a churn proxy)")
    return f"A persona sheet for marketing: {join(parts)}."


CLUSTERING = "Persona clustering"  # the section every other section points to when nothing is clustered


def not_clustered(reason: object) -> str:
    """The one sentence that says why no persona is fitted, from :class:`cjlib.personas.NotClusterable`.

    Parameters
    ----------
    reason : object
        The reason (e.g. the :class:`cjlib.personas.NotClusterable` error); its text is used, final period dropped.

    Returns
    -------
    str
        The sentence.

    Examples
    --------
    >>> not_clustered("there is 1 customer; personas need at least 2 customers")
    'there is 1 customer; personas need at least 2 customers, so no persona is shown.'
    """
    return f"{str(reason).strip().rstrip('.')}, so no persona is shown."


def not_shown(section: str) -> str:
    """The pointer under a section heading when nothing was clustered (the reason is said once).

    Parameters
    ----------
    section : str
        The section that is not shown.

    Returns
    -------
    str
        The pointer sentence (:func:`cjlib.findings.see_above`).

    Examples
    --------
    >>> not_shown("persona cards")
    '*Not shown (persona cards):* see why under *Choosing the number of personas* above.'
    """
    return see_above(section, "Choosing the number of personas")
TIE_SD = 0.05  # z-scores closer than this to the largest are a tie


FEATURE_WORDS = {
    "recency_days": "days since the last visit", "n_purchases": "number of purchases", "aov": "order value",
    "tenure_days": "days as a customer", "days_between_purchases": "days between purchases",
    "sessions_per_30d": "visits per month", "events_per_session": "events per visit",
    "purchases_per_session": "purchases per visit", "furthest_stage": "furthest stage reached",
    "monetary": "total spend", "frequency": "repeat purchases", "n_events": "number of events",
    "csat_mean": "satisfaction (CSAT)", "nps_mean": "NPS score", "days_to_first_purchase": "days to a first purchase",
    "days_since_last_purchase": "days since the last purchase",
}


def feature_label(col, *, purchase: bool = True) -> str:
    """A feature column as words a marketer reads: ``days_between_purchases`` → ``days between
    purchases``, ``channel_share_email`` → ``share of email visits``, ``plan=premium`` → ``plan premium``.

    Parameters
    ----------
    col : object
        The feature column name (turned to ``str``).
    purchase : bool, default True
        Whether converting is buying (``PersonaResult.params["purchase"]``); when not, a feature counted
        from conversions says "conversion", not "purchase" (a newsletter sign-up is no purchase).

    Returns
    -------
    str
        The words: from ``FEATURE_WORDS`` when listed, else the name with ``=`` and ``_`` as spaces.

    Examples
    --------
    >>> feature_label("days_between_purchases"), feature_label("channel_share_email"), feature_label("plan=premium")
    ('days between purchases', 'share of email visits', 'plan premium')
    >>> feature_label("purchases_per_session", purchase=False)
    'conversions per visit'
    """
    col = str(col)
    if col in FEATURE_WORDS:
        words = FEATURE_WORDS[col]
        return words if purchase else words.replace("purchase", "conversion").replace("total spend", "revenue")
    if col.startswith("channel_share_"):
        return f"share of {col.removeprefix('channel_share_')} visits"
    return col.replace("=", " ").replace("_", " ")


def two_rates(a, b) -> tuple[str, str] | None:
    """``a`` and ``b`` as percentages that read differently (0 digits, else 1), or ``None`` when they
    print the same even with one decimal (a sentence contrasting them would repeat one number).

    Parameters
    ----------
    a, b : float
        The two rates (0–1); raises :class:`cjlib.findings.Unearned` on NaN/inf/None.

    Returns
    -------
    tuple of (str, str) or None
        The two percentages, or ``None`` when they read the same with one decimal.

    Examples
    --------
    >>> two_rates(0.62, 0.31), two_rates(0.999, 0.996), two_rates(1.0, 0.9996)
    (('62%', '31%'), ('99.9%', '99.6%'), None)
    """
    for digits in (0, 1):
        fa, fb = pct(a, digits), pct(b, digits)
        if fa != fb:  # "<1%" / ">99%" where rounding would say 0 % / 100 % of a share that is not
            return percent(a, digits), percent(b, digits)
    return None


# ------------------------------------------------------------------------------------------ inputs
def data_sentence(n_customers: int, n_events: int, n_features: int, *, has_customers: bool,
                  has_feedback: bool) -> str:
    """The data line: customers, events and features per customer (and which inputs were absent).

    Parameters
    ----------
    n_customers, n_events, n_features : int
        Customers, events, and features per customer.
    has_customers : bool
        Whether a customer table was given; without it the line says "behaviour only".
    has_feedback : bool
        Whether feedback was given; without it the line says "no feedback".

    Returns
    -------
    str
        The ``**Data:**`` sentence.
    """
    def n(count, noun):  # "1 customer", "2 customers"
        return f"{number(count)} {noun}{'' if count == 1 else 's'}"

    return (f"**Data:** {n(n_customers, 'customer')} with {n(n_events, 'event')}; {number(n_features)} "
            f"features per customer{'' if has_customers else ' (no customer table: behaviour only)'}"
            f"{'' if has_feedback else ' (no feedback)'}.")


def excluded_sentence(excluded: Mapping[str, str]) -> str | None:
    """One sentence naming the customer columns left out of the features and why (``None``: none).

    Parameters
    ----------
    excluded : mapping
        Column → ``"id"`` or ``"outcome"`` (:func:`cjlib.features.excluded_attributes`).

    Returns
    -------
    str or None
        The sentence, or ``None`` when no column is left out.

    Examples
    --------
    >>> excluded_sentence({"zip_prefix": "id", "status": "outcome"})
    'Left out of the features: zip_prefix (an identifier or code, not a quantity) and status (it restates the outcome).'
    >>> excluded_sentence({}) is None
    True
    """
    if not excluded:
        return None
    parts = [f"{c} ({EXCLUDED_WHY.get(kind, kind)})" for c, kind in excluded.items()]
    return f"Left out of the features: {join(parts)}."


# --------------------------------------------------------------------------------------- stability
def stability_state(scores: pd.DataFrame, *, rule: str = "") -> str:
    """``"rfm"`` when no k was stable and customers fell back to RFM segments,
    ``"stable"`` when the chosen k is admissible (bootstrap ARI and smallest share pass),
    ``"unchecked"`` when no bootstrap refits were made, else ``"unstable"``.

    Parameters
    ----------
    scores : DataFrame
        ``PersonaResult.scores_`` (columns ``ari_mean``, ``admissible``, ``chosen``).
    rule : str
        ``PersonaResult.rule_``: the rule that chose k (``"rfm: …"`` for the RFM fallback).

    Returns
    -------
    str
    """
    if str(rule).startswith("rfm"):
        return "rfm"
    row = scores.loc[scores["chosen"].astype(bool)]
    if row.empty:
        return "unstable"
    row = row.iloc[0]
    if not is_number(row["ari_mean"]):
        return "unchecked"
    return "stable" if bool(row["admissible"]) else "unstable"


def noun(state: str) -> str:
    """What to call the clusters: ``"personas"`` only when they are stable, ``"segments"`` for the RFM
    fallback, else ``"groups"``.

    Parameters
    ----------
    state : str
        :func:`stability_state` (``"stable"``, ``"rfm"`` or another state).

    Returns
    -------
    str
        ``"personas"``, ``"segments"`` or ``"groups"``.
    """
    return {"stable": "personas", "rfm": "segments"}.get(state, "groups")


def only_one(state: str, then: str = "") -> str:
    """The title of a chart over a single group: it holds every customer, so it compares with nothing
    (RFM rules can put every customer in one segment, e.g. one purchase each at the same instant).

    Parameters
    ----------
    state : str
        :func:`stability_state`; names the group via :func:`noun`.
    then : str
        What follows for the chart at hand (after a comma), or ``""``.

    Returns
    -------
    str
        The title.

    Examples
    --------
    >>> only_one("rfm", "so nothing sets it apart from the average customer")
    'One segment holds every customer, so nothing sets it apart from the average customer'
    """
    return f"One {noun(state)[:-1]} holds every customer" + (f", {then}" if then else "")


def _chosen(scores: pd.DataFrame) -> pd.Series:
    return scores.loc[scores["chosen"].astype(bool)].iloc[0]


def stability_sentence(scores: pd.DataFrame, params: Mapping, *, rule: str = "",
                       tried: Sequence[str] = ("kmeans",), n_groups: int | None = None) -> str:
    """The one sentence on stability: stable personas with their bootstrap ARI, or that no stable set
    of personas was found and the groups shown are not stable.

    Parameters
    ----------
    scores : DataFrame
        ``PersonaResult.scores_``.
    params : mapping
        ``PersonaResult.params`` (``k``, ``k_range``, ``min_stability``, ``min_share``).
    rule : str
        ``PersonaResult.rule_``.
    tried : sequence of str
        ``PersonaResult.tried_``: the methods scored (named when no k was stable).
    n_groups : int, optional
        ``PersonaResult.k_``: with the RFM fallback, 1 says that one segment holds every customer.

    Returns
    -------
    str
    """
    state = stability_state(scores, rule=rule)
    bar, share = params.get("min_stability", 0.8), params.get("min_share", 0.05)
    worst = params.get("min_stability_worst", 0.0)
    if state == "rfm":
        lo, hi = params.get("k_range", (int(scores.index.min()), int(scores.index.max())))
        how = " or ".join({"kmeans": "k-means", "gmm": "a Gaussian mixture"}[m]
                          for m in (tried or ("kmeans",)))
        return (f"No stable set of personas was found: no number of groups from {lo} to {hi} with {how} passes "
                f"the stability bar (bootstrap refits reproducing the groups at a mean ARI of at least "
                f"{bar:.2f} and at worst {worst:.2f}, every group holding at least {share:.0%} of customers), "
                f"so customers are shown in transparent rule-based RFM segments instead"
                + (", and here every customer falls in one segment (definition below)." if n_groups == 1
                   else " (definitions below)."))
    row = _chosen(scores)
    k = int(row.name)
    agree = ""
    if is_number(row["ari_mean"]) and is_number(row["ari_min"]):
        agree = f"bootstrap refits agree at ARI {number(row['ari_mean'], '.2f')} on average, " \
                f"{number(row['ari_min'], '.2f')} at worst"
    if state == "stable":
        return f"The {k} personas are stable: {agree}."
    if state == "unchecked":
        return (f"The stability of the {k} groups was not checked (no bootstrap refits), so they are shown "
                f"as groups, not as stable personas.")
    fixed = not isinstance(params.get("k", "auto"), str)
    if fixed:
        tried = f"the {k} groups asked for (k = {k}) do not pass"
    else:
        lo, hi = params.get("k_range", (int(scores.index.min()), int(scores.index.max())))
        tried = f"no number of groups from {lo} to {hi} passes"
    return (f"No stable set of personas was found: {tried} the stability bar (bootstrap refits reproducing "
            f"the groups at a mean ARI of at least {bar:.2f}, every group holding at least {share:.0%} of "
            f"customers), so the {k} groups shown are not stable and should not be read as personas"
            f"{' (' + agree + ')' if agree else ''}.")


def rfm_sentence(*, revenue: bool) -> str:
    """How the RFM fallback scores customers; without revenue it says the segments are RF segments.

    Parameters
    ----------
    revenue : bool
        Whether the log has revenue (RFM) or not (RF only).

    Returns
    -------
    str
        The sentence.

    Examples
    --------
    >>> rfm_sentence(revenue=False).startswith("These are RF segments")
    True
    """
    if revenue:
        return ("Each customer is scored 1–5 on recency (R), frequency (F: purchases) and monetary value "
                "(M: revenue) by quintile of their rank among all customers (equal values share a score); the "
                "first definition below that a customer meets names their segment.")
    return ("These are RF segments: the log has no revenue, so each customer is scored from one to five on "
            "recency (R) and frequency (F: purchases) only, by quintile of their rank among all customers (equal "
            "values share a score); the first definition below that a customer meets names their segment.")


def k_title(scores: pd.DataFrame, *, rule: str = "", n_groups: int | None = None) -> str:
    """Title of the k-selection chart: the chosen k, its silhouette and its bootstrap agreement.

    Parameters
    ----------
    scores : DataFrame
        ``PersonaResult.scores_``.
    rule : str
        ``PersonaResult.rule_``.
    n_groups : int, optional
        ``PersonaResult.k_``: with the RFM fallback, 1 says "one RFM segment".

    Returns
    -------
    str
    """
    state = stability_state(scores, rule=rule)
    if state == "rfm":
        return ("No number of personas is stable, so customers are shown in "
                + ("one RFM segment" if n_groups == 1 else "RFM segments"))
    row = _chosen(scores)
    k, what = int(row.name), noun(state)
    parts = []
    if is_number(row["silhouette"]):
        parts.append(f"silhouette {number(row['silhouette'], '.2f')}")
    if is_number(row["ari_mean"]) and is_number(row["ari_min"]):
        parts.append(f"refits agree at ARI {number(row['ari_mean'], '.2f')} on average "
                     f"(worst {number(row['ari_min'], '.2f')})")
    else:
        parts.append("stability not checked")
    return f"{k} {what}: {', '.join(parts)}"


def k_sentence(scores: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], *,
               rule: str = "", left_out: Mapping[str, str] | None = None) -> str:
    """Which k was chosen by which rule, the features clustered on, and the attributes that were not.

    Parameters
    ----------
    scores : DataFrame
        ``PersonaResult.scores_``.
    numeric, categorical : sequence of str
        The columns clustered on (``PersonaResult.columns_``).
    rule : str
        ``PersonaResult.rule_`` (``"chosen"`` when empty).
    left_out : mapping, optional
        ``PersonaResult.left_out_``: attribute → why it was not clustered on (e.g. ``"30 values, more than
        the 20 a column may have"``); named in one more sentence.

    Returns
    -------
    str
    """
    cols = _listed(list(numeric) + list(categorical))
    tail = f" {unclustered_sentence(left_out)}" if left_out else ""
    if stability_state(scores, rule=rule) == "rfm":
        return (f"Tried clustering on {len(numeric)} numeric feature(s) and {len(categorical)} categorical "
                f"attribute(s): {', '.join(map(str, cols))}.{tail}")
    row = _chosen(scores)
    return (f"**k = {int(row.name)}** ({rule or 'chosen'}). Clustered on {len(numeric)} "
            f"numeric feature(s) and {len(categorical)} categorical attribute(s): {', '.join(map(str, cols))}."
            f"{tail}")


MAX_CHANNELS_LISTED = 5  # more channel-share columns are counted in one item, not listed


def _listed(cols: list) -> list[str]:
    """The clustered columns as listed in :func:`k_sentence`: more than :data:`MAX_CHANNELS_LISTED`
    ``channel_share_*`` columns become one item where the first stood (hotel: forty channel names, one
    of 200 characters, made the sentence unreadable)."""
    chan = [c for c in cols if str(c).startswith("channel_share_")]
    if len(chan) <= MAX_CHANNELS_LISTED:
        return [str(c) for c in cols]
    out = []
    for c in cols:
        if c == chan[0]:
            out.append(f"the share of visits from each of {len(chan)} channels")
        elif c not in chan:
            out.append(str(c))
    return out


def unclustered_sentence(left_out: Mapping[str, str]) -> str | None:
    """The customer attributes the clustering left out and why (``None`` when it left none out).

    Parameters
    ----------
    left_out : mapping
        ``PersonaResult.left_out_``: column → why.

    Returns
    -------
    str or None
        The sentence.

    Examples
    --------
    >>> unclustered_sentence({"country": "30 values, more than the 20 a column may have", "since": "a date"})
    'Not clustered on: country (30 values, more than the 20 a column may have) and since (a date).'
    """
    if not left_out:
        return None
    return f"Not clustered on: {join([f'{c} ({why})' for c, why in left_out.items()])}."


# ------------------------------------------------------------------------------------------ titles
def heatmap_title(z: pd.DataFrame, features: Sequence[str], sizes: Mapping | pd.Series, *,
                  state: str = "stable", min_size: int = MIN_GROUP, purchase: bool = True) -> str:
    """Title of the profile heatmap: the one persona and feature furthest from the average.

    Only personas of at least ``min_size`` customers may be named; when several cells tie for the
    largest distance (within :data:`TIE_SD`) the title names only the feature they share, or nothing.

    Parameters
    ----------
    z : DataFrame
        Persona (index, names) × feature z-scores.
    features : sequence of str
        The columns shown.
    sizes : mapping or Series
        Customers per persona name.
    state : str
        :func:`stability_state`; names the clusters via :func:`noun` (default ``"stable"``).
    min_size : int
        Smallest persona that may be named (default ``MIN_GROUP``, 30).
    purchase : bool, default True
        Whether converting is buying (``PersonaResult.params["purchase"]``): :func:`feature_label`'s words.

    Returns
    -------
    str
        The title naming the persona and feature (or the shared feature) when earned, else the neutral title.
    """
    what = noun(state)
    if len(z) == 1:  # one group holds every customer: it is the average
        return only_one(state, "so nothing sets it apart from the average customer")
    neutral = f"How each of the {len(z)} {what} differs from the average customer (in standard deviations)"
    cols = [c for c in features if c in z.columns]
    size = pd.Series(sizes, dtype=float).reindex(z.index).fillna(0)
    zz = z.loc[size.to_numpy() >= min_size, cols].astype(float)
    if zz.empty or not cols:
        return neutral
    a = zz.abs()
    top = a.max().max()
    if not is_number(top) or top == 0:
        return neutral
    cells = [(p, f) for p in a.index for f in a.columns if a.loc[p, f] >= top - TIE_SD]
    if len(cells) == 1:
        p, f = cells[0]
        return f"{p} stand out most on {feature_label(f, purchase=purchase)} ({zz.loc[p, f]:+.1f} SD)"
    feats = {f for _, f in cells}
    if len(feats) == 1:
        return (f"The {what} differ most on {feature_label(feats.pop(), purchase=purchase)} (up to {top:.1f} SD "
                f"from the average)")
    return neutral


def cards_title(cards: pd.DataFrame, *, has_revenue: bool, state: str = "stable",
                min_size: int = MIN_GROUP) -> str:
    """Title of the persona cards: the persona bringing the largest revenue share (with revenue), or
    the largest persona (without); a neutral title on a tie or when every persona is small.

    Parameters
    ----------
    cards : DataFrame
        ``PersonaResult.cards()`` (``name``, ``customers``, ``share``, ``revenue_share``).
    has_revenue : bool
        Whether to lead by revenue share (when the column is present) rather than by size.
    state : str
        :func:`stability_state`; names the clusters via :func:`noun` (default ``"stable"``).
    min_size : int
        Smallest persona that may be named (default ``MIN_GROUP``, 30).

    Returns
    -------
    str
        The title naming the leading persona when earned, else the neutral title.
    """
    what = noun(state)
    c = cards.set_index("name")
    if len(c) == 1:
        return only_one(state)
    neutral = f"The {len(c)} {what}: size" + (" and revenue share" if has_revenue else "")
    if has_revenue and "revenue_share" in c:
        top = leader(c["revenue_share"], c["customers"], min_size=min_size)
        if top is not None:
            name, rev = top
            return f"{name}: {percent(c.loc[name, 'share'])} of customers bring {percent(rev)} of revenue"
        return neutral
    top = leader(c["share"], c["customers"], min_size=min_size)
    if top is not None:
        return f"{top[0]}: {percent(top[1])} of customers, the largest of the {what}"
    return neutral


def map_title(k: int, explained: Sequence[float], *, state: str = "stable") -> str:
    """Title of the 2-D map (the share of variance the two axes show).

    Parameters
    ----------
    k : int
        Number of clusters.
    explained : sequence of float
        Share of variance each of the two axes explains; an empty sequence leaves the share out.
    state : str
        :func:`stability_state`; names the clusters via :func:`noun` (default ``"stable"``).

    Returns
    -------
    str
        The title.
    """
    what = noun(state)
    total = sum(float(v) for v in explained) if explained else float("nan")
    shown = f" ({percent(total)} of the variance shown)" if is_number(total) else ""
    if k == 1:  # one colour: the map shows how customers spread, not how groups separate
        return only_one(state, "so the map shows only how customers spread on the two main axes of "
                               f"variation{shown}")
    return f"{k} {what} on the two main axes of variation{shown}"


def journey_title(journey: pd.DataFrame, stage: str | None, sizes: Mapping | pd.Series, *,
                  state: str = "stable", min_size: int = MIN_GROUP) -> str:
    """Title of the journey-per-persona chart: who reaches ``stage`` most and least often.

    Only earned sides are named (:func:`cjlib.findings.ranking`: no tie, groups of ``min_size``; most
    against least only when they differ beyond chance); RFM segments (``state="rfm"``) are defined by
    purchases, so who reaches the conversion stage is never compared (it restates the definition); when
    every persona reaches the stage at the same rate the title says so; otherwise it is neutral.

    Parameters
    ----------
    journey : DataFrame
        Persona (index) × stage: the share reaching the stage.
    stage : str or None
        The stage compared (the stage map's conversion stage); ``None`` gives the neutral title.
    sizes : mapping or Series
        Customers per persona.
    state : str
        :func:`stability_state`; names the clusters via :func:`noun` (default ``"stable"``).
    min_size : int
        Smallest persona that may be named (default ``MIN_GROUP``, 30).

    Returns
    -------
    str
        The title naming the earned most/least side(s), the same-rate title, or the neutral title.
    """
    one = noun(state)[:-1]
    if len(journey) == 1:
        return only_one(state, "so this is the share of all customers reaching each stage")
    neutral = f"Share of each {one}'s customers reaching each stage"
    if stage is None or stage not in journey.columns:
        return neutral
    if state == "rfm":  # "Prospects reach booked least often (0%)" restates what a Prospect is
        return f"{neutral} (whether they reached {stage} is how the segments are defined, so it is not compared)"
    vals = journey[stage].astype(float)
    r = ranking(vals, sizes, min_size=min_size)
    if r is None:
        v = vals.dropna()
        if len(v) >= 2 and v.nunique() == 1:
            return f"Every {one} reaches {stage} at the same rate ({percent(v.iloc[0])})"
        return neutral
    n = pd.Series(sizes, dtype=float)
    if r.best is not None and r.worst is not None:
        rates = two_rates(r.best_value, r.worst_value)
        if rates is not None and rates_differ(r.best_value, n.get(r.best, 0), r.worst_value, n.get(r.worst, 0)):
            return f"{rates[0]} of {r.best} reach {stage}, against {rates[1]} of {r.worst}"
        return neutral
    if r.best is not None:
        return f"{r.best} reach {stage} most often ({percent(r.best_value)})"
    if r.worst is not None:
        return f"{r.worst} reach {stage} least often ({percent(r.worst_value)})"
    return neutral


# ------------------------------------------------------------------------------------------ findings
#: RFM segments whose definition says recent (R ≥ 3 or 4): a rank among the buyers, which on a log of rare
#: purchases (bookings) holds customers idle for months — said where most of the segment is inactive
_RECENT_RFM = frozenset(name for name, text, _ in RFM_SEGMENTS if "R ≥" in text)


def card_lines(cards: pd.DataFrame, *, has_revenue: bool, inactive_window: str | pd.Timedelta = "90D") -> list[str]:
    """One Markdown bullet per persona card; parts whose value is undefined are left out.

    Parameters
    ----------
    cards : DataFrame
        ``PersonaResult.cards()``.
    has_revenue : bool
        Whether the log carries revenue (``data.profile.supports("revenue")``); without it no revenue
        share is written.
    inactive_window : str or Timedelta, default "90D"
        The inactivity span ``cards.churn_rate`` counts (the one given to ``cards()``).

    Returns
    -------
    list of str
        One bullet per card; the channel part is left out when every persona comes through the same single
        channel (it would set none apart).
    """
    window = duration("inactive_window", inactive_window, allow_none=False)
    inactive = f"{window.days} days" if window == pd.Timedelta(days=window.days) else str(window)
    lines = []
    chans = [c for c in cards.get("preferred_channels", pd.Series(dtype=object)) if isinstance(c, str) and c]
    # one channel for every persona (a log with one channel): "come through direct" sets no persona apart
    same = len(cards) > 1 and len(chans) == len(cards) and len(set(chans)) == 1 and "," not in chans[0]
    for _, r in cards.iterrows():
        line = f"- **{r['name']}**: {percent(r['share'])} of customers"
        if has_revenue and is_number(r.get("revenue_share")):
            line += f", {percent(r['revenue_share'])} of revenue"
        if is_number(r.get("conversion_rate")):
            line += f", {percent(r['conversion_rate'])} convert at least once"
        if isinstance(r.get("preferred_channels"), str) and r["preferred_channels"] and not same:
            line += f"; come through {r['preferred_channels']}"
        if isinstance(r.get("pain_point"), str) and r["pain_point"]:
            line += f"; {r['pain_point']}"
        if is_number(r.get("churn_rate")):
            line += f"; {percent(r['churn_rate'])} inactive for {inactive}"
            if r["name"] in _RECENT_RFM and r["churn_rate"] > 0.5:  # "recent" by rank, mostly idle
                line += (f" (an RFM segment's recency is a rank among the buyers, not activity within "
                         f"{inactive})")
        lines.append(line + ".")
    return lines
