"""Cart abandonment, recovery and outcomes per segment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.funnel.distributed import is_partitioned
from cjlib.funnel.matching import _NAT, _check_events, _to_ts
from cjlib.io import ensure_sorted
from cjlib.journeys import customer_starts, session_keys
from cjlib.stagemap import StageMap, load_stage_map
from cjlib.validation import duration


# --------------------------------------------------------------------------------- cart abandonment
@dataclass(frozen=True)
class CartAbandonment:
    """Cart abandonment and recovery.

    Attributes
    ----------
    carts : int
        Sessions with at least one cart event.
    abandoned : int
        Cart sessions without a purchase event after their first cart event in the same session.
    abandonment_rate : float
        abandoned ÷ carts (NaN without carts).
    recovered : int
        Abandoned carts followed by a purchase of the same customer within ``window`` of the
        session's last cart event (inclusive).
    recovery_rate : float
        recovered ÷ abandoned.
    window : Timedelta
        The recovery window.
    cart_event, purchase_event : tuple of str
    table : DataFrame
        One row per cart session: ``customer_id``, ``session``, ``cart_at`` (first cart event),
        ``last_cart_at``, ``abandoned``, ``recovered``, ``recovered_at``, ``time_to_recovery``.
    """

    carts: int
    abandoned: int
    abandonment_rate: float
    recovered: int
    recovery_rate: float
    window: pd.Timedelta
    cart_event: tuple
    purchase_event: tuple
    table: pd.DataFrame


def cart_abandonment(
    events: pd.DataFrame,
    *,
    cart_event: str | Sequence[str] | None = None,
    purchase_event: str | Sequence[str] | None = None,
    window="7D",
    stage_map: StageMap | None = None,
) -> CartAbandonment:
    """Cart abandonment rate and later recovery.

    A *cart* is a session (the data's ``session_id``, else 30-minute sessions) with a cart event. It is
    *abandoned* when no purchase event follows its first cart event in the same session. An abandoned
    cart is *recovered* when the customer makes a purchase event within ``window``
    (inclusive) after the session's last cart event (necessarily in a later session).

    Parameters
    ----------
    cart_event, purchase_event : str or list of str, optional
        Event names. Defaults come from the stage map's roles: ``cart_events`` and
        ``conversion_events`` (never from a journey's step positions). Without a cart event (none given
        and none declared) a :class:`ValueError` says so in one sentence.
    window : str or Timedelta, default "7D"
        The recovery window (a duration such as ``"7D"``); must be positive.
    stage_map : StageMap, optional
        Default ``data/stage_map.yml``.

    Returns
    -------
    CartAbandonment
    """
    sm = stage_map or load_stage_map()
    if not is_partitioned(events):
        _check_events(events)
    recovery = duration("window", window, allow_none=False, positive=True)

    def names(value, default, param):
        v = default if value is None else value
        out = (v,) if isinstance(v, str) else tuple(v)
        if not out or not all(isinstance(x, str) for x in out):
            raise ValueError(f"{param} must be an event name or a list of names, got {value!r}")
        return out

    if cart_event is None and not sm.cart_events:
        raise ValueError("the stage map declares no cart events (cart_events), so no event marks a cart")
    carts = names(sm.cart_events if cart_event is None else cart_event, None, "cart_event")
    buys = names(sm.conversion_events if purchase_event is None else purchase_event, None, "purchase_event")
    limit = int(recovery.value)
    if is_partitioned(events):  # a cjlib.engine.Partitioned log: every partition's carts, sessions numbered log-wide
        from cjlib.funnel.distributed import cart_table

        table = cart_table(events, carts, buys, limit)
    else:
        table = _cart_table(ensure_sorted(events), carts, buys, limit)
    table = table.sort_values(["customer_id", "cart_at"], kind="stable").reset_index(drop=True)
    n_c, n_a, n_r = len(table), int(table["abandoned"].sum()), int(table["recovered"].sum())
    return CartAbandonment(
        carts=n_c, abandoned=n_a, abandonment_rate=n_a / n_c if n_c else float("nan"), recovered=n_r,
        recovery_rate=n_r / n_a if n_a else float("nan"), window=recovery,
        cart_event=carts, purchase_event=buys, table=table,
    )


def _cart_table(ev: pd.DataFrame, carts: tuple, buys: tuple, limit: int) -> pd.DataFrame:
    """One row per cart session of a log in the loader's order (:attr:`CartAbandonment.table`, in session
    order; ``limit``: the recovery window in ns)."""
    sess = session_keys(ev).to_numpy()
    ev_names = ev["event"].astype(str).to_numpy()
    is_cart = np.isin(ev_names, carts)
    is_buy = np.isin(ev_names, buys)
    ts = ev["timestamp"].to_numpy().astype("datetime64[ns]").astype(np.int64)
    cust = np.cumsum(customer_starts(ev)) - 1
    n = len(ev)
    # first / last cart per session (session codes need not be contiguous: use unique over codes)
    cidx = np.flatnonzero(is_cart)
    s_of = sess[cidx]
    uniq_s, first_i = np.unique(s_of, return_index=True)
    last_i = len(s_of) - 1 - np.unique(s_of[::-1], return_index=True)[1]
    first_row, last_row = cidx[first_i], cidx[last_i]
    # a purchase in the same session after the first cart: last purchase row per session > first cart row
    bidx = np.flatnonzero(is_buy)
    last_buy = np.full(sess.max() + 1 if n else 0, -1, np.int64)
    if len(bidx):
        np.maximum.at(last_buy, sess[bidx], bidx)
    abandoned = last_buy[uniq_s] < first_row
    # recovery: first purchase of the customer after the last cart row (rows are customer-time ordered)
    j = np.searchsorted(bidx, last_row, side="right")
    has = j < len(bidx)
    nxt = bidx[np.minimum(j, max(len(bidx) - 1, 0))] if len(bidx) else np.zeros(len(last_row), np.int64)
    rec = abandoned & has & (cust[nxt] == cust[last_row]) & (ts[nxt] - ts[last_row] <= limit)
    rec_at = np.where(rec, ts[nxt], _NAT)
    table = pd.DataFrame({
        "customer_id": ev["customer_id"].to_numpy()[first_row],
        "session": uniq_s.astype(np.int64),
        "cart_at": _to_ts(ts[first_row]),
        "last_cart_at": _to_ts(ts[last_row]),
        "abandoned": abandoned,
        "recovered": rec,
        "recovered_at": _to_ts(rec_at),
    })
    table["time_to_recovery"] = table["recovered_at"] - table["last_cart_at"]
    return table


def cart_outcomes(table: pd.DataFrame, labels: pd.Series | None = None, column: str | None = None) -> pd.DataFrame:
    """Cart outcomes per group: ``purchased`` (in the session), ``recovered`` (later), ``lost``, ``carts``.

    Parameters
    ----------
    table : DataFrame
        :attr:`CartAbandonment.table`.
    labels : Series, optional
        customer_id → segment level; adds a row ``"{column} = {level}"`` per level after the ``"all"`` row
        (carts of customers without a level count only in ``"all"``).
    column : str, optional
        The segment's name for the row labels.

    Returns
    -------
    DataFrame
        One row per group (``"all"`` first): ``purchased``, ``recovered``, ``lost``, ``carts``.
    """
    groups = {"all": table}
    if labels is not None:
        lab = table["customer_id"].map(labels)
        groups.update({f"{column} = {k}": g for k, g in table.groupby(lab, sort=True)})
    out = {k: {"purchased": int((~g["abandoned"]).sum()), "recovered": int(g["recovered"].sum()),
               "lost": int((g["abandoned"] & ~g["recovered"]).sum())} for k, g in groups.items()}
    res = pd.DataFrame.from_dict(out, orient="index", columns=["purchased", "recovered", "lost"])
    res["carts"] = res.sum(axis=1)
    return res




def segment_cart_outcomes(events: pd.DataFrame, cart: CartAbandonment, *, by: str | None = None) -> pd.DataFrame:
    """:func:`cart_outcomes` of ``cart``, per level of the customer's ``by`` segment when given.

    A customer's level is :func:`cjlib.scorecard.customer_segments`' (an event column's value on the
    customer's first event with one, a customer column as is, ``acquisition_channel`` the first channel).

    Parameters
    ----------
    events : DataFrame
        The event log (with customer columns joined when ``by`` is one).
    cart : CartAbandonment
    by : str, optional
        A segment column; ``None`` gives only the ``"all"`` row.

    Returns
    -------
    DataFrame
        As :func:`cart_outcomes`.
    """
    if by is None:
        return cart_outcomes(cart.table)
    if is_partitioned(events):
        from cjlib.funnel.distributed import customer_segments
    else:
        from cjlib.scorecard import customer_segments

    return cart_outcomes(cart.table, customer_segments(events, by=[by])[by], by)
