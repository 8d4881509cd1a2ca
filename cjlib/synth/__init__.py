"""Synthetic customer journeys with a planted truth: the sample data and the test oracle.

:func:`generate` simulates an online shop over a date range and returns a :class:`SyntheticData` with
the event log, customer attributes, satisfaction feedback, monthly channel spend and the *truth* that
produced them, so every analysis can be checked against what was planted.

What is planted (all numbers are in ``SyntheticData.params``):

* **Four personas.** ``loyal_premium`` (20 %: older, premium plan, desktop, arrives by email/direct,
  many sessions, buys often, high order values, rarely churns); ``bargain_hunter`` (30 %: paid search,
  affiliate and email, basic plan, buys at medium rates with small baskets); ``window_shopper`` (30 %:
  organic search and social, free plan, views many products per session, almost never buys);
  ``social_newcomer`` (20 %: young, mobile, social and display ads, few short sessions, churns fast).
* **Sessions.** A customer is first seen at a time uniform over the first 80 % of the range; that
  session's channel is the acquisition channel. Further sessions arrive at the persona's rate until
  the customer churns (or the range ends) and use return channels (direct, email, organic heavier).
  Sessions of one customer are at least 2 hours apart; events inside a session are 10 s to 10 min apart,
  so sessionizing on a 30-minute gap reproduces ``session_id`` exactly.
* **In-session journey.** Entry (``ad_click`` for paid_search/social/display/affiliate, else
  ``page_view``) → product views (with ``search`` and ``add_to_wishlist`` interleaved) →
  ``add_to_cart`` → ``begin_checkout`` → ``purchase``, with exits at each step. The persona sets the
  base probabilities; the session's channel multiplies the awareness→consideration probability (the
  chance to view a product after entry) and the consideration→purchase probability (applied at the
  ``add_to_cart`` step, so it scales the whole consideration→purchase conversion). Purchases carry a
  lognormal revenue around the persona's order value.
* **Checkout friction.** A session that reaches ``begin_checkout`` ends in a purchase with probability
  0.80 for every persona on desktop and tablet, and 0.45 × 0.80 = 0.36 on ``mobile`` (a session-level
  rate). Failing mobile checkouts usually emit ``payment_error`` and are sometimes retried (failing
  again); some successful mobile checkouts hit a ``payment_error`` before the attempt that works.
* **Satisfaction, delivery issues and churn.** Each customer has a latent satisfaction (persona mean +
  noise) lowered by a delivery issue (about 15 % of customers; they contact support after purchases).
  The churn hazard is constant in time and grows with low satisfaction, a delivery issue and the
  persona; a churner has no event after ``churn_time``, non-churners stay active to the end.
* **Advocacy.** After a purchase a ``review`` (own session, channel email, 2–10 days later) follows
  with a probability rising with satisfaction; a ``referral`` follows more rarely.
* **Feedback.** CSAT (1–5) after about 30 % of purchases, driven by satisfaction, lower after a
  delivery issue or a payment error; CSAT after about 5 % of sessions with product views; NPS (0–10)
  from about 10 % of customers at a random time while they are active.
* **An A/B test** (with ``variant_split``; the sample is written with 0.5). Each customer is assigned
  ``variant`` "control" or "treatment" (``variant_split`` is the treatment share) from a random stream of
  its own, so the assignment moves no draw before the sessions (customers and their truth are the same with
  and without a test). The treatment raises one step, ``begin_checkout`` after ``add_to_cart``: the session-level
  probability gains 0.06 (persona base 0.50–0.85); nothing else depends on the variant. The column is an
  event column (like ``device``), not a customer attribute, so that it never becomes a persona or churn
  feature; ``params["ab_test"]`` holds the step, the lift and the split.
* **Costs.** Monthly spend for paid_search, social, display, affiliate and email: the sessions each
  brought times a channel-specific cost per visit, with a little noise.

The package: :mod:`cjlib.synth.config` (the planted parameters), :mod:`cjlib.synth.journeys` (customers,
sessions, in-session journeys, the timeline), :mod:`cjlib.synth.tables` (:class:`SyntheticData` and its
frames); :func:`generate` runs them in order.

Run ``python -m cjlib.synth --customers 20000 --seed 0 --out data/sample`` to write the sample data.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from cjlib.paths import resolve
from cjlib.synth.config import (
    CHANNELS,
    EVENTS,
    PAID_CHANNELS,
    PERSONAS,
    VARIANTS,
    _check_stage_map,
    _params,
)
from cjlib.synth.journeys import (
    _after_purchase_sessions,
    _draw_customers,
    _draw_variants,
    _regular_sessions,
    _timeline,
)
from cjlib.synth.tables import (
    SyntheticData,
    _costs_table,
    _customers_table,
    _events_table,
    _feedback_table,
    _Labels,
    _truth_table,
)

__all__ = ["CHANNELS", "EVENTS", "PAID_CHANNELS", "PERSONAS", "VARIANTS", "SyntheticData", "generate", "main"]


def generate(
    n_customers: int = 20_000,
    seed: int = 0,
    *,
    start: str | pd.Timestamp = "2025-01-01",
    end: str | pd.Timestamp = "2026-01-01",
    stage_map=None,
    variant_split: float | None = None,
) -> SyntheticData:
    """Generate synthetic customer journeys with a planted truth.

    Parameters
    ----------
    n_customers : int, default 20_000
        Number of customers; about 20–25 events each on average.
    seed : int, default 0
        Seed of the single :func:`numpy.random.default_rng` every random step draws from.
    start, end : str or Timestamp
        The simulated range ``[start, end)``; every timestamp falls inside it.
    stage_map : StageMap, str or Path, optional
        Stage map every generated event must be known to (default ``data/stage_map.yml``).
    variant_split : float or None, default None
        Plant an A/B test with this share of customers in treatment (strictly between 0 and 1; another
        value than 0.5 plants a sample-ratio mismatch against the usual equal split). ``None`` plants none:
        no ``variant`` column, and the very data of a generator without A/B tests (the same seed gives the
        same files as before). The sample (``python -m cjlib.synth``, ``make data``) uses 0.5.

    Returns
    -------
    SyntheticData
        Events, customers, feedback, costs, truth and the planted ``params``.

    Raises
    ------
    ValueError
        When ``n_customers`` is not a positive integer, ``end`` is not after ``start``, ``variant_split``
        is not None or strictly between 0 and 1, or the stage map does not know the generated events.

    Examples
    --------
    >>> data = generate(200, seed=1)
    >>> sorted(data.truth["persona"].unique())
    ['bargain_hunter', 'loyal_premium', 'social_newcomer', 'window_shopper']
    >>> ab = generate(200, seed=1, variant_split=0.5).params["ab_test"]
    >>> ab["from_step"], ab["to_step"], ab["lift"]
    ('add_to_cart', 'begin_checkout', 0.06)
    """
    t0, t1 = _check_arguments(n_customers, seed, start, end)
    _check_variant_split(variant_split)
    _check_stage_map(stage_map)
    n = int(n_customers)
    rng = np.random.default_rng(seed)
    span = int((t1 - t0).total_seconds())

    customers = _draw_customers(rng, n, span, _draw_variants(seed, n, variant_split))
    regular = _regular_sessions(rng, customers)
    after_purchase = _after_purchase_sessions(rng, customers, regular)
    log = _timeline(customers, regular, after_purchase)

    labels = _Labels.of(n, t0)
    events = _events_table(log, customers, labels)
    feedback = _feedback_table(rng, log, customers, labels)
    costs = _costs_table(rng, events, t0, t1)
    return SyntheticData(
        events=events,
        customers=_customers_table(customers, labels),
        feedback=feedback,
        costs=costs,
        truth=_truth_table(customers, labels),
        params=_params(n, seed, t0, t1, variant_split),
    )


def _check_variant_split(variant_split) -> None:
    """``variant_split`` is None or a number strictly between 0 and 1."""
    if variant_split is None:
        return
    if isinstance(variant_split, bool) or not isinstance(variant_split, (int, float, np.integer, np.floating)) \
            or not 0 < variant_split < 1:
        raise ValueError(f"variant_split must be a share strictly between 0 and 1 or None, got {variant_split!r}")


def _check_arguments(n_customers, seed, start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Check :func:`generate`'s arguments; returns the range's ends as Timestamps."""
    if (
        isinstance(n_customers, bool)
        or not isinstance(n_customers, (int, np.integer))
        or n_customers < 1
    ):
        raise ValueError(f"n_customers must be a positive integer, got {n_customers!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    if t0.tzinfo is not None or t1.tzinfo is not None:
        raise ValueError("start and end must be timezone-naive (UTC) timestamps")
    if t1 <= t0 + pd.Timedelta(days=1):
        raise ValueError(f"end must be more than a day after start, got start={t0} end={t1}")
    return t0, t1


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Write a synthetic data set: ``python -m cjlib.synth --customers 20000 --seed 0 --out data/sample``.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success.
    """
    parser = argparse.ArgumentParser(
        prog="python -m cjlib.synth", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--customers", type=int, default=20_000, help="number of customers (default 20000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--start", default="2025-01-01", help="first day of the range (default 2025-01-01)"
    )
    parser.add_argument(
        "--end", default="2026-01-01", help="end of the range, exclusive (default 2026-01-01)"
    )
    parser.add_argument(
        "--out",
        default="data/sample",
        help="output folder (relative: the current folder if it exists there, else the project root)",
    )
    parser.add_argument(
        "--variant-split",
        default="0.5",
        help="share of customers in the A/B treatment (default 0.5); 'none' plants no A/B test",
    )
    args = parser.parse_args(argv)
    split = None if args.variant_split.strip().lower() == "none" else float(args.variant_split)
    data = generate(args.customers, args.seed, start=args.start, end=args.end, variant_split=split)
    out = resolve(args.out)
    data.write(out)
    print(f"wrote {len(data.events):,} events for {len(data.customers):,} customers to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
