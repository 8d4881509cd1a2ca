"""cjlib benchmarks: each hot operation against idiomatic pandas, idiomatic polars and ChannelAttribution.

``make bench`` (or ``.venv/bin/python benchmarks/run.py``). Environment:

- ``BENCH_SIZES``: comma-separated event-log sizes, default ``1M,10M`` (``1M`` for a quick run).
- ``BENCH_REPEATS``: timed runs per implementation (median reported), default 3 (minimum 3).
- ``BENCH_SKIP``: comma-separated parts to skip: ``journeys``, ``peak``, ``dask`` (needs ``journeys``),
  ``dask-config`` (the README's worker configuration against Dask's default), ``markov``, ``reports``,
  ``suite`` (the five reports on each size's log, in process and on Dask: ``benchmarks/suite.py``),
  ``suite-dask`` (only the Dask run of the suite).
- ``BENCH_OUT``: where the results go, default ``benchmarks/results/latest.json``.
- ``BENCH_MARKOV_PATHS``: distinct paths of the synthetic Markov table, default 1000000.

Synthetic logs come from ``cjlib.synth.generate`` (seed 0) and are cached as Parquet under
``benchmarks/cache/``. Every baseline's result is checked against cjlib's in the same run (an
``AssertionError`` stops the benchmark), so a fast wrong answer cannot win. Results go to
``benchmarks/results/latest.json`` as ``[{op, size, cjlib_s, baseline, baseline_s, ratio, cjlib_peak_mb}]``
(``ratio = cjlib_s / baseline_s``: below 1 means cjlib is faster) and a table is printed.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / "cache"
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))

import cjlib  # noqa: E402
from cjlib import attribution, engine, features, funnel, journeys, synth  # noqa: E402
from cjlib.stagemap import load_stage_map  # noqa: E402

warnings.simplefilter("ignore")
SIZES = {"1M": 38_000, "10M": 380_000}  # customers; synth makes ~26.5 events per customer
STEPS = ["product_view", "add_to_cart", "begin_checkout", "event:purchase"]
STEP_EVENTS = ["product_view", "add_to_cart", "begin_checkout", "purchase"]
WINDOW = pd.Timedelta("7D")
GAP = pd.Timedelta("30min")
LOOKBACK = pd.Timedelta("30D")
SEP = " > "
SM = load_stage_map()
STAGES = SM.stage_names
# event → stage (purchase → "purchase"; its 2nd and later occurrences become "retention" below)
STAGE_OF = {}
for _s in SM.stages:
    for _e in _s.events:
        STAGE_OF.setdefault(_e, _s.name)
NTH = [(s.name, s.events, s.nth) for s in SM.stages if s.nth > 1]
CONV = list(SM.conversion_events)
OTHER = list(SM.other_events)
DAY_NS = 86_400 * 10**9
JOURNEY_OPS = ["load + validate", "sessionize", "stage_reached", "funnel 4-step 7D", "channel transitions",
               "customer_features", "paths_from_events"]


# ================================================================================================ data
def data_path(size: str) -> Path:
    """The cached Parquet log of ``size`` (generated once)."""
    path = CACHE / f"events_{size}.parquet"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        ev = synth.generate(SIZES[size], seed=0).events
        tmp = path.with_suffix(".tmp")
        ev.to_parquet(tmp, row_group_size=500_000)
        tmp.rename(path)
        print(f"  generated {size}: {len(ev):,} events in {time.perf_counter() - t:.0f} s -> {path}", flush=True)
    return path


def parts_path(size: str, by: str = "customer") -> Path:
    """The same log as a folder of ~1 M-row Parquet files (what a cluster reads from shared storage): in the
    generated order, sorted by customer (``by="customer"``), or sorted by time (``by="time"``, as a
    daily export would come), whose customers every file shares, so the engine has to shuffle."""
    folder = CACHE / (f"events_{size}_parts" if by == "customer" else f"events_{size}_parts_by_{by}")
    if not (folder / "_done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        ev = pd.read_parquet(data_path(size))
        if by == "time":
            ev = ev.sort_values("timestamp", kind="stable", ignore_index=True)
        step = 1_000_000
        for k, a in enumerate(range(0, len(ev), step)):
            ev.iloc[a:a + step].to_parquet(folder / f"part-{k:04d}.parquet")
        (folder / "_done").touch()
    return folder


def markov_paths(n_paths: int, seed: int = 0) -> pd.DataFrame:
    """A synthetic paths table of ``n_paths`` distinct paths over 10 channels (cached)."""
    path = CACHE / f"markov_paths_{n_paths}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    rng = np.random.default_rng(seed)
    chans = np.array([f"ch{c}" for c in range(10)], dtype=object)
    weights = rng.dirichlet(np.ones(10) * 2)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n_paths:
        m = int((n_paths - len(out)) * 1.3) + 1000
        lens = np.minimum(rng.geometric(0.22, m), 25)
        toks = rng.choice(10, size=int(lens.sum()), p=weights)
        bounds = np.r_[0, np.cumsum(lens)]
        for a, b in zip(bounds[:-1], bounds[1:]):
            p = SEP.join(chans[toks[a:b]])
            if p not in seen:
                seen.add(p)
                out.append(p)
                if len(out) == n_paths:
                    break
    lens = np.array([p.count(">") + 1 for p in out])
    conv_rate = np.clip(0.02 + 0.03 * lens + rng.normal(0, 0.02, len(out)), 0.001, 0.9)
    total = rng.geometric(0.3, len(out)).astype(float)
    conv = rng.binomial(total.astype(int), conv_rate).astype(float)
    df = pd.DataFrame({"path": out, "conversions": conv, "nulls": total - conv})
    df.to_parquet(path)
    return df


# ==================================================================================== implementations
# ---- load + validate
def cj_load(path):
    return cjlib.load_events(path)


def pd_load(path):
    ev = pd.read_parquet(path)
    ev["timestamp"] = pd.to_datetime(ev["timestamp"])
    for c in ("customer_id", "timestamp", "event"):
        if ev[c].isna().any():
            raise ValueError(f"null {c}")
    if (ev["revenue"] < 0).any():
        raise ValueError("negative revenue")
    ev = ev.drop_duplicates()
    ev = ev.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)
    ev["event"] = ev["event"].astype("category")
    ev["channel"] = ev["channel"].astype("category")
    unknown = set(ev["event"].cat.categories) - set(SM.known_events)
    if unknown:
        warnings.warn(f"unknown events {unknown}", stacklevel=2)
    return ev


def pl_load(path):
    import polars as pl

    lf = pl.scan_parquet(path)
    bad = lf.select(
        pl.sum_horizontal(pl.col("customer_id", "timestamp", "event").null_count()).alias("nulls"),
        (pl.col("revenue") < 0).sum().alias("neg"),
    ).collect()
    if bad["nulls"][0] or bad["neg"][0]:
        raise ValueError("invalid events")
    ev = (lf.unique(maintain_order=True)
          .sort(["customer_id", "timestamp"], maintain_order=True)
          .with_columns(pl.col("event", "channel").cast(pl.Categorical))
          .collect())
    unknown = set(ev["event"].unique().cast(pl.String).to_list()) - set(SM.known_events)
    if unknown:
        warnings.warn(f"unknown events {unknown}", stacklevel=2)
    return ev


def check_load(cj, base):
    n = len(cj)
    assert len(base) == n, (len(base), n)
    b = base.to_pandas() if hasattr(base, "to_pandas") else base
    assert np.array_equal(cj["customer_id"].to_numpy(), b["customer_id"].to_numpy())
    assert np.array_equal(cj["timestamp"].to_numpy().astype("datetime64[ns]"),
                          b["timestamp"].to_numpy().astype("datetime64[ns]"))
    assert np.array_equal(cj["event"].astype(str).to_numpy(), b["event"].astype(str).to_numpy())


# ---- sessionize
def cj_sessionize(ev):
    return journeys.sessionize(ev, GAP)


def pd_sessionize(ev):
    d = ev.groupby("customer_id", sort=False)["timestamp"].diff()
    new = d.isna() | (d > GAP)
    return new.cumsum() - 1


def pl_sessionize(ev):
    import polars as pl

    d = pl.col("timestamp").diff().over("customer_id")
    return ev.lazy().select(((d.is_null() | (d > GAP.to_pytimedelta())).cum_sum() - 1).alias("session")).collect()


def check_sessionize(cj, base):
    b = base["session"].to_numpy() if hasattr(base, "columns") and "session" in base.columns else np.asarray(base)
    assert np.array_equal(cj.to_numpy(), b)


# ---- stage progression
def pd_stages(ev) -> pd.Series:
    """Stage name per event, the way an analyst derives it (map, then nth purchase → retention)."""
    stage = ev["event"].map(STAGE_OF)
    for name, evs, nth in NTH:
        hit = ev["event"].isin(evs)
        k = hit.groupby(ev["customer_id"], sort=False).cumsum()
        stage = stage.mask(hit & (k >= nth), name)
    return stage


def pl_stages():
    import polars as pl

    expr = pl.col("event").cast(pl.String).replace_strict(STAGE_OF, default=None)
    for name, evs, nth in NTH:
        hit = pl.col("event").cast(pl.String).is_in(list(evs))
        expr = pl.when(hit & (hit.cum_sum().over("customer_id") >= nth)).then(pl.lit(name)).otherwise(expr)
    return expr.alias("stage")


def cj_stage_reached(ev):
    return journeys.stage_reached(ev, stage_map=SM)


def pd_stage_reached(ev):
    out = (ev.assign(stage=pd_stages(ev)).dropna(subset=["stage"])
           .groupby(["customer_id", "stage"])["timestamp"].min().unstack("stage"))
    return out.reindex(index=ev["customer_id"].unique(), columns=STAGES)


def pl_stage_reached(ev):
    import polars as pl

    return (ev.lazy().with_columns(pl_stages()).filter(pl.col("stage").is_not_null())
            .group_by("customer_id", "stage").agg(pl.col("timestamp").min())
            .collect().pivot(on="stage", index="customer_id", values="timestamp"))


def _as_pd(base, index="customer_id"):
    if hasattr(base, "to_pandas"):
        base = base.to_pandas().set_index(index)
    return base


def check_stage_reached(cj, base):
    b = _as_pd(base).reindex(index=cj.index, columns=cj.columns)
    assert np.array_equal(cj.to_numpy().astype("datetime64[ns]"), b.to_numpy().astype("datetime64[ns]"),
                          equal_nan=True)


# ---- ordered 4-step funnel, 7-day window
def cj_funnel(ev):
    return funnel.funnel(ev, STEPS, window=WINDOW, mode="ordered")


def _pd_quantiles(chosen, K):
    rows = []
    for k in range(K):
        sel = chosen["level"] >= k + 1
        row = {"step": STEP_EVENTS[k], "reached": int(sel.sum())}
        if k:
            d = (chosen.loc[sel, f"t{k}"] - chosen.loc[sel, f"t{k - 1}"])
            row["median"], row["p90"] = d.quantile(0.5), d.quantile(0.9)
        rows.append(row)
    return pd.DataFrame(rows)


def pd_funnel(ev):
    """Every step-1 event starts an attempt; merge_asof finds each next step strictly after the previous
    match (row order), within 7 days of step 1; each customer counts at its furthest step."""
    K = len(STEP_EVENTS)
    ev = ev[["customer_id", "timestamp", "event"]].assign(row=np.arange(len(ev)))
    att = ev[ev["event"] == STEP_EVENTS[0]].rename(columns={"row": "r0", "timestamp": "t0"})
    att = att.drop(columns="event").assign(level=1, r=lambda d: d["r0"])
    alive = att
    for k in range(1, K):
        cand = ev.loc[ev["event"] == STEP_EVENTS[k], ["customer_id", "row", "timestamp"]]
        cand = cand.rename(columns={"row": f"r{k}", "timestamp": f"t{k}"})
        m = pd.merge_asof(alive, cand, left_on="r", right_on=f"r{k}", by="customer_id", direction="forward",
                          allow_exact_matches=False)
        m = m[m[f"t{k}"].notna() & (m[f"t{k}"] - m["t0"] <= WINDOW)]
        alive = m.assign(r=m[f"r{k}"].astype(np.int64), level=k + 1)
        att = att.drop(columns=[f"t{k}"], errors="ignore").merge(
            alive[["r0", f"t{k}", "level"]], on="r0", how="left", suffixes=("", "_k"))
        att["level"] = att["level_k"].fillna(att["level"]).astype(np.int64)
        att = att.drop(columns="level_k")
    # the earliest attempt reaching each customer's furthest step
    att = att.sort_values("r0")
    best = att["level"] == att.groupby("customer_id", sort=False)["level"].transform("max")
    chosen = att[best].drop_duplicates("customer_id")
    out = _pd_quantiles(chosen, K)
    out.attrs["units_total"] = ev["customer_id"].nunique()
    return out


def pl_funnel(ev):
    import polars as pl

    K = len(STEP_EVENTS)
    w = WINDOW.to_pytimedelta()
    base = ev.lazy().select("customer_id", "timestamp", "event").with_row_index("row")
    att = (base.filter(pl.col("event") == STEP_EVENTS[0])
           .select("customer_id", pl.col("row").alias("r0"), pl.col("timestamp").alias("t0"))
           .with_columns(pl.col("r0").alias("r"), pl.lit(1).alias("level")).collect())
    alive = att
    for k in range(1, K):
        cand = (base.filter(pl.col("event") == STEP_EVENTS[k])
                .select("customer_id", pl.col("row").alias(f"r{k}"), pl.col("timestamp").alias(f"t{k}")).collect())
        m = (alive.join_asof(cand, left_on="r", right_on=f"r{k}", by="customer_id", strategy="forward",
                             allow_exact_matches=False, check_sortedness=False)
             .filter(pl.col(f"t{k}").is_not_null() & ((pl.col(f"t{k}") - pl.col("t0")) <= w)))
        alive = m.with_columns(pl.col(f"r{k}").alias("r"), pl.lit(k + 1).alias("level"))
        att = (att.drop("level").join(alive.select("r0", f"t{k}", "level"), on="r0", how="left")
               .with_columns(pl.col("level").fill_null(att["level"])))
    chosen = (att.lazy().sort("r0")
              .filter(pl.col("level") == pl.col("level").max().over("customer_id"))
              .unique("customer_id", keep="first").collect())
    rows = []
    for k in range(K):
        sel = chosen.filter(pl.col("level") >= k + 1)
        row = {"step": STEP_EVENTS[k], "reached": sel.height}
        if k:
            d = sel.select((pl.col(f"t{k}") - pl.col(f"t{k - 1}")).alias("d"))["d"]
            row["median"] = d.quantile(0.5, "linear")
            row["p90"] = d.quantile(0.9, "linear")
        rows.append(row)
    return rows


def check_funnel(cj, base):
    rows = base.to_dict("records") if isinstance(base, pd.DataFrame) else base
    assert [r["reached"] for r in rows] == cj["reached"].tolist(), ([r["reached"] for r in rows], cj["reached"].tolist())
    for k in range(1, len(rows)):
        for col, ref in (("median", "median_time_from_previous"), ("p90", "p90_time_from_previous")):
            got, want = pd.Timedelta(rows[k][col]), cj[ref].iloc[k]
            assert abs(got - want) <= pd.Timedelta("1ms"), (k, col, got, want)


# ---- channel transitions
def cj_transitions(ev):
    return engine.transition_counts(ev)


def pd_transitions(ev):
    t = ev.loc[ev["channel"].notna(), ["customer_id", "channel"]]
    nxt = t.groupby("customer_id", sort=False)["channel"].shift(-1)
    return (t.assign(channel_to=nxt).dropna(subset=["channel_to"])
            .groupby(["channel", "channel_to"], observed=True).size())


def pl_transitions(ev):
    import polars as pl

    return (ev.lazy().filter(pl.col("channel").is_not_null())
            .with_columns(pl.col("channel").shift(-1).over("customer_id").alias("channel_to"))
            .filter(pl.col("channel_to").is_not_null())
            .group_by("channel", "channel_to").len().collect())


def check_transitions(cj, base):
    if hasattr(base, "to_pandas"):
        b = base.to_pandas()
        b = b.astype({"channel": str, "channel_to": str}).set_index(["channel", "channel_to"])["len"]
    else:
        b = base.copy()
        b.index = pd.MultiIndex.from_arrays([b.index.get_level_values(0).astype(str),
                                             b.index.get_level_values(1).astype(str)])
    b = b[b > 0].sort_index()
    want = cj["count"]
    assert np.array_equal(want.index.to_frame().to_numpy(), b.index.to_frame().to_numpy())
    assert np.array_equal(want.to_numpy(), b.to_numpy())


# ---- customer features
def cj_features(ev):
    return features.customer_features(ev, stage_map=SM)


def pd_features(ev):
    cut = ev["timestamp"].max() + pd.Timedelta(seconds=1)
    g = ev.groupby("customer_id", sort=True)
    f = g.agg(first=("timestamp", "min"), last=("timestamp", "max"), n_events=("event", "size"),
              sessions=("session_id", "nunique"), monetary=("revenue", "sum"))
    p = ev[ev["event"].isin(CONV)].groupby("customer_id").agg(n_purchases=("timestamp", "size"),
                                                              first_purchase=("timestamp", "min"),
                                                              last_purchase=("timestamp", "max"))
    f = f.join(p)
    f["n_purchases"] = f["n_purchases"].fillna(0).astype(np.int64)
    f["recency_days"] = (cut - f["last"]) / pd.Timedelta(days=1)
    f["tenure_days"] = (cut - f["first"]) / pd.Timedelta(days=1)
    f["frequency"] = f["sessions"]
    f["events_per_session"] = f["n_events"] / f["sessions"]
    f["aov"] = (f["monetary"] / f["n_purchases"]).where(f["n_purchases"] > 0)
    f["days_to_first_purchase"] = (f["first_purchase"] - f["first"]) / pd.Timedelta(days=1)
    f["days_since_last_purchase"] = (cut - f["last_purchase"]) / pd.Timedelta(days=1)
    counts = (ev.assign(stage=pd_stages(ev)).groupby(["customer_id", "stage"]).size()
              .unstack(fill_value=0).reindex(index=f.index, columns=STAGES, fill_value=0))
    for s in STAGES:
        f[f"share_{s}"] = counts[s] / f["n_events"]
    reached = counts.to_numpy() > 0
    f["furthest_stage"] = np.where(reached.any(axis=1), len(STAGES) - 1 - np.argmax(reached[:, ::-1], axis=1), -1)
    first_ch = (ev.dropna(subset=["channel"]).groupby(["customer_id", "session_id"], observed=True)["channel"]
                .first())
    mix = first_ch.groupby(level="customer_id").value_counts(normalize=True).unstack(fill_value=0)
    for c in sorted(map(str, ev["channel"].dropna().unique())):
        f[f"channel_share_{features.feature_name(c)}"] = mix[c].reindex(f.index, fill_value=0) if c in mix else 0.0
    other = ev[ev["event"].isin(OTHER)].groupby(["customer_id", "event"], observed=True).size().unstack(fill_value=0)
    for e in OTHER:
        if e in other:
            f[f"n_{features.feature_name(e)}"] = other[e].reindex(f.index, fill_value=0)
    return f


def pl_features(ev):
    import polars as pl

    cut = ev["timestamp"].max() + pd.Timedelta(seconds=1).to_pytimedelta()
    day = pd.Timedelta(days=1).to_pytimedelta()
    lf = ev.lazy().with_columns(pl_stages())
    is_conv = pl.col("event").cast(pl.String).is_in(CONV)
    base = lf.group_by("customer_id").agg(
        pl.col("timestamp").min().alias("first"),
        pl.col("timestamp").max().alias("last"),
        pl.len().alias("n_events"),
        pl.col("session_id").n_unique().alias("sessions"),
        pl.col("revenue").sum().alias("monetary"),
        is_conv.sum().alias("n_purchases"),
        pl.col("timestamp").filter(is_conv).min().alias("first_purchase"),
        pl.col("timestamp").filter(is_conv).max().alias("last_purchase"),
        *[(pl.col("stage") == s).sum().alias(f"c_{s}") for s in STAGES],
        *[(pl.col("event").cast(pl.String) == e).sum().alias(f"n_{features.feature_name(e)}") for e in OTHER],
    ).with_columns(
        ((cut - pl.col("last")) / day).alias("recency_days"),
        ((cut - pl.col("first")) / day).alias("tenure_days"),
        pl.col("sessions").alias("frequency"),
        (pl.col("n_events") / pl.col("sessions")).alias("events_per_session"),
        pl.when(pl.col("n_purchases") > 0).then(pl.col("monetary") / pl.col("n_purchases")).alias("aov"),
        ((pl.col("first_purchase") - pl.col("first")) / day).alias("days_to_first_purchase"),
        ((cut - pl.col("last_purchase")) / day).alias("days_since_last_purchase"),
        *[(pl.col(f"c_{s}") / pl.col("n_events")).alias(f"share_{s}") for s in STAGES],
        pl.max_horizontal([pl.when(pl.col(f"c_{s}") > 0).then(j).otherwise(-1)
                           for j, s in enumerate(STAGES)]).alias("furthest_stage"),
    )
    mix = (lf.filter(pl.col("channel").is_not_null())
           .group_by("customer_id", "session_id").agg(pl.col("channel").first())
           .group_by("customer_id", "channel").len()
           .with_columns((pl.col("len") / pl.col("len").sum().over("customer_id")).alias("share"))
           .collect().with_columns(pl.col("channel").cast(pl.String))
           .pivot(on="channel", index="customer_id", values="share"))
    out = base.collect().join(mix, on="customer_id", how="left").sort("customer_id")
    return out


def check_features(cj, base):
    b = _as_pd(base).reindex(cj.index)
    if hasattr(base, "to_pandas"):  # polars: the pivoted channel columns keep the channel names
        names = {c.removeprefix("channel_share_") for c in cj.columns if c.startswith("channel_share_")}
        b = b.rename(columns={c: f"channel_share_{features.feature_name(c)}" for c in b.columns if c in names})
    cols = [c for c in cj.columns if c != "furthest_stage_name"]
    for c in cols:
        got = pd.to_numeric(b[c], errors="coerce").to_numpy(dtype=float)
        want = cj[c].to_numpy(dtype=float)
        if c.startswith("channel_share_"):
            got = np.nan_to_num(got)
        assert np.allclose(got, want, rtol=1e-9, atol=1e-9, equal_nan=True), c


# ---- paths_from_events (conversion mode, 30-day lookback)
def cj_paths(ev):
    return attribution.paths_from_events(ev, window=LOOKBACK, stage_map=SM)


def pd_paths(ev):
    is_conv = ev["event"].isin(CONV)
    ev = ev.assign(is_conv=is_conv, j=is_conv.groupby(ev["customer_id"], sort=False).cumsum() - is_conv)
    convs = ev.loc[is_conv, ["customer_id", "j", "timestamp", "revenue"]].rename(
        columns={"timestamp": "t_conv", "revenue": "value"})
    touches = ev.loc[~is_conv & ev["channel"].notna(), ["customer_id", "j", "timestamp", "channel"]]
    touches["channel"] = touches["channel"].astype(str)
    touches = touches.merge(convs[["customer_id", "j", "t_conv"]], on=["customer_id", "j"], how="left")
    conv_t = touches[touches["t_conv"].notna() & (touches["t_conv"] - touches["timestamp"] <= LOOKBACK)]
    tail = touches[touches["t_conv"].isna()]
    last = tail.groupby("customer_id", sort=False)["timestamp"].transform("max")
    tail = tail[last - tail["timestamp"] <= LOOKBACK]
    jc = (conv_t.groupby(["customer_id", "j"], sort=False)["channel"].agg(SEP.join).rename("path").reset_index().merge(convs[["customer_id", "j", "value"]], on=["customer_id", "j"]))
    jc["conversions"], jc["nulls"] = 1.0, 0.0
    jn = tail.groupby("customer_id", sort=False)["channel"].agg(SEP.join).rename("path")
    jn = jn.reset_index().assign(conversions=0.0, nulls=1.0, value=0.0)
    allj = pd.concat([jc, jn], ignore_index=True)
    allj["value"] = allj["value"].fillna(0.0)
    return allj.groupby("path", as_index=False)[["conversions", "nulls", "value"]].sum()


def pl_paths(ev):
    import polars as pl

    is_conv = pl.col("event").cast(pl.String).is_in(CONV)
    lf = ev.lazy().with_columns(is_conv.alias("is_conv")).with_columns(
        (pl.col("is_conv").cum_sum().over("customer_id") - pl.col("is_conv").cast(pl.UInt32)).alias("j"))
    convs = lf.filter("is_conv").select("customer_id", "j", pl.col("timestamp").alias("t_conv"),
                                         pl.col("revenue").fill_null(0.0).alias("value"))
    touches = (lf.filter(~pl.col("is_conv") & pl.col("channel").is_not_null())
               .join(convs, on=["customer_id", "j"], how="left", maintain_order="left"))
    lb = LOOKBACK.to_pytimedelta()
    conv_j = (touches.filter(pl.col("t_conv").is_not_null() & ((pl.col("t_conv") - pl.col("timestamp")) <= lb))
              .group_by("customer_id", "j").agg(pl.col("channel").cast(pl.String).str.join(SEP).alias("path"),
                                                 pl.col("value").first())
              .select("path", pl.lit(1.0).alias("conversions"), pl.lit(0.0).alias("nulls"), "value"))
    tail_j = (touches.filter(pl.col("t_conv").is_null())
              .filter((pl.col("timestamp").max().over("customer_id") - pl.col("timestamp")) <= lb)
              .group_by("customer_id").agg(pl.col("channel").cast(pl.String).str.join(SEP).alias("path"))
              .select("path", pl.lit(0.0).alias("conversions"), pl.lit(1.0).alias("nulls"), pl.lit(0.0).alias("value")))
    return (pl.concat([conv_j, tail_j]).group_by("path").agg(pl.col("conversions", "nulls", "value").sum())
            .sort("path").collect())


def check_paths(cj, base):
    b = base.to_pandas() if hasattr(base, "to_pandas") else base
    b = b.sort_values("path", ignore_index=True)
    assert np.array_equal(cj["path"].to_numpy(dtype=object), b["path"].to_numpy(dtype=object))
    for c in ("conversions", "nulls"):
        assert np.array_equal(cj[c].to_numpy(), b[c].to_numpy()), c
    assert np.allclose(cj["value"].to_numpy(), b["value"].to_numpy(), rtol=1e-9)


OPS = {
    "load + validate": (cj_load, pd_load, pl_load, check_load),
    "sessionize": (cj_sessionize, pd_sessionize, pl_sessionize, check_sessionize),
    "stage_reached": (cj_stage_reached, pd_stage_reached, pl_stage_reached, check_stage_reached),
    "funnel 4-step 7D": (cj_funnel, pd_funnel, pl_funnel, check_funnel),
    "channel transitions": (cj_transitions, pd_transitions, pl_transitions, check_transitions),
    "customer_features": (cj_features, pd_features, pl_features, check_features),
    "paths_from_events": (cj_paths, pd_paths, pl_paths, check_paths),
}


# ============================================================================================= timing
def timed(fn, *args):
    gc.collect()
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def repeats() -> int:
    return max(3, int(os.environ.get("BENCH_REPEATS", "3")))


def peak_mb(size: str, op: str) -> float:
    """Peak RSS (MB) of a fresh process that loads the log with cjlib and runs ``op`` (or the pipeline)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--peak", size, op]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if res.returncode != 0:
        print(res.stderr[-2000:], file=sys.stderr)
        return float("nan")
    return float(res.stdout.strip().splitlines()[-1])


def _peak_child(size: str, op: str) -> None:
    path = data_path(size)
    if op == "load + validate":
        cj_load(path)
    elif op == "pipeline":
        ev = cj_load(path)
        for name in JOURNEY_OPS[1:]:
            OPS[name][0](ev)
    elif op == "dask pipeline":
        pass
    else:
        ev = cj_load(path)
        OPS[op][0](ev)
    print(_peak_rss_mb())


def _peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    Linux: ``VmHWM`` of ``/proc/self/status`` — the high-water mark of *this* address space.
    ``getrusage().ru_maxrss`` is kept across ``exec`` and so can report the parent's peak when the
    parent was bigger at spawn time; it is only the fallback elsewhere (KB on Linux, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def bench_journeys(size: str, rows: list, do_peak: bool) -> dict:
    import polars as pl

    path = data_path(size)
    ev_cj, ev_pd, ev_pl = cj_load(path), pd_load(path), pl_load(path)
    print(f"\n== {size}: {len(ev_cj):,} events, {ev_cj['customer_id'].nunique():,} customers "
          f"(polars {pl.__version__}, pandas {pd.__version__})", flush=True)
    totals = {"cjlib": 0.0, "pandas": 0.0, "polars": 0.0}
    for op in JOURNEY_OPS:
        cj, pd_fn, pl_fn, check = OPS[op]
        args = {"cjlib": (path,), "pandas": (path,), "polars": (path,)} if op == "load + validate" else {
            "cjlib": (ev_cj,), "pandas": (ev_pd,), "polars": (ev_pl,)}
        times = {"cjlib": [], "pandas": [], "polars": []}
        for _ in range(repeats()):  # interleaved, so machine noise hits every implementation alike
            t, res_cj = timed(cj, *args["cjlib"])
            times["cjlib"].append(t)
            t, res_pd = timed(pd_fn, *args["pandas"])
            times["pandas"].append(t)
            t, res_pl = timed(pl_fn, *args["polars"])
            times["polars"].append(t)
        check(res_cj, res_pd)  # the correctness guard: a wrong baseline (or a wrong cjlib) stops the run
        check(res_cj, res_pl)
        del res_cj, res_pd, res_pl
        med = {k: statistics.median(v) for k, v in times.items()}
        for k in totals:
            totals[k] += med[k]
        mem = peak_mb(size, op) if do_peak else None
        for base in ("pandas", "polars"):
            rows.append(row(op, size, med["cjlib"], f"{base} (idiomatic)", med[base], mem))
        print(f"  {op:<22} cjlib {med['cjlib']:7.2f} s   pandas {med['pandas']:7.2f} s   "
              f"polars {med['polars']:7.2f} s   peak {mem if mem is not None else float('nan'):7.0f} MB",
              flush=True)
    mem = peak_mb(size, "pipeline") if do_peak else None
    for base in ("pandas", "polars"):
        rows.append(row("journey pipeline (sum)", size, totals["cjlib"], f"{base} (idiomatic)", totals[base], mem))
    print(f"  {'pipeline (sum)':<22} cjlib {totals['cjlib']:7.2f} s   pandas {totals['pandas']:7.2f} s   "
          f"polars {totals['polars']:7.2f} s   peak {mem if mem is not None else float('nan'):7.0f} MB", flush=True)
    del ev_pd, ev_pl
    return {"in_process_s": totals["cjlib"], "events": ev_cj}


def row(op, size, cj_s, baseline, base_s, mem):
    return {"op": op, "size": size, "cjlib_s": round(cj_s, 4), "baseline": baseline,
            "baseline_s": None if base_s is None else round(base_s, 4),
            "ratio": None if not base_s else round(cj_s / base_s, 3),
            "cjlib_peak_mb": None if mem is None or mem != mem else round(mem, 1)}


# ================================================================================================ dask
def dask_pipeline(parts: Path, client) -> dict:
    t0 = time.perf_counter()
    ddf = engine.read_events(str(parts / "*.parquet"), client=client)
    p = engine.partition(ddf, client=client)
    from distributed import wait

    wait(p.ddf)
    out = {"partition": time.perf_counter() - t0}
    for name, fn in (
        ("sessionize", lambda: engine.sessionize(p, window=GAP)),
        ("stage_reached", lambda: engine.stage_reached(p, stage_map=SM)),
        ("funnel 4-step 7D", lambda: engine.funnel(p, STEPS, window=WINDOW, stage_map=SM)),
        ("channel transitions", lambda: engine.transition_counts(p)),
        ("customer_features", lambda: engine.customer_features(p, stage_map=SM)),
        ("paths_from_events", lambda: engine.paths_from_events(p, window=LOOKBACK, stage_map=SM)),
    ):
        t, res = timed(fn)
        out[name] = t
        out[name + ":result"] = res
    out["total"] = time.perf_counter() - t0
    client.cancel(p.ddf)
    return out


# Dask's nanny starts each worker with MALLOC_TRIM_THRESHOLD_=65536 (distributed.nanny.pre-spawn-environ), which
# also freezes glibc's mmap threshold at 128 KiB, so every large temporary array faults its pages in afresh. The
# README's one configuration line unsets it (None drops a variable from the nannies' environment), so the workers
# run with glibc's adaptive thresholds, as the in-process pipeline does.
DASK_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def _worker_peak_mb(client) -> float:
    """The largest peak resident set (VmHWM, MB) among the cluster's worker processes."""
    def hwm() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    return max(client.run(hwm).values())


def _dask_runs(parts: Path, overrides: dict) -> tuple[list[dict], float, float]:
    """The Dask pipeline ``repeats()`` times on a fresh LocalCluster (2 workers, 1 thread each) started under
    the Dask config ``overrides``: the runs, the cluster's start-up time and its workers' peak memory."""
    import dask
    from distributed import Client, LocalCluster

    t = time.perf_counter()
    # the nannies live in this process and write their pre-spawn variables into os.environ: undo that
    # afterwards, so neither the next cluster nor later child processes (peak memory, reports) inherit them
    saved = dict(os.environ)
    try:
        with dask.config.set(overrides):
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=40)
        client = Client(cluster)
        startup = time.perf_counter() - t
        try:
            runs = [dask_pipeline(parts, client) for _ in range(repeats())]
            peak = _worker_peak_mb(client)
        finally:
            client.close()
            cluster.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return runs, startup, peak


DASK_PIPELINES = (  # (row, folder's order, workers' configuration)
    ("dask pipeline (2 local workers, README configuration)", "customer", "readme"),
    ("dask pipeline (2 local workers, Dask's default environment)", "customer", "default"),
    ("dask pipeline, files by time: shuffled (README configuration)", "time", "readme"),
)


def bench_dask(size: str, in_process_s: float, ev_cj: pd.DataFrame, rows: list) -> None:
    """The Dask pipeline against the in-process pipeline: on files sorted by customer (no shuffle) under the
    README's worker configuration and under Dask's default one, and on files sorted by time (shuffled)."""
    for label, by, conf in DASK_PIPELINES:
        runs, startup, peak = _dask_runs(parts_path(size, by), DASK_CONFIG if conf == "readme" else {})
        _check_dask(runs[-1], ev_cj, in_order=by == "customer")
        med = statistics.median(r["total"] for r in runs)
        detail = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[-1] if not k.endswith(":result")}
        rows.append(row(label, size, med, "cjlib in-process pipeline", in_process_s, peak))
        print(f"  {label}: {med:7.2f} s vs in-process {in_process_s:7.2f} s "
              f"(ratio {med / in_process_s:.2f}; cluster start {startup:.1f} s, not counted; workers' peak "
              f"{peak:.0f} MB) {detail}", flush=True)


def bench_dask_config(size: str, rows: list) -> None:
    """The README's Dask configuration line (MALLOC_TRIM_THRESHOLD_ unset for the workers) against Dask's
    default worker environment: the same pipeline on two fresh clusters, as a ratio, with peak memory."""
    parts = parts_path(size)
    default, _, peak_default = _dask_runs(parts, {})
    configured, _, peak = _dask_runs(parts, DASK_CONFIG)
    _check_dask(configured[-1], cj_load(data_path(size)))  # the same answers, whatever the allocator
    med, med_default = (statistics.median(r["total"] for r in runs) for runs in (configured, default))
    r = row("dask pipeline, MALLOC_TRIM_THRESHOLD_ unset", size, med, "dask pipeline, Dask's default env",
            med_default, peak)
    r["baseline_peak_mb"] = round(peak_default, 1)
    rows.append(r)
    print(f"  dask config            {med:7.2f} s vs Dask's default {med_default:7.2f} s (ratio {med / med_default:.2f}); "
          f"workers' peak {peak:.0f} MB vs {peak_default:.0f} MB", flush=True)


def _check_dask(last: dict, ev_cj: pd.DataFrame, in_order: bool = True) -> None:
    """Correctness guard: the cluster's answers are the in-process ones. Files in another order than the
    loader's (``in_order=False``) give per-event and first-appearance results in their own order: the
    sessions are compared as a count, the stages reached by customer."""
    sessions = journeys.sessionize(ev_cj, GAP)
    reached = journeys.stage_reached(ev_cj, stage_map=SM)
    if in_order:
        pd.testing.assert_series_equal(last["sessionize:result"], sessions)
        pd.testing.assert_frame_equal(last["stage_reached:result"], reached)
    else:
        assert last["sessionize:result"].nunique() == sessions.nunique()
        pd.testing.assert_frame_equal(last["stage_reached:result"].sort_index(), reached.sort_index())
    pd.testing.assert_frame_equal(last["funnel 4-step 7D:result"], cj_funnel(ev_cj))
    pd.testing.assert_frame_equal(last["channel transitions:result"], cj_transitions(ev_cj))
    pd.testing.assert_frame_equal(last["customer_features:result"], cj_features(ev_cj))
    want = cj_paths(ev_cj)
    got = last["paths_from_events:result"]
    pd.testing.assert_frame_equal(got.drop(columns="value"), want.drop(columns="value"))
    assert np.allclose(got["value"], want["value"], rtol=1e-9)


# ============================================================================================== Markov
def bench_markov(rows: list) -> None:
    n = int(os.environ.get("BENCH_MARKOV_PATHS", "1000000"))
    paths = markov_paths(n)
    label = f"{n / 1e6:g}M paths"
    print(f"\n== Markov on {len(paths):,} distinct paths ({paths.conversions.sum():,.0f} conversions)", flush=True)
    try:
        import ChannelAttribution as ca  # noqa: N813

        ca_df = paths.assign(path=paths["path"].str.replace(SEP, ">", regex=False))
        reason = None
    except Exception as exc:  # pragma: no cover - depends on the environment
        ca, reason = None, f"ChannelAttribution not installable here: {exc}"
    for order in (1, 3):
        t_cj, t_ca = [], []
        for _ in range(repeats()):
            t, res = timed(attribution.markov, paths, order, "ca")
            t_cj.append(t)
            if ca is not None:
                t, ref = timed(lambda o=order: ca.markov_model(ca_df, "path", "conversions", var_null="nulls",
                                                               order=o, verbose=False, flg_pro=False))
                t_ca.append(t)
        t_inf, _ = timed(attribution.markov, paths, order, "infinite")
        mem = None
        if ca is not None:
            # guard: CA simulates walks; cjlib solves exactly the quantity CA's simulation estimates
            # (horizon="ca"), so they agree to simulation noise: within 1 % of all conversions per channel
            conv = ref.set_index("channel_name")["total_conversions"].reindex(res.index.astype(str))
            err = np.abs(conv.to_numpy() - res["conversions"].to_numpy()).max() / res["conversions"].sum()
            assert err < 0.01, (order, conv.to_dict(), res["conversions"].to_dict())
            print(f"  order {order}: largest per-channel gap to ChannelAttribution {err:.2%} of all conversions")
        med_cj = statistics.median(t_cj)
        base_s = statistics.median(t_ca) if t_ca else None
        rows.append(row(f"markov order {order} (horizon='ca')", label, med_cj,
                        "ChannelAttribution 2.2.5 markov_model" if ca else f"null: {reason}", base_s, mem))
        print(f"  order {order}: cjlib {med_cj:7.2f} s (infinite horizon {t_inf:.2f} s)   "
              f"ChannelAttribution {base_s if base_s else float('nan'):7.2f} s", flush=True)


# ============================================================================================= reports
def bench_reports(rows: list) -> None:
    out = CACHE / "reports"
    walls, per_nb = [], {}
    for _ in range(repeats()):
        t = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "cjlib", "report", "--out", str(out)], cwd=ROOT,
                             capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - t)
        if res.returncode != 0:
            print(res.stdout[-2000:], res.stderr[-2000:], file=sys.stderr)
        for m in sorted(out.glob("*.metrics.json")):
            doc = json.loads(m.read_text())
            nb = json.loads((out / f"{doc['report']}.ipynb").read_text())
            own = sum(float(c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0) for c in nb["cells"])
            per_nb.setdefault(doc["report"], []).append((float(doc["seconds"]), own))
    own_total = sum(statistics.median(o for _, o in v) for v in per_nb.values())
    rows.append(row("make reports (all notebooks)", "sample", statistics.median(walls),
                    "notebooks' own cell execution (papermill)", own_total, None))
    print(f"\n== reports: wall {statistics.median(walls):.1f} s, notebooks' own execution {own_total:.1f} s",
          flush=True)
    for name, v in per_nb.items():
        over = statistics.median(s - o for s, o in v)
        rows.append(row(f"report runner overhead {name}", "sample", over, "target 1.5 s", 1.5, None))
        print(f"  {name:<24} runner {statistics.median(s for s, _ in v):6.1f} s  own "
              f"{statistics.median(o for _, o in v):6.1f} s  overhead {over:5.2f} s", flush=True)


# ================================================================================================ main
def print_table(rows: list) -> None:
    print(f"\n{'op':<36}{'size':>10}{'cjlib_s':>10}  {'baseline':<42}{'baseline_s':>11}{'ratio':>8}{'peak_MB':>9}")
    for r in rows:
        b = "" if r["baseline_s"] is None else f"{r['baseline_s']:.3f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        mem = "" if r["cjlib_peak_mb"] is None else f"{r['cjlib_peak_mb']:.0f}"
        b = b or ("FAILED" if r.get("failed") or r.get("error") else "")
        print(f"{r['op']:<36}{r['size']:>10}{r['cjlib_s'] if r['cjlib_s'] is not None else float('nan'):>10.3f}  {r['baseline'][:41]:<42}{b:>11}{ratio:>8}{mem:>9}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--peak":
        _peak_child(sys.argv[2], sys.argv[3])
        return 0
    sizes = [s.strip() for s in os.environ.get("BENCH_SIZES", "1M,10M").split(",") if s.strip()]
    bad = [s for s in sizes if s not in SIZES]
    if bad:
        print(f"BENCH_SIZES: unknown size(s) {bad}; known: {list(SIZES)}", file=sys.stderr)
        return 2
    skip = {s.strip() for s in os.environ.get("BENCH_SKIP", "").split(",") if s.strip()}
    print(f"cjlib benchmarks: sizes {sizes}, {repeats()} runs each (median), {os.cpu_count()} cores, "
          f"Python {platform.python_version()}", flush=True)
    rows: list[dict] = []
    RESULTS.mkdir(parents=True, exist_ok=True)

    out = Path(os.environ.get("BENCH_OUT") or RESULTS / "latest.json")

    def save():
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(rows, indent=1) + "\n")
        tmp.replace(out)

    for size in sizes:
        if "journeys" not in skip:
            res = bench_journeys(size, rows, "peak" not in skip)
            save()
            if "dask" not in skip:
                bench_dask(size, res["in_process_s"], res["events"], rows)
                save()
            del res
            gc.collect()
        if "dask-config" not in skip:
            bench_dask_config(size, rows)
            save()
        if "suite" not in skip:
            import suite  # benchmarks/suite.py

            suite.bench_suite(size, parts_path(size), rows, dask="suite-dask" not in skip)
            save()
    if "markov" not in skip:
        bench_markov(rows)
        save()
    if "reports" not in skip:
        bench_reports(rows)
        save()
    print_table(rows)
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
