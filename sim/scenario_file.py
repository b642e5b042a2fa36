"""Reading scenario files: YAML in, a validated ``Scenario`` or every problem at once out.

A planner who mistypes a key should get one line per problem naming the file, the key
path and the reason — never a traceback, never a run on half a scenario. The same reader
applies ``--set key=value`` overrides (sweeps and quick what-ifs) and ``--scale`` (a
smaller population and arrival rate, so CI can run every shipped scenario).

YAML is read with two tightenings: a duplicated key is an error (PyYAML would silently keep
the last), and only ``true``/``false`` are booleans, so Norway's ``NO`` stays a country.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mfa.errors import ProblemItem
from sim.scenario import CHANNELS, Scenario

__all__ = [
    "ScenarioError",
    "apply_overrides",
    "check_scenario",
    "dump_scenario",
    "format_path",
    "load_scenario",
    "parse_assignment",
    "parse_path",
    "scaled",
    "split_values",
]


class ScenarioError(ValueError):
    """A scenario could not be used; ``lines`` holds one "file: key: reason" per problem."""

    def __init__(self, source: str, problems: Sequence[ProblemItem]) -> None:
        self.source = source
        self.problems = list(problems)
        self.lines = [f"{source}: {p}" for p in self.problems]
        super().__init__("\n".join(self.lines))


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's yes/no/on/off booleans and with duplicate-key errors."""


_BOOL_TAG = "tag:yaml.org,2002:bool"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _mapping_without_duplicates,  # type: ignore[arg-type]
)


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)


# ---------------------------------------------------------------------------- key paths

_INDEX = re.compile(r"\[(\d+)\]")


def parse_path(key: str) -> list[str | int]:
    """``'providers[0].error_rate'`` or ``'providers.0.error_rate'`` → parts."""
    parts: list[str | int] = []
    for piece in _INDEX.sub(r".\1", key.strip()).split("."):
        if not piece:
            raise ValueError(f"{key!r} is not a key path (e.g. servers.count)")
        parts.append(int(piece) if piece.isdigit() else piece)
    return parts


def format_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def split_values(text: str) -> list[str]:
    """Split ``'1,2,4'`` on the commas outside brackets, so ``'[a, b],[c]'`` is two values."""
    values: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += char
    values.append(current.strip())
    return values


def parse_assignment(text: str) -> tuple[str, list[Any]]:
    """``'servers.count=1,2,4'`` → ``('servers.count', [1, 2, 4])`` (values read as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise ValueError(f"{text!r} is not KEY=VALUE[,VALUE...] (e.g. servers.count=1,2,4)")
    parse_path(key)
    values = []
    for piece in split_values(raw):
        try:
            values.append(_yaml(piece))
        except yaml.YAMLError:
            raise ValueError(f"{text!r}: {piece!r} is not a value") from None
    return key.strip(), values


def _set(tree: Any, parts: Sequence[str | int], value: Any, key: str) -> None:
    node = tree
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = format_path(parts[: depth + 1])
        if isinstance(node, dict) and not isinstance(part, int):
            if last:
                node[part] = value
                return
            if part not in node or not isinstance(node[part], dict | list):
                raise ValueError(f"--set {key}: {where} is not a section with keys")
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int):
            if part >= len(node):
                raise ValueError(f"--set {key}: {where} does not exist ({len(node)} entries)")
            if last:
                node[part] = value
                return
            node = node[part]
        else:
            raise ValueError(f"--set {key}: {where} does not fit the scenario's structure")


def apply_overrides(scenario: Scenario, overrides: Mapping[str, Any], source: str) -> Scenario:
    """A new scenario with ``key.path: value`` pairs applied on top of ``scenario``."""
    if not overrides:
        return scenario
    tree = scenario.model_dump(mode="json")
    problems: list[ProblemItem] = []
    for key, value in overrides.items():
        try:
            _set(tree, parse_path(key), value, key)
        except ValueError as exc:
            problems.append(ProblemItem(key, str(exc)))
    if problems:
        raise ScenarioError(source, problems)
    return _validate(tree, f"{source} with --set {', '.join(overrides)}")


# ---------------------------------------------------------------------------- validation


def _unwrap(annotation: Any, part: str | int) -> Any:
    """The type found one step down ``annotation`` at ``part``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None):
                return _unwrap(arg, part)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field else None
    if typing.get_origin(annotation) is typing.Annotated:
        return _unwrap(args[0], part)
    return None


def _known_keys(loc: Sequence[str | int]) -> list[str]:
    node: Any = Scenario
    for part in loc:
        node = _unwrap(node, part)
        if node is None:
            return []
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _reason(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listing = f" (known keys: {', '.join(known)})" if known and not close else ""
        return f"unknown key{hint}{listing}"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    scalar = isinstance(value, str | int | float | bool) or value is None
    if scalar and kind not in ("value_error", "assertion_error"):
        message += f" (got {value!r})"
    return message


def _problems(exc: ValidationError) -> list[ProblemItem]:
    problems = []
    for error in exc.errors():
        loc = list(error["loc"])
        if loc and loc[-1] == "[key]":
            expected = error.get("ctx", {}).get("expected")
            reason = f"unknown key {loc[-2]!r}" + (f"; expected {expected}" if expected else "")
            if not expected:
                reason = f"key {loc[-2]!r}: " + str(error["msg"]).removeprefix("Value error, ")
            problems.append(ProblemItem(format_path(loc[:-1]), reason))
            continue
        problems.append(ProblemItem(format_path(loc), _reason(error)))
    return problems


def check_scenario(scenario: Scenario) -> list[ProblemItem]:
    """Problems that span sections, which the per-section models cannot see."""
    problems: list[ProblemItem] = []
    population = scenario.population
    for country, share in population.countries.items():
        if share > 0 and country not in scenario.carriers and "default" not in scenario.carriers:
            problems.append(
                ProblemItem("carriers", f"no carriers for {country} and no 'default' entry")
            )
    carried = {channel for p in scenario.providers for channel in p.channels}
    for channel in CHANNELS:
        used = population.methods.get(channel, 0.0) > 0 or (
            population.backup_methods.get(channel, 0.0) > 0
        )
        if used and channel not in carried:
            problems.append(
                ProblemItem("providers", f"no provider carries {channel}, but users register it")
            )
    for i, piece in enumerate(scenario.arrivals.profile):
        if piece.start_s >= scenario.arrivals.duration_s:
            problems.append(
                ProblemItem(
                    f"arrivals.profile[{i}].start_s",
                    f"starts at or after arrivals.duration_s ({scenario.arrivals.duration_s:g})",
                )
            )
    if scenario.billing.licences > population.users:
        problems.append(
            ProblemItem(
                "billing.licences",
                f"{scenario.billing.licences} licences for {population.users} users",
            )
        )
    return problems


def _validate(tree: Any, source: str) -> Scenario:
    if not isinstance(tree, dict):
        kind = "a list" if isinstance(tree, list) else type(tree).__name__
        raise ScenarioError(
            source, [ProblemItem("(top level)", f"a scenario is a mapping of keys, not {kind}")]
        )
    try:
        scenario = Scenario.model_validate(tree)
    except ValidationError as exc:
        raise ScenarioError(source, _problems(exc)) from None
    problems = check_scenario(scenario)
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def load_scenario(
    path: str | Path, *, overrides: Mapping[str, Any] | None = None, scale: float = 1.0
) -> Scenario:
    """Read, validate, override and scale a scenario file; ``ScenarioError`` lists problems."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, [ProblemItem("(file)", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError(source, [ProblemItem("(file)", "is a directory")]) from None
    except UnicodeDecodeError:
        raise ScenarioError(source, [ProblemItem("(file)", "is not UTF-8 text")]) from None
    except OSError as exc:
        raise ScenarioError(source, [ProblemItem("(file)", exc.strerror or str(exc))]) from None
    try:
        tree = _yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        reason = f"YAML: {exc.problem or exc.context}"
        raise ScenarioError(source, [ProblemItem(where, reason)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [ProblemItem("(yaml)", str(exc))]) from None
    if tree is None:
        raise ScenarioError(
            source, [ProblemItem("(file)", "is empty; write {} for a scenario of defaults")]
        )
    scenario = _validate(tree, source)
    scenario = apply_overrides(scenario, overrides or {}, source)
    return scaled(scenario, scale) if scale != 1.0 else scenario


def scaled(scenario: Scenario, factor: float) -> Scenario:
    """Users, licences and every arrival rate (the attackers' request rates too)
    multiplied by ``factor``; capacities kept.

    Capacities stay as they are on purpose: a reduced run checks that a scenario works, not
    where its bottleneck is.
    """
    if factor <= 0:
        raise ValueError("the scale factor must be positive")
    tree = scenario.model_dump(mode="json")
    population = tree["population"]
    population["users"] = max(1, round(population["users"] * factor))
    tree["billing"]["licences"] = min(
        population["users"], round(tree["billing"]["licences"] * factor)
    )
    for piece in tree["arrivals"]["profile"]:
        piece["rate_per_s"] *= factor
    for attack in (tree.get("attacks") or {}).values():
        if attack:  # an attacker is a population too: its request rate scales with it
            attack["rate_per_s"] *= factor
    return Scenario.model_validate(tree)


def dump_scenario(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML (what ``scenario.yaml`` in a run dir holds)."""
    return yaml.safe_dump(
        scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100
    )
