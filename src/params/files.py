"""Reading, overriding, writing and flattening job files (``params/<job>.yaml``).

papermill only warns about unknown parameters; this module does not: every key of a job
file is checked against :class:`src.params.schema.JobParams` before any notebook starts.
Unknown keys and wrong types are :class:`ParamsError`\\ s that name the file and the dotted
key (with a "did you mean" where a key is close to a known one).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from src.layout import RunLayout
from src.params.moved import saved_run_horizons
from src.params.schema import JobParams
from src.paths import PARAMS_DIR, PROJECT_ROOT


class ParamsError(Exception):
    """A job parameter file is missing, unreadable or invalid.

    Attributes
    ----------
    file : the parameter file.
    problems : one human-readable line per problem, each naming the dotted key.
    """

    def __init__(self, file: Path | str, problems: list[str], overrides: list[str] | None = None):
        self.file = Path(file)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        given = f" with {', '.join(overrides)}" if overrides else ""
        super().__init__(f"invalid job parameters in {self.file}{given}:\n{lines}")


def params_path(job: str | Path) -> Path:
    """A job name (``demo`` -> ``params/demo.yaml``) or a path to a YAML file."""
    p = Path(job)
    if p.suffix in {".yaml", ".yml"}:
        return p if p.is_absolute() else (Path.cwd() / p if (Path.cwd() / p).exists() else PROJECT_ROOT / p)
    return PARAMS_DIR / f"{job}.yaml"


def _suggest(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    close = difflib.get_close_matches(key, list(model.model_fields), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the parent of ``loc`` (for 'did you mean')."""
    model: Any = JobParams
    for part in loc[:-1]:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = args[0] if args else ann
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def format_validation_error(err: ValidationError,
                            overrides: dict[str, Any] | None = None) -> list[str]:
    """One line per problem, naming the dotted key, what was wrong and what was given.

    A problem under a key given by ``overrides`` (``--set KEY=VALUE``) says so, so the job
    file is not blamed for the command line."""
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not str(p).startswith("function-after"))
        if loc and loc[-1] == "[key]":  # the name of a mapping's entry is what is wrong
            name = ".".join(str(p) for p in loc[:-1])
            lines.append(f"key '{name}': not an allowed name here: {e['msg']}"
                         + _from_set(name, overrides))
            continue
        key = ".".join(str(p) for p in loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}'{_suggest(str(loc[-1]), _model_at(loc))}")
        elif e["type"] == "missing":
            lines.append(f"missing key '{key}'")
        else:
            given = e.get("input")
            shown = "" if isinstance(given, dict) else f" (got {given!r})"
            lines.append(f"key '{key}': {e['msg']}{shown}")
        lines[-1] += _from_set(key, overrides)
    return lines


def _from_set(key: str, overrides: dict[str, Any] | None) -> str:
    """`` (from --set K=V)`` when ``key`` is, or lies under or above, an override's key."""
    for dotted, value in (overrides or {}).items():
        if key == dotted or key.startswith(dotted + ".") or dotted.startswith(key + "."):
            return f" (from --set {dotted}={value!r})"
    return ""


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> list[str]:
    """Set each dotted key of ``overrides`` in the job mapping ``raw`` (in place).

    Returns one problem line per override that cannot be set (a parent key holding a value,
    not keys); intermediate mappings missing from the file are created."""
    problems = []
    for dotted, value in overrides.items():
        node: Any = raw
        *parents, leaf = dotted.split(".")
        path: list[str] = []
        for part in parents:
            path.append(part)
            node = node.setdefault(part, {}) if isinstance(node, dict) else node
            if not isinstance(node, dict):
                problems.append(f"--set {dotted}={value!r}: '{'.'.join(path)}' holds a value "
                                f"({node!r}), not keys; set '{'.'.join(path)}' itself")
                break
        else:
            node[leaf] = value
    return problems


def is_run_params_file(path: Path) -> bool:
    """``path`` is a run folder's record of its params: ``params.yaml`` beside the run's
    ``manifest.json`` (:class:`src.layout.RunLayout`)."""
    layout = RunLayout(path.parent)
    return path == layout.params_file and layout.manifest_file.exists()


def load_params(job: str | Path, overrides: dict[str, Any] | None = None, *,
                saved_run: bool | None = None) -> JobParams:
    """Read and validate a job file.

    Parameters
    ----------
    job : job name (``params/<job>.yaml``) or a path to a YAML file.
    overrides : dotted keys to replace after reading, e.g. ``{"data.synthetic.n_customers": 500}``.
    saved_run : the file is a run folder's record of its params (``params.yaml`` beside a
        ``manifest.json``; None: decided by that), written by whatever version ran it: keys
        that have moved since are read as that version meant them
        (:func:`src.params.moved.saved_run_horizons`) instead of refused.

    Raises
    ------
    ParamsError : file missing, not YAML, or not matching the schema (each problem names its key).
    """
    path = params_path(job)
    if not path.exists():
        have = sorted(p.stem for p in PARAMS_DIR.glob("*.yaml"))
        raise ParamsError(path, [f"file not found; jobs in params/: {have}"])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(path, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise ParamsError(path, ["the file must hold a mapping of keys (job:, notebooks:, data:, ...)"])
    if saved_run if saved_run is not None else is_run_params_file(path):
        raw = saved_run_horizons(raw)
    given = [f"--set {k}={v!r}" for k, v in (overrides or {}).items()]
    problems = apply_overrides(raw, overrides or {})
    if problems:
        raise ParamsError(path, problems, given)
    try:
        return JobParams.model_validate(raw)
    except ValidationError as exc:
        raise ParamsError(path, format_validation_error(exc, overrides), given) from exc


def dump_params(params: JobParams, path: Path) -> Path:
    """Write the validated parameters (defaults filled in) as YAML; returns ``path``."""
    data = params.model_dump(mode="json")
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def flatten(params: JobParams, max_len: int = 500) -> dict[str, str]:
    """Dotted ``key -> value`` strings for MLflow's ``log_params`` (values cut to ``max_len``)."""
    out: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = str(node)[:max_len]

    walk("", params.model_dump(mode="json"))
    return out

