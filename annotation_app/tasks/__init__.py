"""Task-type plugins. A task type declares its name, its page, its submit payload schema
(pydantic), its validation, its gold scoring (optional) and its export to ``pixmo`` records.

Add a task type: write ``annotation_app/tasks/<name>.py`` with a ``TaskType`` subclass, call
``register(MyTask())`` at import, and add the module name to ``BUILTIN`` below. See
docs/annotation_app.md ("How to add a task type").
"""

from __future__ import annotations

import importlib
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fastapi import APIRouter
from pydantic import BaseModel, ValidationError

from pixmo.shards import Annotation, Sample

BUILTIN = ["pointing", "counting", "caption", "ama", "point_explanations", "pairwise"]


class PayloadError(ValueError):
    """A submitted payload is invalid; the message names the field and the problem (HTTP 422)."""


@dataclass
class ItemContext:
    """What a task type sees of an item (no database objects)."""

    id: int
    width: int
    height: int
    image_sha256: str
    image_url: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    campaign_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class ItemSeed:
    """One item to create from an imported image: ``key`` tells items of one image apart."""

    key: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    gold: dict[str, Any] | None = None


class TaskType:
    """Base class of task types; subclasses set the class variables and override what they need."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    template: ClassVar[str] = "task.html"  # page under annotation_app/templates
    script: ClassVar[str] = ""  # widget under annotation_app/static/tasks/
    default_instructions: ClassVar[str] = ""  # shown when the campaign has none
    keys_help: ClassVar[str] = ""  # trusted HTML listing the page's keyboard shortcuts
    Payload: ClassVar[type[BaseModel]]
    subsets: ClassVar[tuple[str, ...]] = ()  # pixmo subsets it can export, default first

    # --- payloads ---
    def parse(self, data: Any, item: ItemContext) -> BaseModel:
        """Validate a submit payload against the schema and the item; raises PayloadError."""
        try:
            payload = self.Payload.model_validate(data)
        except ValidationError as err:
            raise PayloadError(format_validation(err)) from None
        self.check(payload, item)
        return payload

    def check(self, payload: Any, item: ItemContext) -> None:
        """Checks that need the item (image size, given label...)."""

    def verify_steps(self, payload: Any, assignment: Any, user_id: int) -> Generator[Any, Any, Any]:
        """Checks against what the server stored (recordings, drafts), run inside the submit's
        transaction: yield ``annotation_app.sql.Op`` statements, raise PayloadError, and return the
        payload to store (the server's own copy of anything it vouches for)."""
        return payload
        yield  # a generator without statements

    def check_config(self, config: dict[str, Any]) -> None:
        """Refuse (PayloadError) a campaign config this type cannot work with, at campaign creation."""

    # --- items ---
    def item_view(self, item: ItemContext) -> dict[str, Any]:
        """Task data the page needs besides the image (label, prefill...)."""
        return dict(item.spec)

    def seeds(self, sample: Sample | None, config: dict[str, Any], as_gold: bool = False) -> list[ItemSeed]:
        """Items to create for an imported image (``sample`` is None for plain images)."""
        return [ItemSeed()]

    # --- quality and export ---
    def parse_gold(self, gold: Any, item: ItemContext) -> dict[str, Any]:
        """Validate a gold answer for ``item`` like a submit; returns it in stored form."""
        raise PayloadError(f"task type {self.name!r} has no gold answers")

    def score(self, payload: dict[str, Any], gold: dict[str, Any], item: ItemContext,
              config: dict[str, Any]) -> dict[str, float] | None:
        """Metrics of one answer against a gold answer (None: this type has no gold scoring)."""
        return None

    def export(self, payload: dict[str, Any], item: ItemContext, subset: str, meta: dict[str, Any]) -> list[Annotation]:
        return []

    def proof_check(self, conn: Any, campaign_id: int) -> Any:
        """For export: a function (payload, submitter id) -> whether the answer's proof (e.g. its audio)
        is what the server recorded for that submitter; None when this type carries no proof."""
        return None

    def router(self) -> APIRouter | None:
        """Extra routes of this task type (mounted under /api/tasks/<name>)."""
        return None


def format_validation(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(payload)"
        parts.append(f"{loc}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


_REGISTRY: dict[str, TaskType] = {}
_loaded = False


def register(task: TaskType) -> TaskType:
    if not task.name or not task.name.replace("_", "").isalnum():
        raise ValueError(f"task type name {task.name!r} must be letters, digits or '_'")
    _REGISTRY[task.name] = task
    return task


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for mod in BUILTIN:
            importlib.import_module(f"annotation_app.tasks.{mod}")


def get_task_type(name: str) -> TaskType:
    _load()
    if name not in _REGISTRY:
        raise KeyError(f"unknown task type {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def task_types() -> dict[str, TaskType]:
    """Every task type: the built-ins in BUILTIN's order (whichever module was imported first; pages
    and the API list them in this order), then plugins in registration order."""
    _load()
    rank = {m.rsplit(".", 1)[-1]: i for i, m in enumerate(BUILTIN)}
    names = sorted(_REGISTRY, key=lambda n: rank.get(_REGISTRY[n].__module__.rsplit(".", 1)[-1], len(rank)))
    return {n: _REGISTRY[n] for n in names}
