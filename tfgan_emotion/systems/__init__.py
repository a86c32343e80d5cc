"""The registry of systems: one module per paper, each declaring its :class:`~.base.System` (the label-interpolation
cGAN declares one per dataset setup). Every command (train, evaluate, export, edit, compare, bench, study) and the
Python API look a system up here; none of them branches on a system's name.

    from tfgan_emotion import systems
    systems.names()                   # the recipe names, in paper order
    systems.get("caae_affectnet")     # the System

Adding a system means one new module listed in :data:`MODULES` and a ten-line recipe shim.
"""
from __future__ import annotations

import importlib

from .base import (BenchSpec, CompareSpec, Data, Plan, StudySpec, System, UsageError, evaluate_run,  # noqa: F401
                   export_from_run, main, reopen)

# The system modules, in the order commands list them.
MODULES = ("caae", "fexgan", "dcgan", "cgan", "ganmut")

_REGISTRY: dict[str, System] | None = None


def _registry() -> dict[str, System]:
    global _REGISTRY
    if _REGISTRY is None:
        reg = {}
        for mod in MODULES:
            for system in importlib.import_module(f"{__name__}.{mod}").SYSTEMS:
                if system.name in reg:
                    raise RuntimeError(f"two systems are named {system.name!r}")
                reg[system.name] = system
        _REGISTRY = reg
    return _REGISTRY


def names() -> list[str]:
    """Every registered recipe name."""
    return list(_registry())


def all_systems() -> list[System]:
    return list(_registry().values())


def get(name: str) -> System:
    """The system of a recipe name (``caae_affectnet``); KeyError naming the known ones."""
    reg = _registry()
    if name not in reg:
        raise KeyError(f"unknown system {name!r}; known: {', '.join(reg)}")
    return reg[name]
