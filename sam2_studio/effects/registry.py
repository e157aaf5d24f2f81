"""The effects on offer: the built-ins plus plugins found in folders and entry points.

Plugins come, in this order of precedence, from the application's ``plugins/`` folder, the
user's plugins folder (the app passes ``platformdirs.user_data_dir("sam2-studio")/plugins``)
and the ``sam2_studio.effects`` entry point group of installed packages. A plugin is a
``.py`` file or a package folder; every concrete :class:`Effect` subclass it defines is
registered (an entry point may also name a class or a list of classes). A plugin that fails
to import, defines an invalid effect, reuses a taken id or raises while rendering is
recorded in :attr:`Registry.problems` under its name and disabled; the rest carries on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import re
import sys
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sam2_studio.effects import params as P
from sam2_studio.effects.colour import Colorize, ColourPop, Recolour
from sam2_studio.effects.cutout import Cutout, Erase
from sam2_studio.effects.effect import API_VERSION, Effect, Target
from sam2_studio.effects.errors import EffectError
from sam2_studio.effects.highlight import Overlay, Spotlight
from sam2_studio.effects.removal import ObjectRemoval
from sam2_studio.effects.stack import EffectEntry
from sam2_studio.effects.stylize import Blur, Pixelate

BUILTIN_EFFECTS: tuple[type[Effect], ...] = (
    ObjectRemoval,
    Pixelate,
    Blur,
    ColourPop,
    Recolour,
    Colorize,
    Overlay,
    Cutout,
    Spotlight,
    Erase,
)
ENTRY_POINT_GROUP = "sam2_studio.effects"
_ID = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


@dataclass(frozen=True)
class EffectInfo:
    """A registered effect and where it came from (``plugin`` is None for a built-in)."""

    cls: type[Effect]
    plugin: str | None
    source: str

    @property
    def id(self) -> str:
        return self.cls.id


@dataclass(frozen=True)
class PluginProblem:
    """Why a plugin (or one of its effects) is not available, in words for the user."""

    plugin: str
    source: str
    message: str
    details: str = ""  # the traceback, for a "details" button or a bug report


def bundled_plugins_dir() -> Path:
    """The application's ``plugins/`` folder (next to the package in a source checkout)."""
    return Path(__file__).resolve().parents[2] / "plugins"


def _validate(cls: type[Effect]) -> None:
    if not isinstance(cls.id, str) or not _ID.match(cls.id):
        raise EffectError(f"effect id {cls.id!r} must be lowercase letters, digits, '_', '.', '-'")
    if not cls.label:
        raise EffectError(f"effect {cls.id!r} needs a label")
    if cls.api_version > API_VERSION:
        raise EffectError(
            f"effect {cls.id!r} needs plugin API {cls.api_version}; this version offers "
            f"{API_VERSION}"
        )
    if not cls.targets or any(not isinstance(t, Target) for t in cls.targets):
        raise EffectError(f"effect {cls.id!r}: targets must be a non-empty tuple of Target")
    if cls.apply is Effect.apply:
        raise EffectError(f"effect {cls.id!r} does not implement apply()")
    try:
        P.specs(cls.Params)
        P.to_dict(cls.Params())
    except (TypeError, EffectError) as exc:
        raise EffectError(f"effect {cls.id!r} has unusable parameters: {exc}") from exc


def _effects_in(module: ModuleType) -> list[type[Effect]]:
    name = module.__name__
    found = []
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Effect)
            and value is not Effect
            and value.id
            and (value.__module__ == name or value.__module__.startswith(name + "."))
        ):
            found.append(value)
    return found


class Registry:
    """Effects by id, with the plugins that provided them and what went wrong."""

    def __init__(self, builtins: bool = True) -> None:
        self._effects: dict[str, EffectInfo] = {}
        self._disabled: dict[str, PluginProblem] = {}  # plugin name -> why
        self.problems: list[PluginProblem] = []
        if builtins:
            for cls in BUILTIN_EFFECTS:
                self.register(cls)

    # -- lookup ---------------------------------------------------------------------------
    def find(self, effect_id: str) -> type[Effect] | None:
        """The effect class, even when its plugin is disabled (to read stored parameters)."""
        info = self._effects.get(effect_id)
        return None if info is None else info.cls

    def get(self, effect_id: str) -> type[Effect] | None:
        """The effect class if it may be used now, else None."""
        info = self._effects.get(effect_id)
        if info is None or (info.plugin is not None and info.plugin in self._disabled):
            return None
        return info.cls

    def info(self, effect_id: str) -> EffectInfo | None:
        return self._effects.get(effect_id)

    def available(self) -> list[EffectInfo]:
        """Usable effects in menu order: built-ins first, then plugins by label."""
        usable = [i for i in self._effects.values() if self.get(i.id) is not None]
        return sorted(usable, key=lambda i: (0, "") if i.plugin is None else (1, i.cls.label))

    def unavailable_reason(self, effect_id: str) -> str | None:
        """Why an effect cannot render (unknown, or its plugin disabled); None if it can."""
        info = self._effects.get(effect_id)
        if info is None:
            return f"effect {effect_id!r} is not installed"
        if info.plugin is not None and info.plugin in self._disabled:
            return f"plugin {info.plugin!r} is disabled: {self._disabled[info.plugin].message}"
        return None

    def entry(
        self, effect_id: str, target: Target | str | None = None, **params: Any
    ) -> EffectEntry:
        """A stack entry for an effect with some parameters changed from their defaults."""
        cls = self.get(effect_id)
        if cls is None:
            raise EffectError(self.unavailable_reason(effect_id) or effect_id)
        chosen = Target(target) if target is not None else cls.targets[0]
        if chosen not in cls.targets:
            raise EffectError(f"{cls.label} cannot act on the {chosen.value}")
        return EffectEntry(effect_id, P.updated(cls.Params(), **params), chosen)

    # -- registration ---------------------------------------------------------------------
    def register(
        self, cls: type[Effect], plugin: str | None = None, source: str = "built-in"
    ) -> None:
        """Add an effect; EffectError if it is invalid or its id is taken."""
        if not (isinstance(cls, type) and issubclass(cls, Effect)):
            raise EffectError(f"{cls!r} is not an Effect subclass")
        _validate(cls)
        taken = self._effects.get(cls.id)
        if taken is not None:
            owner = "a built-in effect" if taken.plugin is None else f"plugin {taken.plugin!r}"
            raise EffectError(f"effect id {cls.id!r} is already used by {owner}")
        self._effects[cls.id] = EffectInfo(cls, plugin, source)

    def _problem(self, plugin: str, source: str, message: str, details: str = "") -> PluginProblem:
        problem = PluginProblem(plugin, source, message, details)
        self.problems.append(problem)
        return problem

    def disable(self, plugin: str, message: str, details: str = "") -> PluginProblem:
        """Stop using a plugin's effects (its stack entries are kept, and skipped)."""
        source = next((i.source for i in self._effects.values() if i.plugin == plugin), plugin)
        problem = self._problem(plugin, source, message, details)
        self._disabled[plugin] = problem
        return problem

    def enable(self, plugin: str) -> None:
        """Give a disabled plugin another chance (e.g. after the user fixed its settings)."""
        self._disabled.pop(plugin, None)

    def disabled(self) -> dict[str, PluginProblem]:
        return dict(self._disabled)

    def report_failure(self, effect_id: str, exc: BaseException) -> PluginProblem:
        """An effect raised while rendering: disable its plugin and say so."""
        info = self._effects[effect_id]
        assert info.plugin is not None, "built-in effects are not disabled, their errors raise"
        details = "".join(traceback.format_exception(exc))
        return self.disable(
            info.plugin, f"effect {info.cls.label!r} failed while rendering: {exc}", details
        )

    def add_plugin(self, plugin: str, source: str, effects: Iterable[type[Effect]]) -> int:
        """Register a plugin's effects; each one that cannot be used becomes a problem."""
        added = 0
        for cls in effects:
            try:
                self.register(cls, plugin, source)
                added += 1
            except EffectError as exc:
                self._problem(plugin, source, str(exc))
        return added

    # -- discovery ------------------------------------------------------------------------
    def load_folder(self, folder: str | Path) -> list[str]:
        """Load every plugin in a folder; returns the names of those that loaded."""
        folder = Path(folder)
        if not folder.is_dir():
            return []
        loaded = []
        tag = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:8]
        for path in sorted(folder.iterdir()):
            if path.name.startswith(("_", ".")):
                continue
            if path.is_dir() and (path / "__init__.py").is_file():
                entry, name = path / "__init__.py", path.name
            elif path.suffix == ".py" and path.is_file():
                entry, name = path, path.stem
            else:
                continue
            module = self._import(f"sam2_studio_plugins_{tag}.{name}", entry, name)
            if module is None:
                continue
            effects = _effects_in(module)
            if not effects:
                self._problem(name, str(path), "defines no Effect subclass with an id")
                continue
            if self.add_plugin(name, str(path), effects):
                loaded.append(name)
        return loaded

    def _import(self, module_name: str, path: Path, plugin: str) -> ModuleType | None:
        is_package = path.name == "__init__.py"
        spec = importlib.util.spec_from_file_location(
            module_name, path,
            submodule_search_locations=[str(path.parent)] if is_package else None,
        )  # fmt: skip
        if spec is None or spec.loader is None:
            self._problem(plugin, str(path), "cannot be imported")
            return None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and relative imports look it up
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - any failure of foreign code is reported
            if isinstance(exc, KeyboardInterrupt):
                raise
            sys.modules.pop(module_name, None)
            self._problem(
                plugin, str(path), f"failed to load: {type(exc).__name__}: {exc}",
                "".join(traceback.format_exception(exc)),
            )  # fmt: skip
            return None
        return module

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Load plugins that installed packages declare in the entry point ``group``."""
        loaded = []
        for ep in importlib.metadata.entry_points(group=group):
            source = f"entry point {ep.name} = {ep.value}"
            try:
                obj = ep.load()
            except Exception as exc:  # noqa: BLE001
                self._problem(
                    ep.name, source, f"failed to load: {type(exc).__name__}: {exc}",
                    "".join(traceback.format_exception(exc)),
                )  # fmt: skip
                continue
            if isinstance(obj, ModuleType):
                effects = _effects_in(obj)
            elif isinstance(obj, type):
                effects = [obj]
            elif isinstance(obj, (list, tuple)):
                effects = list(obj)
            else:
                self._problem(ep.name, source, f"names {obj!r}, not an Effect class or module")
                continue
            if self.add_plugin(ep.name, source, effects):
                loaded.append(ep.name)
        return loaded


def load_registry(
    user_dir: str | Path | None = None,
    *,
    app_dir: str | Path | None = None,
    entry_points: bool = True,
    extra_dirs: Sequence[str | Path] = (),
) -> Registry:
    """The registry the application uses: built-ins, then every place plugins come from."""
    registry = Registry()
    registry.load_folder(bundled_plugins_dir() if app_dir is None else app_dir)
    if user_dir is not None:
        registry.load_folder(user_dir)
    for folder in extra_dirs:
        registry.load_folder(folder)
    if entry_points:
        registry.load_entry_points()
    return registry


def resolve_params(entry: EffectEntry, cls: type[Effect]) -> Any:
    """The entry's parameters as ``cls.Params`` (entries loaded while a plugin was away
    hold a plain dict)."""
    if isinstance(entry.params, cls.Params):
        return entry.params
    if isinstance(entry.params, dict):
        return P.from_dict(cls.Params, entry.params)
    if dataclasses.is_dataclass(entry.params):
        return P.from_dict(cls.Params, P.to_dict(entry.params))
    raise EffectError(f"{cls.id}: parameters {entry.params!r} are not {cls.Params.__name__}")
