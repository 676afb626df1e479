"""A command for every registered task (:mod:`tamelab.tasks`) that has no hand-written command.

Tasks named ``<group>-<name>`` for a group below become ``tamelab <group> <name>``.
"""

from __future__ import annotations

import typer

from .._build import add_task_command, task_group

#: sub-command groups: group → (help, {sub-command: task}).
GROUPS = {
    "construct": (
        "Explicit constructions of global minimizers, with certificates.",
        {"chen-ewald": "construct-chen-ewald"},
    ),
    "study": (
        "Reproduce a paper's empirical study (writes result.json and a figure).",
        {"relu-prime-zero": "study-relu-prime-zero", "adam-vs-nag": "study-adam-vs-nag"},
    ),
}


def register(app: typer.Typer) -> None:
    """Add the task commands not registered by another command module."""
    from ...tasks import all_tasks

    taken = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    grouped = {t for _, members in GROUPS.values() for t in members.values()}
    for group, (help_text, members) in GROUPS.items():
        if group not in taken:
            task_group(app, group, help_text, members)
    for name in all_tasks():
        if name not in taken and name not in grouped:
            add_task_command(app, name)
