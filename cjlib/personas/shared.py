"""One persona model per run: the fit 01 shows, the assignments file it writes, and the personas 02 and
04 read back (:func:`personas_for`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.personas.fitting import fit_personas
from cjlib.personas.result import PersonaResult
from cjlib.personas.text import is_purchase

#: the assignments file 01 writes in ``output_dir`` and 02/04 read
ASSIGNMENTS_FILE = "personas_assignments.csv"


def _hex(rgb) -> str:
    return "#" + "".join(f"{int(round(float(v) * 255)):02x}" for v in tuple(rgb)[:3])


def fit_for_inputs(data, *, features: pd.DataFrame | None = None, k: int | str = "auto",
                   k_range: Sequence[int] = (2, 8), method: str = "kmeans", include=None, exclude=None,
                   seed: int = 0) -> PersonaResult:
    """The run's persona model from loaded inputs (:func:`cjlib.load_inputs`): the one fit 01 shows and
    02/04 reproduce when 01's assignments are absent.

    Features are :func:`cjlib.features.customer_features` without the profile's id-like and outcome-like
    customer columns (or ``features`` when given, built the same way); purchase behaviour is clustered
    when the log is purchases-only or has no web visits (``data.profile``).

    Parameters
    ----------
    data : Inputs
        From :func:`cjlib.load_inputs` (or :func:`cjlib.report.load`).
    features : DataFrame, optional
        Customer features built as above (else built here).
    k : int, "auto" or str of digits, default "auto"
        Number of personas; a notebook's text parameter such as ``"4"`` (surrounding spaces allowed) is
        read as that integer.
    k_range, method, include, exclude, seed :
        As for :func:`fit_personas` (``include``/``exclude`` may be ``""``: the default set).

    Returns
    -------
    PersonaResult
    """
    from cjlib.features import customer_features, excluded_attributes, without_attributes

    if isinstance(k, str):
        k = int(k) if k.strip().isdigit() else k.strip()
    if features is None:
        left_out = excluded_attributes(data.customers, data.profile)
        features = customer_features(data.events, customers=without_attributes(data.customers, list(left_out)),
                                     feedback=data.feedback, stage_map=data.stage_map)
    behaviour = bool(data.profile.purchases_only or not data.profile.supports("sessions"))
    sm = data.stage_map  # "buyers" only where converting is buying (a newsletter sign-up is not)
    conversion = [*sm.conversion_events, sm.conversion_stage or ""] if sm is not None else ["purchase"]
    buying = is_purchase(conversion, revenue=data.profile.supports("revenue"))
    return fit_personas(features, k=k, k_range=k_range, method=method, include=include, exclude=exclude,
                        seed=seed, purchase_behaviour=behaviour, purchase=buying)


def persona_journey(events, persona: pd.Series, *, stage_map) -> pd.DataFrame:
    """The share of each persona's customers that reached each stage.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The loaded event log, or the log shuffled onto a cluster (:class:`cjlib.engine.Partitioned`: the
        workers return the stages each customer reached, the shares are counted here).
    persona : Series
        Persona name per customer (index ``customer_id``), ordered categorical: ``PersonaResult.persona_``.
    stage_map : StageMap or path
        The stages, in order.

    Returns
    -------
    DataFrame
        Index ``persona`` (persona order), columns ``stage`` (stage order): share of the persona's customers
        in the log that reached it (:func:`cjlib.scorecard.stage_kpis`' ``reached_share`` of their events;
        NaN for a persona without events).

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "event": ["page_view", "purchase", "page_view"],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"])})
    >>> p = pd.Series(pd.Categorical(["Buyers", "Browsers"], categories=["Buyers", "Browsers"], ordered=True),
    ...               index=pd.Index(["a", "b"], name="customer_id"))
    >>> persona_journey(ev, p, stage_map="data/stage_map.yml")["purchase"].tolist()
    [1.0, 0.0]
    """
    from cjlib.attribution.distributed import is_partitioned
    from cjlib.validation import resolve_stage_map

    sm = resolve_stage_map(stage_map)
    if is_partitioned(events):
        from cjlib import engine

        reached = engine.stage_reached(events, stage_map=sm)
    else:
        from cjlib.io import ensure_sorted
        from cjlib.journeys import stage_reached

        reached = stage_reached(ensure_sorted(events), stage_map=sm)
    has = ~np.isnat(reached.to_numpy().astype("datetime64[ns]"))  # customers × stages, as stage_kpis counts
    names = list(persona.cat.categories) if hasattr(persona, "cat") else sorted(map(str, persona.unique()))
    # each customer of the log: its persona's position (-1: none); one pass instead of a log subset per persona
    label = persona.astype(object).reindex(reached.index).to_numpy()
    code = pd.Index(names).get_indexer(label)
    rows = {}
    for i, name in enumerate(names):
        mine = code == i
        n = int(mine.sum())
        rows[name] = has[mine].sum(axis=0) / n if n else np.full(len(sm.stage_names), np.nan)
    return pd.DataFrame(rows, index=pd.Index(sm.stage_names, name="stage")).T.rename_axis(index="persona")


def assignment_examples(table: pd.DataFrame, *, n: int = 5) -> pd.DataFrame:
    """The first customer of each of the first ``n`` personas of an :func:`assignments` table, with the
    customer id replaced by its keyed pseudonym (:func:`cjlib.report.pseudonymize`): what a report shows.

    Parameters
    ----------
    table : DataFrame
        From :func:`assignments` (index ``customer_id``).
    n : int, default 5
        At most this many rows.

    Returns
    -------
    DataFrame
        The same columns, index ``customer (pseudonym)``.
    """
    from cjlib.report import pseudonymize

    examples = table.groupby("persona", sort=False).head(1).head(n)
    return examples.set_axis(pseudonymize(examples.index).to_numpy()).rename_axis("customer (pseudonym)")


def assignments(result: PersonaResult, state: str) -> pd.DataFrame:
    """The assignment table 01 exports (index ``customer_id``).

    Parameters
    ----------
    result : PersonaResult
        The run's fit.
    state : str
        :func:`cjlib.findings.personas.stability_state` of the fit (``stable``, ``rfm``, …).

    Returns
    -------
    DataFrame
        ``persona_id`` (persona order), ``persona`` (name), ``color`` (hex, as in every chart), ``state``.
    """
    from cjlib.plots.personas import persona_colors

    colors = {n: _hex(c) for n, c in persona_colors(result.names_).items()}
    names = result.persona_.astype(str)
    return pd.DataFrame({"persona_id": result.labels_, "persona": names, "color": names.map(colors),
                         "state": state}).rename_axis("customer_id")


@dataclass(frozen=True)
class SharedPersonas:
    """The run's personas as 02 and 04 use them.

    Attributes
    ----------
    persona : Series of ordered categorical
        Persona name per customer (index ``customer_id``), categories in persona order.
    state : str
        ``"stable"`` (personas), ``"rfm"`` (rule-based RFM segments), ``"unstable"`` or ``"unchecked"``.
    source : str
        ``"file"`` (read from 01's assignments or ``personas_path``) or ``"fit"``.
    """

    persona: pd.Series
    state: str
    source: str

    @property
    def names(self) -> list[str]:
        return list(self.persona.cat.categories)

    @property
    def label(self) -> str:
        """How a finding names the grouping ("4 personas", "5 RFM segments", "1 RFM segment")."""
        n = len(self.names)
        what = "RFM segment" if self.state == "rfm" else "persona" if self.state == "stable" else "group"
        return f"{n} {what}{'' if n == 1 else 's'}"


def _read_assignments(path, ids: pd.Index) -> SharedPersonas | None:
    """01's assignments for ``ids`` (``None`` when the file covers fewer than 90 % of them)."""
    from pathlib import Path

    p = Path(path)
    t = pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pd.read_csv(p, dtype={"customer_id": str})
    if not {"customer_id", "persona"} <= set(t.columns):
        raise ValueError(f"{p.name} must have customer_id and persona columns (has {list(t.columns)})")
    t = t.assign(customer_id=t["customer_id"].astype(str), persona=t["persona"].astype(str))
    order = (t.groupby("persona")["persona_id"].min().sort_values().index.tolist() if "persona_id" in t
             else sorted(t["persona"].unique()))
    by_id = t.drop_duplicates("customer_id").set_index("customer_id")
    keys = pd.Index(ids.astype(str))
    if keys.isin(by_id.index).mean() < 0.9:
        return None
    values = by_id["persona"].reindex(keys).to_numpy()
    s = pd.Series(pd.Categorical(values, categories=order, ordered=True), index=ids, name="persona")
    state = str(by_id["state"].iloc[0]) if "state" in by_id and len(by_id) else "stable"
    return SharedPersonas(s, state, "file")


def personas_for(data, *, output_dir: str = "", personas_path: str = "", seed: int = 0,
                 features: pd.DataFrame | None = None) -> SharedPersonas:
    """The run's personas for 02 and 04: 01's assignments when present, else the same deterministic fit.

    Parameters
    ----------
    data : Inputs
        From :func:`cjlib.load_inputs`.
    output_dir : str
        Where 01 wrote :data:`ASSIGNMENTS_FILE` (used when it covers at least 90 % of the customers).
    personas_path : str
        A CSV/Parquet with ``customer_id`` and ``persona`` (optionally ``persona_id`` for the order and
        ``state``); takes precedence over ``output_dir``.
    seed : int
        Seed of the fit when no file is used (01's seed gives 01's personas).
    features : DataFrame, optional
        Customer features over the whole log, built as in 01 (else built here).

    Returns
    -------
    SharedPersonas
        The persona per customer, its stability state and where it came from.

    Raises
    ------
    NotClusterable
        No file and the customers cannot be clustered.
    """
    from pathlib import Path

    from cjlib.attribution.distributed import log_customers
    from cjlib.findings.personas import stability_state
    from cjlib.paths import resolve

    ids = log_customers(data.events)  # order of first appearance (on a cluster: the workers' customers)
    for path, explicit in ((personas_path, True), (output_dir and Path(resolve(output_dir)) / ASSIGNMENTS_FILE, False)):
        if path and (explicit or Path(path).is_file()):
            shared = _read_assignments(resolve(path) if explicit else path, ids)
            if shared is not None:
                return shared
    r = fit_for_inputs(data, features=features, seed=seed)
    return SharedPersonas(r.persona_, stability_state(r.scores_, rule=r.rule_), "fit")
