"""Persona clustering: customer features → transforms → clusters → named, ordered persona cards.

:func:`fit_personas` takes the table of :func:`cjlib.features.customer_features`, transforms it inside a
scikit-learn pipeline (signed log1p + standard scaling by default, ``"quantile"`` as an option, one-hot
for categorical attributes), clusters it with k-means (or a Gaussian mixture), chooses the number of
personas from the data, orders and names the personas deterministically, and returns a
:class:`PersonaResult` (learned attributes end in ``_``).

Which features are clustered (``include=None``)
    Behaviour *intensities*, not lifetime totals: sessions per 30 days, events per session, purchases per
    session, average order value (0 without purchases), furthest stage, channel mix, satisfaction, plus
    every customer attribute (numeric columns, and text/categorical columns with 2–20 levels). Totals
    (events, purchases, revenue), recency and tenure grow with how long and how recently a customer has
    been known: they describe *when* a customer is in the lifecycle (churn uses them), not *who* they are,
    and would split every persona into old and new customers. Stage shares are left out because they
    mostly restate session length (events per session) and purchase propensity. Every numeric feature
    still appears in the profile. Constant and all-missing columns are dropped.

How k is chosen (``k="auto"``)
    For each k in ``k_range``: silhouette on a seeded sample of at most 3,000 customers, inertia (k-means)
    or BIC (mixture), the smallest persona's share, and stability: ``n_boot`` bootstrap refits (each on a
    resample of at most 3,000 customers), each predicting every customer, compared with the full fit by
    the adjusted Rand index (mean and minimum). A k is *admissible* when its smallest persona holds at
    least ``min_share`` of the customers and its mean bootstrap ARI is at least ``min_stability``.
    Among admissible k-means fits the k with the highest ``silhouette × ARI mean`` wins (separation
    weighted by reproducibility: silhouette alone favours few clusters and drifts with the sample); for
    the mixture the lowest BIC among admissible k wins. When no k is admissible, the k with the highest
    ``silhouette × ARI mean`` among those meeting ``min_share`` is
    used, else the smallest k; ``PersonaResult.rule_`` says which branch applied.

Order and names
    Personas are sorted by revenue share (descending), then size (descending), then their centroid, so
    persona 0 is always the most valuable. Names come from ordered rules on the profile (see
    :data:`NAME_RULES`): each rule takes the best-scoring unnamed persona that meets its condition, so a
    name follows the behaviour, not the cluster number; a persona no rule fits is named after its
    strongest trait ("High email share"), made unique with a number if needed.

Degenerate input
    Fewer than 2 customers, an integer ``k`` larger than the number of customers, a ``k_range`` that
    does not fit the data, or features that are all constant raise ``ValueError`` with the reason.
    ``k="auto"`` caps ``k_range`` at (customers − 1).

The package: :mod:`~cjlib.personas.features` (what is clustered), :mod:`~cjlib.personas.selection` (scores
per k, stability, the rule that picks k), :mod:`~cjlib.personas.rfm` (the RFM fallback),
:mod:`~cjlib.personas.naming`, :mod:`~cjlib.personas.result` (:class:`PersonaResult`, persona cards),
:mod:`~cjlib.personas.fitting` (:func:`fit_personas`) and :mod:`~cjlib.personas.shared` (one model per run:
the assignments file, :func:`personas_for`).
"""

from cjlib.personas.features import (
    BOOT_SAMPLE,
    DEFAULT_BEHAVIOUR,
    INACTIVE_WINDOW,
    MAX_LEVELS,
    METHODS,
    PURCHASE_BEHAVIOUR,
    SILHOUETTE_SAMPLE,
    TRANSFORMS,
    persona_features,
)
from cjlib.personas.fitting import NotClusterable, fit_personas
from cjlib.personas.naming import NAME_RULES
from cjlib.personas.result import PersonaResult
from cjlib.personas.rfm import RFM_SEGMENTS, rfm_definitions, rfm_labels
from cjlib.personas.shared import (
    ASSIGNMENTS_FILE,
    SharedPersonas,
    assignment_examples,
    assignments,
    fit_for_inputs,
    persona_journey,
    personas_for,
)

__all__ = ["ASSIGNMENTS_FILE", "BOOT_SAMPLE", "DEFAULT_BEHAVIOUR", "INACTIVE_WINDOW", "MAX_LEVELS", "METHODS",
           "NAME_RULES", "NotClusterable", "PURCHASE_BEHAVIOUR", "PersonaResult", "RFM_SEGMENTS",
           "SILHOUETTE_SAMPLE", "SharedPersonas", "TRANSFORMS", "assignment_examples", "assignments", "fit_for_inputs", "fit_personas",
           "persona_features", "persona_journey", "personas_for", "rfm_definitions", "rfm_labels"]
