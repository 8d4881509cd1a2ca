"""Channels from source / medium / campaign / referrer, by GA4's default channel group rules.

:func:`channel_group` gives each row the channel GA4's *default channel group* would give a manually
tagged visit (Analytics Help, "[GA4] Default channel group", answer 9756891): Direct, Cross-network,
Paid Shopping, Paid Search, Paid Social, Paid Video, Display, Paid Other, Organic Shopping, Organic
Social, Organic Video, Organic Search, Referral, Email, Affiliates, Audio, SMS, Mobile Push
Notifications, else Unassigned — tried in that order, the first match wins. The rules live in
``cjlib/data/default_channel_group.yml`` and Google's list of search, social, shopping and video sites in
``cjlib/data/ga4_source_categories.csv`` (``tests/data/channels/README.md`` says where each comes from).
It is an approximation of GA4's own grouping (:data:`GA4_NOTE` says how).

Rules file format
-----------------
A user's rules file (``rules=``) has the package file's format, YAML::

    source_categories: my_sites.csv   # optional: a CSV with columns source, source_category, relative to
                                      # this file; default: the package's GA4 list
    otherwise: Unassigned             # optional: the channel of rows no rule matches (default Unassigned)
    channels:                         # tried top to bottom; a row gets the first channel that matches
      - channel: Paid Search
        any:                          # a list of conditions: the channel matches when ANY of them holds
          - {source_category: {exact: SOURCE_CATEGORY_SEARCH}, medium: {full_regexp: '^(cpc|ppc)$'}}
      - channel: Newsletter           # a condition holds when ALL its fields match
        any:
          - {medium: {in_list: [email, newsletter]}}
          - {source: {begins_with: mailchimp}}

Fields: ``source``, ``medium``, ``campaign`` and ``source_category`` (the row's source looked up in the
source-category list; empty when not listed). Match types, as in GA4's channel-group filters (Admin
API ``ChannelGroupFilter``): ``exact``, ``begins_with``, ``ends_with``, ``contains``, ``full_regexp``
(the whole value must match, as GA4's "matches regex"), ``partial_regexp`` (matches anywhere) and
``in_list`` (a list of values). Every match ignores case, as GA4's does. Values are trimmed of
surrounding spaces; a missing value is the empty string. YAML anchors (``&paid`` … ``*paid``) may name a pattern used twice; any other top-level key
(e.g. ``patterns:`` holding the anchors) is ignored.

Before the rules, rows without source and medium take them from ``referrer`` (source = the referrer's
host without ``www.``, medium ``referral``) or, with no referrer either, become ``(direct)`` /
``(none)``, as GA4 records them.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cjlib.errors import DataError
from cjlib.stagemap import load_yaml_file

__all__ = ["GA4_NOTE", "DEFAULT_RULES", "ChannelRules", "channel_group", "load_rules"]

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_RULES = DATA / "default_channel_group.yml"

GA4_NOTE = ("Channels follow GA4's published default channel group rules for source, medium, campaign and "
            "referrer, so they approximate GA4's own grouping, which also uses Google Ads, Display & Video 360 "
            "and Search Ads 360 signals (gclid auto-tagging), its own up-to-date site lists and its session "
            "attribution.")

FIELDS = ("source", "medium", "campaign", "source_category")
MATCH_TYPES = ("exact", "begins_with", "ends_with", "contains", "full_regexp", "partial_regexp", "in_list")

_HOST = re.compile(r"^\s*(?:[a-z][a-z0-9+.\-]*:)?(?://)?(?:[^@/?#\s]*@)?([^:/?#\s]*)", re.IGNORECASE)
_PUBLIC_SUFFIX = r"(?:\.(?:com|co|net|org|ne|or|ac|gov|edu|[a-z]{2}))+$"  # .com, .co.uk, .com.au, .de …


@dataclass(frozen=True)
class Condition:
    """One field test of a rule: ``field`` matched by ``match_type`` against ``value`` (lower case)."""

    field: str
    match_type: str
    value: str | tuple[str, ...]


@dataclass(frozen=True)
class ChannelRules:
    """Channel rules read from a rules file.

    Attributes
    ----------
    channels : tuple of (str, tuple of tuple of Condition)
        Each channel's name and its conditions (any of the tuples; all conditions within one), in order.
    otherwise : str
        The channel of rows no rule matches.
    source_categories : Mapping[str, str]
        Lower-case source → category (``SOURCE_CATEGORY_SEARCH`` …).
    file : str
        The rules file.
    """

    channels: tuple[tuple[str, tuple[tuple[Condition, ...], ...]], ...]
    otherwise: str
    source_categories: Mapping[str, str]
    file: str

    @property
    def names(self) -> list[str]:
        """Every channel the rules can give, in order of precedence, ``otherwise`` last."""
        return list(dict.fromkeys([name for name, _ in self.channels] + [self.otherwise]))


def load_rules(path: str | os.PathLike | None = None) -> ChannelRules:
    """Read and check a channel rules file (the module docstring describes the format).

    Parameters
    ----------
    path : str or Path, optional
        The YAML file; relative paths are resolved by :func:`cjlib.paths.resolve`. ``None`` or ``""``
        gives the package's GA4 default channel group.

    Returns
    -------
    ChannelRules

    Raises
    ------
    DataError
        When the file is missing, not YAML, or breaks the format (rule ``channel_rules``); the message
        names the file.

    Examples
    --------
    >>> load_rules().names[:4]
    ['Direct', 'Cross-network', 'Paid Shopping', 'Paid Search']
    """
    return load_yaml_file(path, DEFAULT_RULES, what="channel rules", parameter="rules", rule="channel_rules",
                          parse=_rules_from_dict)


def _rules_from_dict(spec, path: str) -> ChannelRules:
    """The rules of a parsed rules file, checked."""
    p = Path(path)
    if not isinstance(spec, dict) or not isinstance(spec.get("channels"), list) or not spec["channels"]:
        raise _fail(path, "needs a 'channels:' list of {channel: name, any: [conditions]}")
    otherwise = spec.get("otherwise", "Unassigned")
    if not isinstance(otherwise, str) or not otherwise:
        raise _fail(path, f"'otherwise' must be a channel name, got {otherwise!r}")
    channels = tuple(_channel(entry, i, path) for i, entry in enumerate(spec["channels"], 1))
    cats = spec.get("source_categories")
    cats_path = (p.parent / str(cats)) if cats else DATA / "ga4_source_categories.csv"
    return ChannelRules(channels, otherwise, _source_categories(cats_path, path), path)


def _fail(path: str, message: str) -> DataError:
    return DataError(message, file=path, parameter="rules", rule="channel_rules")


def _channel(entry, i: int, path: str) -> tuple[str, tuple[tuple[Condition, ...], ...]]:
    """One ``{channel: name, any: [...]}`` entry, checked."""
    if not isinstance(entry, dict) or set(entry) != {"channel", "any"}:
        raise _fail(path, f"channel #{i} must have exactly the keys 'channel' and 'any', got {entry!r}")
    name, alternatives = entry["channel"], entry["any"]
    if not isinstance(name, str) or not name:
        raise _fail(path, f"channel #{i}: 'channel' must be a name, got {name!r}")
    if not isinstance(alternatives, list) or not alternatives:
        raise _fail(path, f"channel {name!r}: 'any' must be a non-empty list of conditions")
    conditions = []
    for alt in alternatives:
        if not isinstance(alt, dict) or not alt:
            raise _fail(path, f"channel {name!r}: each condition maps fields to tests, got {alt!r}")
        conditions.append(tuple(_condition(field, test, name, path) for field, test in alt.items()))
    return name, tuple(conditions)


def _condition(field, test, channel: str, path: str) -> Condition:
    """One ``field: {match_type: value}`` test, checked (regexes compiled once here)."""
    where = f"channel {channel!r}, field {field!r}"
    if field not in FIELDS:
        raise _fail(path, f"{where}: unknown field; use one of {', '.join(FIELDS)}")
    if not isinstance(test, dict) or len(test) != 1 or next(iter(test)) not in MATCH_TYPES:
        raise _fail(path, f"{where}: a test is one of {{{', '.join(MATCH_TYPES)}: value}}, got {test!r}")
    kind, value = next(iter(test.items()))
    if kind == "in_list":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise _fail(path, f"{where}: in_list needs a non-empty list of strings, got {value!r}")
        return Condition(field, kind, tuple(v.lower() for v in value))
    if not isinstance(value, str) or not value:
        raise _fail(path, f"{where}: {kind} needs a non-empty string, got {value!r}")
    if kind.endswith("regexp"):
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise _fail(path, f"{where}: not a valid regular expression {value!r} ({exc})") from None
        return Condition(field, kind, value)
    return Condition(field, kind, value.lower())


def _source_categories(path: Path, rules_file: str) -> dict[str, str]:
    """The source-category CSV as a lower-case ``{source: category}``."""
    if not path.is_file():
        raise _fail(rules_file, f"source_categories file not found: {path}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise _fail(rules_file, f"cannot read source_categories {path.name}: {exc}") from None
    if list(table.columns[:2]) != ["source", "source_category"]:
        raise _fail(rules_file, f"source_categories {path.name} needs the columns source, source_category")
    return dict(zip(table["source"].str.strip().str.lower(), table["source_category"].str.strip()))


def channel_group(source, medium, campaign=None, *, referrer=None,
                  rules: str | os.PathLike | ChannelRules | None = None) -> pd.Series:
    """GA4's default channel group of each row, from its source, medium, campaign and referrer.

    Vectorized: the rules run once per distinct (source, medium, campaign, referrer) combination, with
    pandas string operations, and the result is spread back to the rows.

    Parameters
    ----------
    source, medium : array-like or None
        One value per row (``utm_source`` / ``utm_medium``, GA4's ``traffic_source``); ``None``, NaN
        and ``""`` are missing. ``None`` for the whole argument: missing on every row.
    campaign : array-like, optional
        The campaign name per row (``utm_campaign``).
    referrer : array-like, optional
        The referring URL per row; used only where both source and medium are missing: source = the
        referrer's host without ``www.`` (a listed site's name such as ``google`` when the host is
        ``google.<country suffix>``), medium = ``referral``. Rows with no source, medium or referrer are
        ``(direct)`` / ``(none)``: Direct.
    rules : str, Path or ChannelRules, optional
        A rules file overriding the package's GA4 rules (format: the module docstring).

    Returns
    -------
    pandas.Series
        Categorical, named ``channel``, categories in order of precedence (only those present); the
        index of the first Series among the inputs (positions are matched, not labels), else a
        RangeIndex.

    Raises
    ------
    ValueError
        When the inputs differ in length, or none of source, medium, referrer is given.
    DataError
        When the rules file is missing or malformed.

    Examples
    --------
    >>> channel_group(["google", "facebook", "newsletter", None, "partner.example"],
    ...               ["cpc", "cpc", "email", None, "referral"]).tolist()
    ['Paid Search', 'Paid Social', 'Email', 'Direct', 'Referral']
    >>> channel_group(None, None, referrer=["https://www.bing.com/search?q=x", "https://blog.example.org/a",
    ...                                      ""]).tolist()
    ['Organic Search', 'Referral', 'Direct']
    """
    spec = rules if isinstance(rules, ChannelRules) else load_rules(rules)
    given = {"source": source, "medium": medium, "campaign": campaign, "referrer": referrer}
    columns, n, index = _columns(given)
    codes, labels = zip(*(_factorized(columns.get(k), n) for k in given))
    combos, inverse = _combinations(codes, [len(lab) for lab in labels])
    values = {k: labels[i][combos[:, i]] for i, k in enumerate(given)}
    src, med = _fill_source_medium(values["source"], values["medium"], values["referrer"],
                                   spec.source_categories)
    fields = {"source": src, "medium": med, "campaign": pd.Series(values["campaign"], dtype=object)}
    fields["source_category"] = src.map(spec.source_categories).fillna("").astype(str).str.lower()
    channel = _assign(fields, spec)
    names = [c for c in spec.names if c in set(channel)]
    code = pd.Index(names).get_indexer(channel)
    return pd.Series(pd.Categorical.from_codes(code[inverse], categories=names), index=index, name="channel")


def _columns(given: dict) -> tuple[dict[str, object], int, pd.Index]:
    """The given inputs as arrays of one length, that length, and the index of the result."""
    columns, index = {}, None
    for name, values in given.items():
        if values is None:
            continue
        if isinstance(values, (str, bytes)) or np.ndim(values) != 1:
            raise ValueError(f"{name} must be a one-dimensional array-like (one value per row), got "
                             f"{type(values).__name__}")
        if isinstance(values, pd.Series) and index is None:
            index = values.index
        columns[name] = values.to_numpy(dtype=object) if isinstance(values, pd.Series) \
            else np.asarray(values, dtype=object)
    if not {"source", "medium", "referrer"} & set(columns):
        raise ValueError("channel_group needs source and medium, or referrer")
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"source, medium, campaign and referrer must have one value per row; got lengths "
                         f"{lengths}")
    n = next(iter(lengths.values()))
    return columns, n, index if index is not None else pd.RangeIndex(n)


def _factorized(values, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes per row and the lower-case label of each code; missing (None, NaN, "") → the label ""."""
    if values is None:
        return np.zeros(n, dtype=np.intp), np.array([""], dtype=object)
    codes, uniques = pd.factorize(values)
    labels = pd.Series(uniques, dtype=object).astype(str).str.strip().str.lower().to_numpy(dtype=object)
    codes = np.where(codes < 0, len(labels), codes)
    return codes, np.append(labels, "").astype(object)


def _combinations(codes, sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of the code columns (one row per combination) and each row's combination."""
    if float(np.prod(sizes, dtype=float)) < 2.0**62:  # one int64 key per row: hashing, no sort
        key = np.zeros(len(codes[0]), dtype=np.int64)
        for c, size in zip(codes, sizes):
            key = key * size + c
        inverse, keys = pd.factorize(key)
        combos = np.empty((len(keys), len(codes)), dtype=np.int64)
        for i in range(len(codes) - 1, -1, -1):
            keys, combos[:, i] = np.divmod(keys, sizes[i])
        return combos, inverse
    inverse, uniques = pd.factorize(pd.MultiIndex.from_arrays(codes))
    return np.array(uniques.tolist(), dtype=np.int64).reshape(len(uniques), len(codes)), inverse


def _fill_source_medium(source: np.ndarray, medium: np.ndarray, referrer: np.ndarray,
                        categories: Mapping[str, str]) -> tuple[pd.Series, pd.Series]:
    """Source and medium where a row has neither: from the referrer's host, else (direct) / (none)."""
    src, med = pd.Series(source, dtype=object), pd.Series(medium, dtype=object)
    blank = (src == "") & (med == "")
    if not blank.any():
        return src, med
    host = pd.Series(referrer[blank.to_numpy()], dtype=object).str.extract(_HOST, expand=False)
    host = host.fillna("").str.replace(r"^www\d*\.", "", regex=True).str.rstrip(".")
    name = host.str.replace(_PUBLIC_SUFFIX, "", regex=True)  # google.co.uk → google
    listed = ~host.isin(categories.keys()) & name.isin(categories.keys())
    host = host.where(~listed, name)
    has_host = (host != "").to_numpy()
    src[blank] = np.where(has_host, host, "(direct)")
    med[blank] = np.where(has_host, "referral", "(none)")
    return src, med


def _assign(fields: dict[str, pd.Series], spec: ChannelRules) -> np.ndarray:
    """The first channel whose rule matches each row, else ``spec.otherwise``."""
    n = len(fields["source"])
    channel = np.full(n, spec.otherwise, dtype=object)
    done = np.zeros(n, dtype=bool)
    for name, alternatives in spec.channels:
        hit = np.zeros(n, dtype=bool)
        for conditions in alternatives:
            both = np.ones(n, dtype=bool)
            for cond in conditions:
                both &= _matches(fields[cond.field], cond)
            hit |= both
        new = hit & ~done
        channel[new] = name
        done |= hit
        if done.all():
            break
    return channel


def _matches(values: pd.Series, cond: Condition) -> np.ndarray:
    """Whether each (lower-case) value passes ``cond``."""
    s = values.astype(str)
    kind, v = cond.match_type, cond.value
    if kind == "exact":
        out = s == v
    elif kind == "in_list":
        out = s.isin(v)
    elif kind == "begins_with":
        out = s.str.startswith(v)
    elif kind == "ends_with":
        out = s.str.endswith(v)
    elif kind == "contains":
        out = s.str.contains(v, regex=False)
    elif kind == "full_regexp":
        out = s.str.fullmatch(v, flags=re.IGNORECASE)
    else:  # partial_regexp; pandas warns about groups in a pattern, which are fine here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            out = s.str.contains(v, regex=True, flags=re.IGNORECASE)
    return out.to_numpy(dtype=bool)
