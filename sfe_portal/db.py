"""Database building blocks shared by the apps' models."""

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.db.models.lookups import In
from django.db.models.sql.compiler import SQLCompiler


def choices_check(
    field: str, choices: type[models.TextChoices], name: str
) -> models.CheckConstraint:
    """A CHECK constraint so the database itself refuses a value outside the field's choices."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


def id_array(values: Iterable[UUID | int]) -> str:
    """PostgreSQL: ids (UUIDs or integers) written as one array literal, for the statement to
    cast (`CAST(%s AS uuid[])`): one text parameter however many ids, where psycopg would adapt
    a list element by element. Neither a UUID nor an integer can hold a character an array
    literal would need quoted."""
    return "{" + ",".join(map(str, values)) + "}"


class AnyOf(In):
    """`field__any_of=values`: `field__in`, with the values sent as one array parameter on
    PostgreSQL (`= ANY(%s)`) instead of a placeholder each, for the push's reads of a thousand
    ids at a time. Elsewhere, the plain IN."""

    lookup_name = "any_of"

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[Any]]:
        if not self.rhs_is_direct_value():
            sql, params = self.as_sql(compiler, connection)
            return sql, list(params)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # As IN does: no NULL (never equal to anything), no repeats, nothing to match nothing.
        values = [value for value in dict.fromkeys(self.rhs) if value is not None]
        if not values:
            raise EmptyResultSet
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection, prepared=True) for value in values]
        if all(type(value) in (UUID, int) for value in values):
            array = f"{field.db_type(connection)}[]"
            return f"{lhs} = ANY(CAST(%s AS {array}))", [*lhs_params, id_array(values)]
        return f"{lhs} = ANY(%s)", [*lhs_params, values]


models.UUIDField.register_lookup(AnyOf)
models.ForeignKey.register_lookup(AnyOf)
