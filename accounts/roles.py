"""Roles and their ranks: viewer < executor < editor < admin.

FlowRunner's `user` role is stored as given and ranks as `editor`.
"""

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EXECUTOR = "executor", "Executor"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"
    USER = "user", "User (editor)"


RANKS = {Role.VIEWER: 1, Role.EXECUTOR: 2, Role.EDITOR: 3, Role.USER: 3, Role.ADMIN: 4}


def rank(role: str | None) -> int:
    """The rank of a role; 0 for no role."""
    return RANKS.get(role, 0) if role else 0


def at_least(role: str | None, minimum: str) -> bool:
    return rank(role) >= rank(minimum)
