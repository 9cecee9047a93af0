"""A local broker of a test's own, in a temporary state dir, from the running stack's jars."""

from __future__ import annotations

import os
import shutil

from pjs.services.kafka import LocalKafka
from pjs.settings import Settings


def link_stack_jars(kafka: LocalKafka) -> None:
    """Hard-link the running stack's broker jars, so a test's own broker does not fetch them again."""
    stack_libs = Settings().state_dir / "kafka" / "libs"
    if (stack_libs / ".complete").exists():
        shutil.copytree(stack_libs, kafka.libs_dir, copy_function=os.link)
