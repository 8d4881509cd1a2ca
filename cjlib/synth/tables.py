"""The tables of :mod:`cjlib.synth`: :class:`SyntheticData` and the frames built from the simulation
(events, customers, truth, feedback, costs)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cjlib.paths import resolve
from cjlib.synth.config import (
    _COST_NOISE_SD,
    _COST_PER_VISIT,
    _DAY,
    _FEEDBACK,
    CHANNELS,
    DEVICES,
    EVENTS,
    GENDERS,
    PAID_CHANNELS,
    PAYMENT_ERROR,
    PERSONAS,
    PLANS,
    PRODUCT_VIEW,
    PURCHASE,
    REGIONS,
    VARIANTS,
)
from cjlib.synth.journeys import _Customers, _group_starts, _Timeline


# --------------------------------------------------------------------------------------------------
# Result container
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SyntheticData:
    """Synthetic journeys and the truth that produced them.

    Attributes
    ----------
    events : DataFrame
        ``customer_id`` (str), ``timestamp`` (datetime64, naive), ``event`` (str), ``channel`` (str),
        ``revenue`` (float64, > 0 on purchases, NaN elsewhere), ``session_id`` (str, globally unique),
        ``device`` (str, fixed per customer), ``variant`` (str, "control" or "treatment", fixed per
        customer; absent when no A/B test is planted); sorted by (customer_id, timestamp), RangeIndex.
    customers : DataFrame
        ``customer_id``, ``age`` (int), ``gender``, ``region``, ``signup_date`` (datetime64), ``plan``.
    feedback : DataFrame
        ``customer_id``, ``timestamp``, ``score`` (int), ``scale`` ("csat" 1–5 or "nps" 0–10),
        ``stage`` (stage name), ``touchpoint`` (event name).
    costs : DataFrame
        ``channel``, ``period`` ("YYYY-MM"), ``spend`` (float) for the paid channels.
    truth : DataFrame
        One row per customer: ``customer_id``, ``persona``, ``acquisition_channel``, ``device``,
        ``churned`` (bool), ``churn_time`` (NaT unless churned), ``delivery_issue`` (bool),
        ``satisfaction`` (latent float), ``variant`` (with an A/B test).
    params : dict
        The planted parameters, JSON-serializable.
    """

    events: pd.DataFrame
    customers: pd.DataFrame
    feedback: pd.DataFrame
    costs: pd.DataFrame
    truth: pd.DataFrame
    params: dict

    def write(self, folder: str | Path) -> None:
        """Write every table into ``folder`` (created if needed), each file atomically.

        Writes ``events.parquet``, ``customers.parquet``, ``feedback.parquet``, ``costs.csv``,
        ``truth.parquet`` and ``truth.json`` (the params). Each file is written to a temporary file in
        the same folder and moved into place with :func:`os.replace`.

        Parameters
        ----------
        folder : str or Path
            Target folder; relative paths are resolved by :func:`cjlib.paths.resolve`.
        """
        out = resolve(folder)
        out.mkdir(parents=True, exist_ok=True)
        writers = {
            "events.parquet": lambda p: self.events.to_parquet(p, index=False),
            "customers.parquet": lambda p: self.customers.to_parquet(p, index=False),
            "feedback.parquet": lambda p: self.feedback.to_parquet(p, index=False),
            "costs.csv": lambda p: self.costs.to_csv(p, index=False),
            "truth.parquet": lambda p: self.truth.to_parquet(p, index=False),
            "truth.json": lambda p: Path(p).write_text(json.dumps(self.params, indent=2) + "\n"),
        }
        umask = os.umask(0)
        os.umask(umask)
        for name, write in writers.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            os.close(fd)
            try:
                write(tmp)
                os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; use the usual mode
                os.replace(tmp, out / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


def _take_str(labels, codes: np.ndarray) -> pd.Series:
    """A str Series of ``labels[codes]`` built through a categorical (fast for long arrays)."""
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(labels))).astype("str")


@dataclass(frozen=True)
class _Labels:
    """Customer ids and the timestamp of a second since the range's start."""

    ids: np.ndarray
    base_ns: int

    @classmethod
    def of(cls, n: int, t0: pd.Timestamp) -> _Labels:
        ids = np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 6))
        return cls(ids, t0.as_unit("ns").value)

    def ts(self, seconds: np.ndarray) -> np.ndarray:
        return (self.base_ns + seconds.astype(np.int64) * 1_000_000_000).view("datetime64[ns]")


def _events_table(log: _Timeline, customers: _Customers, labels: _Labels) -> pd.DataFrame:
    """The event log: one row per kept event, sessions numbered ``S0000001`` … in customer/time order;
    the A/B ``variant`` (fixed per customer) after ``device`` when the sample plants a test."""
    n_sessions = int(log.session[-1]) + 1 if len(log.session) else 0
    sess_ids = np.char.add("S", np.char.zfill(np.arange(1, n_sessions + 1).astype(str), 7))
    ab = {} if customers.variant is None else {"variant": _take_str(VARIANTS, customers.variant[log.cust])}
    return pd.DataFrame(
        {
            "customer_id": _take_str(labels.ids, log.cust),
            "timestamp": labels.ts(log.time),
            "event": _take_str(EVENTS, log.code.astype(np.int64)),
            "channel": _take_str(CHANNELS, log.channel),
            "revenue": log.revenue,
            "session_id": _take_str(sess_ids, log.session),
            "device": _take_str(DEVICES, customers.device[log.cust]),
            **ab,
        }
    )


def _customers_table(customers: _Customers, labels: _Labels) -> pd.DataFrame:
    """Customer attributes; ``signup_date`` is the day of the first visit."""
    return pd.DataFrame(
        {
            "customer_id": _take_str(labels.ids, np.arange(len(labels.ids))),
            "age": customers.age,
            "gender": _take_str(GENDERS, customers.gender),
            "region": _take_str(REGIONS, customers.region),
            "signup_date": pd.Series(labels.ts(customers.first_seen)).dt.floor("D"),
            "plan": _take_str(PLANS, customers.plan),
        }
    )


def _truth_table(customers: _Customers, labels: _Labels) -> pd.DataFrame:
    """The planted truth per customer."""
    churned = customers.churned
    churn_ts = pd.Series(labels.ts(np.where(churned, customers.churn_at, 0)))
    return pd.DataFrame(
        {
            "customer_id": _take_str(labels.ids, np.arange(len(labels.ids))),
            "persona": _take_str(PERSONAS, customers.persona),
            "acquisition_channel": _take_str(CHANNELS, customers.acquisition),
            "device": _take_str(DEVICES, customers.device),
            "churned": churned,
            "churn_time": churn_ts.where(churned),
            "delivery_issue": customers.delivery,
            "satisfaction": customers.satisfaction,
            **({} if customers.variant is None else {"variant": _take_str(VARIANTS, customers.variant)}),
        }
    )


def _feedback_table(
    rng: np.random.Generator, log: _Timeline, customers: _Customers, labels: _Labels
) -> pd.DataFrame:
    """CSAT after purchases and product-view sessions, NPS from a share of customers."""
    fb = _FEEDBACK
    stop, satisfaction = customers.stop, customers.satisfaction
    parts = []

    def shortly_after(t, cust, lo, hi):
        delay = rng.uniform(lo, hi, len(t)).astype(np.int64)
        room = np.maximum((stop[cust] - t) // 2, 0)
        return t + np.minimum(delay, room)

    # payment errors per session (for the purchase CSAT)
    err_sessions = np.zeros(int(log.session[-1]) + 1 if len(log.session) else 0, dtype=bool)
    err_sessions[log.session[log.code == PAYMENT_ERROR]] = True

    buy = np.flatnonzero(log.code == PURCHASE)
    buy = buy[rng.random(len(buy)) < fb["purchase_csat_rate"]]
    c = log.cust[buy]
    spec = fb["purchase_csat"]
    latent = _latent(
        rng,
        spec,
        satisfaction[c],
        spec["delivery_issue"] * customers.delivery[c],
        spec["payment_error"] * err_sessions[log.session[buy]],
    )
    when = shortly_after(log.time[buy], c, 600, 3 * _DAY)
    parts.append((c, when, np.clip(np.round(latent), 1, 5), "csat", "purchase", "purchase"))

    pv = np.flatnonzero(log.code == PRODUCT_VIEW)
    sess = log.session
    last_pv = pv[np.r_[sess[pv][1:] != sess[pv][:-1], True]] if len(pv) else pv
    last_pv = last_pv[rng.random(len(last_pv)) < fb["view_csat_rate"]]
    c = log.cust[last_pv]
    latent = _latent(rng, fb["view_csat"], satisfaction[c])
    when = shortly_after(log.time[last_pv], c, 30, 1800)
    parts.append(
        (c, when, np.clip(np.round(latent), 1, 5), "csat", "consideration", "product_view")
    )

    first_seen = customers.first_seen
    c = np.flatnonzero(rng.random(len(first_seen)) < fb["nps_rate"])
    t = first_seen[c] + (rng.random(len(c)) * (stop[c] - first_seen[c])).astype(np.int64)
    latent = _latent(rng, fb["nps"], satisfaction[c])
    parts.append((c, t, np.clip(np.round(latent), 0, 10), "nps", "advocacy", "review"))

    cust = np.concatenate([p[0] for p in parts])
    time = np.concatenate([p[1] for p in parts])
    score = np.concatenate([p[2] for p in parts]).astype(np.int64)
    kind = np.concatenate([np.full(len(p[0]), k) for k, p in enumerate(parts)])
    o = np.lexsort((kind, time, cust))
    scales, stages, touch = (np.array([p[i] for p in parts]) for i in (3, 4, 5))
    kind = kind[o]
    return pd.DataFrame(
        {
            "customer_id": _take_str(labels.ids, cust[o]),
            "timestamp": labels.ts(time[o]),
            "score": score[o],
            "scale": pd.array(scales[kind], dtype="str"),
            "stage": pd.array(stages[kind], dtype="str"),
            "touchpoint": pd.array(touch[kind], dtype="str"),
        }
    )


def _latent(rng: np.random.Generator, spec: dict, satisfaction: np.ndarray, *terms) -> np.ndarray:
    """A feedback score before rounding: intercept + slope × satisfaction + ``terms`` + normal noise."""
    latent = spec["intercept"] + spec["satisfaction"] * satisfaction
    for term in terms:
        latent = latent + term
    return latent + spec["noise_sd"] * rng.standard_normal(len(satisfaction))


def _costs_table(rng, events: pd.DataFrame, t0: pd.Timestamp, t1: pd.Timestamp) -> pd.DataFrame:
    """Monthly spend per paid channel: sessions brought × cost per visit × lognormal noise."""
    periods = pd.period_range(t0, t1 - pd.Timedelta(seconds=1), freq="M").astype(str)
    first = _group_starts(events["session_id"].to_numpy())
    sess = events.loc[first, ["channel", "timestamp"]]
    sess = sess[sess["channel"].isin(PAID_CHANNELS)]
    counts = pd.crosstab(sess["channel"], sess["timestamp"].dt.strftime("%Y-%m")).reindex(
        index=list(PAID_CHANNELS), columns=list(periods), fill_value=0
    )
    cpv = np.array([_COST_PER_VISIT[c] for c in PAID_CHANNELS])[:, None]
    noise = np.exp(_COST_NOISE_SD * rng.standard_normal(counts.shape))
    spend = np.round(counts.to_numpy() * cpv * noise, 2)
    return pd.DataFrame(
        {
            "channel": pd.array(np.repeat(list(PAID_CHANNELS), len(periods)), dtype="str"),
            "period": pd.array(np.tile(list(periods), len(PAID_CHANNELS)), dtype="str"),
            "spend": spend.ravel().astype(float),
        }
    )
