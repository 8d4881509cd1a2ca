"""What a visit from each channel does: per stage transition, how much more often a visit from a channel
moves a customer to the next stage than an average visit by similar customers (a Poisson model with
segment and channel factors), and the segments (personas, a column) the report compares visits within.

Attribution models (:mod:`cjlib.attribution`) share out conversions; this module estimates effects.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.attribution.distributed import (
    in_customer_order,
    is_partitioned,
    log_columns,
    log_customers,
    session_kernel,
)
from cjlib.attribution.paths import _parse_stage, _stage_map
from cjlib.attribution.stages import stage_transitions
from cjlib.io import ensure_sorted
from cjlib.journeys import assign_stages, customer_starts, session_keys

MIN_ADVANCED = 30  # fewest advancing visits a transition's channel effects are compared from


def _two_way_poisson(seg: np.ndarray, ch: np.ndarray, y: np.ndarray, n_seg: int, n_ch: int,
                     tol: float = 1e-10, max_iter: int = 1000) -> np.ndarray:
    """Channel factors of the Poisson model ``E[y] = exp(a_segment + b_channel)`` (maximum likelihood).

    Alternates the two closed-form score equations (iterative proportional fitting): each segment's
    factor matches its observed total given the channel factors, and each channel's factor matches its
    observed total given the segment factors. Returns ``exp(b)`` scaled so the session-weighted mean is 1.
    """
    y_seg = np.bincount(seg, y, n_seg)
    y_ch = np.bincount(ch, y, n_ch)
    n_per_ch = np.bincount(ch, minlength=n_ch).astype(float)
    eb = np.ones(n_ch)
    for _ in range(max_iter):
        ea = y_seg / np.maximum(np.bincount(seg, eb[ch], n_seg), 1e-300)
        new = y_ch / np.maximum(np.bincount(ch, ea[seg], n_ch), 1e-300)
        new /= np.average(new, weights=n_per_ch)
        if np.max(np.abs(new - eb)) < tol:
            eb = new
            break
        eb = new
    return np.where(n_per_ch > 0, eb, np.nan)  # a channel without sessions has no effect to speak of


def _session_table(events: pd.DataFrame, sm, touch_col: str, by) -> pd.DataFrame:
    """One row per session with a touch: customer, channel, furthest stage before and at its end, segment."""
    ev = ensure_sorted(events)
    if touch_col not in ev.columns:
        raise ValueError(f"touch_col {touch_col!r} is not a column of events")
    code = assign_stages(ev, stage_map=sm).cat.codes.to_numpy().astype(np.int64)
    cust = np.cumsum(customer_starts(ev)) - 1
    # furthest stage reached so far: a running maximum that restarts at each customer
    furthest = np.maximum.accumulate(code + (len(sm.stage_names) + 1) * cust) - (len(sm.stage_names) + 1) * cust
    before = np.r_[-1, furthest[:-1]]
    before[customer_starts(ev)] = -1
    # per session (numbered in order of first appearance, one customer each), with numpy rather than a
    # groupby over string columns: its first row, the furthest stage at its end, its first non-missing touch
    sess = session_keys(ev).to_numpy()
    n, n_sess = len(ev), (int(sess.max()) + 1 if len(ev) else 0)
    rows = np.arange(n, dtype=np.int64)
    first_row = np.full(n_sess, n, dtype=np.int64)
    np.minimum.at(first_row, sess, rows)
    after = np.full(n_sess, -1, dtype=np.int64)
    np.maximum.at(after, sess, furthest)
    touched = np.flatnonzero(ev[touch_col].notna().to_numpy())
    touch_row = np.full(n_sess, n, dtype=np.int64)
    np.minimum.at(touch_row, sess[touched], touched)
    keep = np.flatnonzero(touch_row < n)  # sessions with a touch, in session order
    out = pd.DataFrame({"customer_id": ev["customer_id"].take(first_row[keep]).to_numpy(),
                        "before": before[first_row[keep]], "after": after[keep],
                        "channel": ev[touch_col].take(touch_row[keep]).astype("string").to_numpy()},
                       index=pd.Index(keep, name="session"))
    if by is None:
        out["segment"] = "all"
    elif isinstance(by, str):
        if by not in ev.columns:
            raise ValueError(f"by {by!r} is not a column of events; pass a Series of "
                             "segment labels indexed by customer_id, or None")
        first = ev.groupby("customer_id", sort=False)[by].first()
        out["segment"] = first.reindex(out["customer_id"]).to_numpy()
    else:
        labels = pd.Series(by)
        out["segment"] = labels.reindex(out["customer_id"]).to_numpy()
    return out[out["segment"].notna()].reset_index(drop=True)


def _sessions(events, sm, touch_col: str, by) -> pd.DataFrame:
    """:func:`_session_table` of a pandas log, or of a partitioned one: each partition's sessions (a column
    ``by`` read there), concatenated in the in-process order; labels per customer are joined here."""
    if not is_partitioned(events):
        return _session_table(events, sm, touch_col, by)
    cols = log_columns(events)
    if touch_col not in cols:
        raise ValueError(f"touch_col {touch_col!r} is not a column of events")
    col = by if isinstance(by, str) else None
    if col is not None and col not in cols:
        raise ValueError(f"by {by!r} is not a column of events; pass a Series of "
                         "segment labels indexed by customer_id, or None")
    from cjlib import engine

    table = in_customer_order(engine.run(events, session_kernel, stage_map=sm, touch_col=touch_col, by=col))
    if by is None or isinstance(by, str):
        return table
    table["segment"] = pd.Series(by).reindex(table["customer_id"]).to_numpy()
    return table[table["segment"].notna()].reset_index(drop=True)


def channel_effects(
    events: pd.DataFrame,
    *,
    by: str | pd.Series | None = None,
    transitions: Sequence[str | tuple[str, str]] | None = None,
    stage_map=None,
    touch_col: str = "channel",
    n_boot: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """How much more likely a visit from each channel moves a customer to the next stage, adjusted for who
    uses the channel.

    Attribution models share out conversions; they do not say what a channel *does*, and they are
    confounded by who uses it: if loyal buyers arrive by email, email gets credit their loyalty earned.
    This estimator answers the causal-style question per stage transition *source → target*:

    - the units are sessions (visits) with a touch, of customers whose furthest stage at the start of the
      session is *source* (for the first transition: nothing reached yet, or the first stage);
    - a session *advances* when the customer's furthest stage at its end is *target* or beyond;
    - the channel of a session is its first non-missing ``touch_col`` value;
    - the model is Poisson with multiplicative segment and channel factors,
      ``E[advanced] = exp(a_segment + b_channel)``, fitted by maximum likelihood (iterative proportional
      fitting), so each channel is compared with other channels *within the same segment*
      (``by``: a customer-level column of ``events``, or a Series of labels indexed by customer, e.g.
      personas from :func:`cjlib.personas.fit_personas`; ``None`` gives plain rate ratios);
    - ``effect`` is the channel factor scaled so the session-weighted average is 1: 1.3 means a visit from
      that channel advances customers 30 % more often than an average visit by similar customers.

    Parameters
    ----------
    events : DataFrame or Partitioned
        Event log (ordered by customer and time, or it is sorted), or shuffled onto a cluster
        (:class:`cjlib.engine.Partitioned`: the workers build the session table, the model runs here on it,
        so the result equals the in-process one).
    by : str, Series or None
        Segments to compare within (see above).
    transitions : sequence, optional
        ``"source>target"`` strings or tuples; default every consecutive pair of stages.
    stage_map : StageMap or path, optional
    touch_col : str, default "channel"
    n_boot : int, default 0
        Bootstrap replicates over customers for ``lower``/``upper`` (percentile intervals); 0 skips them.
    seed : int, default 0
    confidence : float, default 0.95
        Coverage of the percentile intervals.

    Returns
    -------
    DataFrame
        ``transition, channel, sessions, advanced, rate, effect, effect_unadjusted, compared`` (+ ``lower,
        upper`` with ``n_boot``), channels sorted by effect within each transition.
        ``compared`` counts the channel's sessions in segments where another channel also has sessions: only
        those separate the channel's effect from its segment's (a channel whose customers are all of segments
        no other channel reaches has ``compared == 0`` and an ``effect`` the data cannot identify).
    """
    sm = _stage_map(stage_map)
    names = sm.stage_names
    pairs = [_parse_stage(t, sm) for t in (transitions or stage_transitions(stage_map=sm))]
    table = _sessions(events, sm, touch_col, by)
    rng = np.random.default_rng(seed)
    rows = []
    for src, tgt in pairs:
        i, j = names.index(src), names.index(tgt)
        pop = table[(table["before"] == i) | ((table["before"] < 0) & (i == 0))]
        if pop.empty:
            continue
        y = (pop["after"].to_numpy() >= j).astype(float)
        seg, _ = pd.factorize(pop["segment"], sort=True)
        ch, chn = pd.factorize(pop["channel"], sort=True)
        n_seg, n_ch = seg.max() + 1, len(chn)
        effect = _two_way_poisson(seg, ch, y, n_seg, n_ch)
        sessions = np.bincount(ch, minlength=n_ch)
        advanced = np.bincount(ch, y, n_ch)
        rate = advanced / np.maximum(sessions, 1)
        # sessions in segments where another channel also has visits: only those compare channels
        pairs_sc = np.unique(seg.astype(np.int64) * n_ch + ch)
        mixed = np.bincount(pairs_sc // n_ch, minlength=n_seg) > 1
        res = pd.DataFrame({"transition": f"{src} > {tgt}", "channel": chn.astype(str), "sessions": sessions,
                            "advanced": advanced.astype(np.int64), "rate": rate, "effect": effect,
                            "effect_unadjusted": rate / y.mean() if y.mean() > 0 else np.nan,
                            "compared": np.bincount(ch, mixed[seg].astype(float), n_ch).astype(np.int64)})
        if n_boot:
            cust_codes, _ = pd.factorize(pop["customer_id"])
            n_cust = cust_codes.max() + 1
            order = np.argsort(cust_codes, kind="stable")
            starts = np.searchsorted(cust_codes[order], np.arange(n_cust))
            sizes = np.bincount(cust_codes, minlength=n_cust)
            boots = np.empty((n_boot, n_ch))
            for b in range(n_boot):
                pick = rng.integers(0, n_cust, n_cust)
                rows_b = order[np.repeat(starts[pick], sizes[pick]) + _ranges(sizes[pick])]
                boots[b] = _two_way_poisson(seg[rows_b], ch[rows_b], y[rows_b], n_seg, n_ch)
            alpha = (1 - confidence) / 2
            res["lower"], res["upper"] = np.nanquantile(boots, alpha, axis=0), np.nanquantile(boots, 1 - alpha, axis=0)
        rows.append(res.sort_values("effect", ascending=False, kind="stable"))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["transition", "channel", "sessions", "advanced", "rate", "effect", "effect_unadjusted", "compared"])
    return out


def _ranges(sizes: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(size)`` for each size: [2, 3] → [0, 1, 0, 1, 2]."""
    ends = np.cumsum(sizes)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - sizes, sizes)


def shown_effects(effects: pd.DataFrame, min_sessions: int, *,
                  min_advanced: int = MIN_ADVANCED) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The :func:`channel_effects` rows a report can show.

    A channel needs ``min_sessions`` sessions; a transition is shown when visits from at least two such
    channels advance customers (otherwise there is nothing to compare) and those channels' visits advance
    customers ``min_advanced`` times or more in all: effects from a handful of advances (a log where the
    next stage is reached in a later visit without a touch, weeks after the searches) are noise, and a
    channel of no advance among them would read as "0×".

    Parameters
    ----------
    effects : DataFrame
        :func:`channel_effects` output.
    min_sessions : int
        Fewest sessions a channel needs to be shown.
    min_advanced : int, default MIN_ADVANCED
        Fewest advancing visits (of the channels shown) a transition needs.

    Returns
    -------
    (DataFrame, list of str, list of str)
        The rows shown, the transitions shown, and the transitions left out, in the input's order.

    Examples
    --------
    >>> e = pd.DataFrame({"transition": ["a > b"] * 3 + ["b > c"] * 2, "channel": ["x", "y", "z", "x", "y"],
    ...                   "sessions": [500, 400, 20, 800, 900], "advanced": [40, 10, 5, 3, 2]})
    >>> rows, shown, left = shown_effects(e, 100)
    >>> list(rows["channel"]), shown, left
    (['x', 'y'], ['a > b'], ['b > c'])
    """
    big = effects[effects["sessions"] >= min_sessions]
    moving = [t for t, fr in big.groupby("transition", sort=False)
              if (fr["advanced"] > 0).sum() > 1 and fr["advanced"].sum() >= min_advanced]
    skipped = [t for t in pd.unique(effects["transition"]) if t not in moving]
    return big[big["transition"].isin(moving)].reset_index(drop=True), moving, skipped


@dataclass(frozen=True)
class Adjustment:
    """What :func:`channel_effects` compares visits within.

    Attributes
    ----------
    by : str, Series or None
        Passed to :func:`channel_effects` as ``by``: a column of the events, labels per customer, or None.
    label : str
        How a finding names it ("4 personas", "device", "nothing (plain rate ratios)").
    note : str
        One sentence on why the requested adjustment fell back to none ('' when it did not).
    names : tuple of str
        The persona (or RFM segment) names in persona order when adjusted for the run's personas.
    """

    by: object
    label: str
    note: str = ""
    names: tuple = ()


NO_ADJUSTMENT = "nothing (plain rate ratios)"


def _unadjusted(why: str) -> Adjustment:
    """No adjustment, with the one clause saying why (shared by the persona paths of :func:`adjustment`)."""
    return Adjustment(None, NO_ADJUSTMENT, f"{why}, so visits are compared without adjustment")


def _run_personas(events, data, output_dir, personas, seed, min_customers) -> Adjustment:
    """Adjust for the run's shared personas (see :func:`adjustment`)."""
    n = len(log_customers(events))
    if n < min_customers:
        return _unadjusted(f"personas are not fitted on {n:,} customers (fewer than {min_customers})")
    from cjlib.personas import personas_for

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shared = personas if personas is not None else personas_for(data, output_dir=output_dir, seed=seed)
    except ValueError as exc:
        return _unadjusted(f"personas cannot be fitted on this log ({exc})")
    if shared.state not in ("stable", "rfm"):
        return Adjustment(None, NO_ADJUSTMENT, "no stable set of personas was found on this log, so visits are "
                          "compared without adjustment")
    return Adjustment(shared.persona.astype(str), shared.label, names=tuple(shared.names))


MIN_PERSONA_CUSTOMERS = 100


def adjustment(events: pd.DataFrame, by: str, *, customers: pd.DataFrame | None = None,
               features: pd.DataFrame | None = None, seed: int = 0,
               min_customers: int = MIN_PERSONA_CUSTOMERS, data=None, output_dir: str = "",
               personas=None) -> Adjustment:
    """Resolve a report's ``adjust_for`` parameter (``by``) into segments for :func:`channel_effects`.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The event log (pandas, or shuffled onto a cluster).
    by : str
        ``"persona"`` (fitted here from ``features``), a column of ``events`` or ``customers``, or ``""``.
    customers : DataFrame, optional
    features : DataFrame, optional
        :func:`cjlib.features.customer_features` of the customers, for ``"persona"``.
    seed : int
    min_customers : int, default 100
        Personas are fitted only for at least this many customers.
    data, output_dir, personas :
        The run's personas (one model per run): ``personas`` (a :class:`cjlib.personas.SharedPersonas`),
        else :func:`cjlib.personas.personas_for` on ``data`` (01's assignments in ``output_dir`` when
        present, else 01's deterministic fit). Stable personas and RFM segments adjust; unstable groups
        do not. Without either, personas are fitted here from ``features`` (the former behaviour).

    Returns
    -------
    Adjustment
        Personas only when the fit succeeds with a stable solution (bootstrap ARI, as in 01); otherwise
        no adjustment, with a ``note`` saying why.

    Raises
    ------
    ValueError
        ``by`` is none of the above.
    """
    if not by:
        return Adjustment(None, NO_ADJUSTMENT)
    if by != "persona":
        if by in log_columns(events):
            return Adjustment(by, by)
        if customers is not None and by in customers.columns:
            return Adjustment(customers.set_index("customer_id")[by], by)
        raise ValueError(f"by (the report's adjust_for) must be 'persona', '' or a column of the events or "
                         f"customers, got {by!r}")
    if personas is not None or data is not None:
        return _run_personas(events, data, output_dir, personas, seed, min_customers)
    n = 0 if features is None else len(features)
    if n < min_customers:
        return _unadjusted(f"personas are not fitted on {n:,} customers (fewer than {min_customers})")
    from cjlib.personas import fit_personas

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = fit_personas(features, k="auto", n_boot=5, seed=seed)
    except ValueError as exc:
        return _unadjusted(f"personas cannot be fitted on this log ({exc})")
    if not fitted.rule_.startswith("admissible"):
        return Adjustment(None, NO_ADJUSTMENT, "no stable set of personas was found on this log, so visits are "
                          "compared without adjustment")
    return Adjustment(fitted.persona_.astype(str), f"{fitted.k_} personas")
