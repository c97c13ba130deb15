"""Database building blocks shared by the apps' models."""

from django.db import models
from django.db.models import Q


def choices_check(
    field: str, choices: type[models.TextChoices], name: str
) -> models.CheckConstraint:
    """A CHECK constraint so the database itself refuses a value outside the field's choices."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)
