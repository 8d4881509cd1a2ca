"""The stage map: journey stages in order, the events that signal each, conversions, named journeys.

Everything stage-aware reads a :class:`StageMap`; nothing in cjlib hard-codes event names. The default
map is ``data/stage_map.yml`` (the five-stage purchase journey); its comments document the format.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

from cjlib.errors import DataError
from cjlib.paths import DATA_DIR, resolve
from cjlib.reading import read_text

__all__ = ["Stage", "Journey", "StageMap", "load_stage_map", "DEFAULT_STAGE_MAP"]

DEFAULT_STAGE_MAP = DATA_DIR / "stage_map.yml"

Step = str | tuple[str, ...]


@dataclass(frozen=True)
class Stage:
    """One journey stage: reached at the ``nth`` occurrence of any of ``events``."""

    name: str
    events: tuple[str, ...]
    nth: int = 1
    description: str = ""


@dataclass(frozen=True)
class Journey:
    """A named journey: ordered steps, each a stage name, an event name or a tuple of alternatives."""

    name: str
    steps: tuple[Step, ...]
    description: str = ""


@dataclass(frozen=True)
class StageMap:
    """Stages in order, conversion events, known non-stage events and named journeys.

    Examples
    --------
    >>> sm = load_stage_map()
    >>> sm.stage_names
    ['awareness', 'consideration', 'purchase', 'retention', 'advocacy']
    >>> sm.conversion_events
    ('purchase',)
    >>> sm.stage_of("product_view")
    'consideration'
    """

    stages: tuple[Stage, ...]
    conversion_events: tuple[str, ...]
    other_events: tuple[str, ...] = ()
    journeys: Mapping[str, Journey] = field(default_factory=dict)
    default_journey: str | None = None
    source: str | None = None
    cart_events: tuple[str, ...] = ()
    checkout_journey: str | None = None

    @property
    def stage_names(self) -> list[str]:
        """Stage names in journey order."""
        return [s.name for s in self.stages]

    @property
    def known_events(self) -> frozenset[str]:
        """Every event the map names: stage signals, conversions and other events."""
        names = {e for s in self.stages for e in s.events}
        return frozenset(names | set(self.conversion_events) | set(self.other_events))

    @property
    def event_to_stage(self) -> dict[str, str]:
        """Each stage event's base stage: the stage listing it with ``nth == 1``, else the first listing it.

        Occurrences from the ``nth`` on of an event listed under an ``nth > 1`` stage belong to that stage
        instead; :func:`cjlib.journeys.assign_stages` applies that rule to an event log.
        """
        out: dict[str, str] = {}
        for s in self.stages:
            if s.nth == 1:
                for e in s.events:
                    out.setdefault(e, s.name)
        for s in self.stages:
            for e in s.events:
                out.setdefault(e, s.name)
        return out

    def stage_of(self, event: str) -> str | None:
        """The base stage of ``event`` (``None`` for other or unknown events)."""
        return self.event_to_stage.get(event)

    def stage(self, name: str) -> Stage:
        """The :class:`Stage` called ``name``."""
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"unknown stage {name!r}; stages are {self.stage_names}")

    def journey(self, name: str | None = None) -> Journey:
        """The named journey (default: ``default_journey``, else all stages in order)."""
        name = name or self.default_journey
        if name is None:
            return Journey("stages", tuple(self.stage_names))
        if name not in self.journeys:
            raise ValueError(f"journey must be one of {sorted(self.journeys)}, got {name!r}")
        return self.journeys[name]

    @property
    def conversion_stage(self) -> str | None:
        """The first stage whose events include a conversion event (``None`` when no stage does)."""
        conv = set(self.conversion_events)
        return next((s.name for s in self.stages if conv & set(s.events)), None)

    def ambiguous_names(self) -> list[str]:
        """Names that are both a stage and an event the map lists (a bare step name means the stage)."""
        events = {e for s in self.stages for e in s.events} | set(self.conversion_events) | set(self.other_events)
        return [n for n in self.stage_names if n in events]

    def is_stage(self, step: str) -> bool:
        """Whether ``step`` names a stage (stage names take precedence over event names)."""
        return step in self.stage_names


def _fail(path: str, message: str, rule: str = "stage_map") -> DataError:
    return DataError(message, file=path, rule=rule)


def _as_names(value, path: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence) or not value or not all(isinstance(v, str) for v in value):
        raise _fail(path, f"{where} must be a name or a non-empty list of names, got {value!r}")
    return tuple(value)


def stage_map_from_dict(spec: Mapping, source: str = "<dict>") -> StageMap:
    """Build and check a :class:`StageMap` from its parsed YAML form (see ``data/stage_map.yml``).

    Parameters
    ----------
    spec : Mapping
        ``stages`` (each ``name``, ``events``, optional ``nth`` and ``description``) and
        ``conversion_events``; optional ``other_events``, ``journeys``, ``default_journey``,
        ``cart_events`` and ``checkout_journey``.
    source : str, default "<dict>"
        Where the spec came from, named in errors and kept as the map's source.

    Returns
    -------
    StageMap
        The checked map.
    """
    if not isinstance(spec, Mapping):
        raise _fail(source, "the stage map must be a mapping with a 'stages' list")
    unknown = set(spec) - {"stages", "conversion_events", "other_events", "journeys", "default_journey",
                           "cart_events", "checkout_journey"}
    if unknown:
        raise _fail(source, f"unknown keys {sorted(unknown)}")
    raw_stages = spec.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise _fail(source, "'stages' must be a non-empty list")
    stages = []
    for i, raw in enumerate(raw_stages):
        if not isinstance(raw, Mapping) or "name" not in raw or "events" not in raw:
            raise _fail(source, f"stage #{i + 1} needs 'name' and 'events'")
        nth = raw.get("nth", 1)
        if not isinstance(nth, int) or nth < 1:
            raise _fail(source, f"stage {raw['name']!r}: nth must be a positive integer, got {nth!r}")
        stages.append(
            Stage(str(raw["name"]), _as_names(raw["events"], source, f"stage {raw['name']!r} events"),
                  nth, str(raw.get("description", "")))
        )
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise _fail(source, f"stage names must be unique, got {names}")
    if "conversion_events" not in spec:
        raise _fail(source, "'conversion_events' is required")
    conversions = _as_names(spec["conversion_events"], source, "conversion_events")
    others = _as_names(spec["other_events"], source, "other_events") if spec.get("other_events") else ()
    if not isinstance(spec.get("journeys") or {}, Mapping):
        raise _fail(source, f"'journeys' must map journey names to their steps, got {spec['journeys']!r}")
    journeys = {}
    for jname, raw in (spec.get("journeys") or {}).items():
        raw = raw if isinstance(raw, Mapping) else {"steps": raw}
        steps = raw.get("steps")
        if not isinstance(steps, list) or len(steps) < 2:
            raise _fail(source, f"journey {jname!r} needs a list of at least 2 steps")
        journeys[str(jname)] = Journey(
            str(jname),
            tuple(s if isinstance(s, str) else _as_names(s, source, f"journey {jname!r} step") for s in steps),
            str(raw.get("description", "")),
        )
    default = spec.get("default_journey")
    if default is not None and default not in journeys:
        raise _fail(source, f"default_journey {default!r} is not among the journeys {sorted(journeys)}")
    carts = _as_names(spec["cart_events"], source, "cart_events") if spec.get("cart_events") else ()
    checkout = spec.get("checkout_journey")
    if checkout is not None and checkout not in journeys:
        raise _fail(source, f"checkout_journey {checkout!r} is not among the journeys {sorted(journeys)}")
    return StageMap(tuple(stages), conversions, others, MappingProxyType(journeys), default, source,
                    carts, checkout)


def yaml_path(path: str | os.PathLike | None, default: Path, *, what: str, parameter: str) -> Path:
    """The YAML file a parameter names (``default`` for None or ``""``), checked to be an existing file.

    One format for every YAML input (stage map, channel rules): :class:`DataError` naming the parameter,
    rule ``file_exists``.

    Parameters
    ----------
    path : str, PathLike or None
        The parameter's value; relative paths are resolved by :func:`cjlib.paths.resolve`.
    default : Path
        The file used when ``path`` is empty.
    what : str
        What the file holds, for the message ("stage map", "channel rules").
    parameter : str
        The parameter's name.

    Returns
    -------
    Path

    Examples
    --------
    >>> yaml_path(None, DEFAULT_STAGE_MAP, what="stage map", parameter="stage_map_path").name
    'stage_map.yml'
    >>> yaml_path(3, DEFAULT_STAGE_MAP, what="stage map", parameter="stage_map_path")
    Traceback (most recent call last):
    ...
    cjlib.errors.DataError: parameter 'stage_map_path': rule file_exists: the stage map must be a file name, got int 3
    """
    if path and not isinstance(path, (str, os.PathLike)):
        raise DataError(f"the {what} must be a file name, got {type(path).__name__} {path!r}",
                        parameter=parameter, rule="file_exists")
    p = resolve(path) if path else default
    if not p.is_file():
        problem = "is a folder, not a file" if p.is_dir() else "file not found"
        raise DataError(f"{what} {problem}", file=str(p), parameter=parameter, rule="file_exists")
    return p


def read_yaml(path: Path, *, what: str, parameter: str, rule: str) -> object:
    """The parsed YAML of ``path`` (UTF-8 text, :func:`cjlib.reading.read_text`), or :class:`DataError`
    (``rule``) naming the file when it is not YAML.

    Parameters
    ----------
    path : Path
        An existing file (:func:`yaml_path`).
    what, parameter : str
        As in :func:`yaml_path`.
    rule : str
        The rule named when the text is not YAML.

    Returns
    -------
    object
        What ``yaml.safe_load`` gives.
    """
    try:
        return yaml.safe_load(read_text(path, what, parameter))
    except yaml.YAMLError as exc:
        raise DataError(f"not valid YAML ({exc.__class__.__name__})", file=str(path), parameter=parameter,
                        rule=rule) from exc


def load_yaml_file(path: str | os.PathLike | None, default: Path, *, what: str, parameter: str, rule: str,
                   parse: Callable[[object, str], object]):
    """A YAML input read, parsed by ``parse(spec, file)`` and cached per file version (:func:`yaml_path`,
    :func:`read_yaml`): the stage map and the channel rules load this way, so they fail alike.

    Parameters
    ----------
    path, default, what, parameter : as in :func:`yaml_path`
    rule : str
        The rule named when the text is not YAML.
    parse : callable
        ``parse(spec, file)`` → the immutable result (shared between callers, so it must not change).

    Returns
    -------
    What ``parse`` returns.
    """
    p = yaml_path(path, default, what=what, parameter=parameter)
    return _parsed(str(p), p.stat().st_mtime_ns, what, parameter, rule, parse)


@functools.lru_cache(maxsize=32)
def _parsed(path: str, mtime_ns: int, what: str, parameter: str, rule: str, parse):
    """Parse a YAML input once per file version (the result is immutable, so sharing it is safe)."""
    return parse(read_yaml(Path(path), what=what, parameter=parameter, rule=rule), path)


def load_stage_map(path: str | Path | None = None) -> StageMap:
    """Read a stage map from YAML (default ``data/stage_map.yml``).

    Parameters
    ----------
    path : str or Path, optional
        The YAML file; relative paths are resolved by :func:`cjlib.paths.resolve`. ``None`` or ``""`` gives the default.

    Returns
    -------
    StageMap
        The map, checked by :func:`stage_map_from_dict`.

    Raises
    ------
    DataError
        When the path is not a path, the file is missing, not UTF-8 text (rule ``encoding``), not YAML, or
        breaks the format; the message names the file.
    """
    return load_yaml_file(path, DEFAULT_STAGE_MAP, what="stage map", parameter="stage_map_path", rule="stage_map",
                          parse=stage_map_from_dict)
