"""Database building blocks shared by the apps' models."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.core.exceptions import EmptyResultSet
from django.db import connections, models
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


_Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class _Part:
    model: type[models.Model]
    attnames: list[str]
    pk_index: int
    # Per column: the column expression and the converters Django's compiler would apply.
    columns: list[tuple[Any, list[_Converter]]]


class ModelRow:
    """Instances of several models read from one hand-written SELECT, for a join that a page
    runs on every request: the statement is written once per process, where the ORM would
    compile it anew on each request.

    `columns()` lists each model's columns in turn, qualified by its alias; `read(row)` builds
    the instances from the start of a fetched row with the conversions Django's compiler
    applies (booleans and UUIDs on SQLite, JSON, decimals), None for a model that a LEFT JOIN
    did not find. The values after the models' columns are returned as they came."""

    def __init__(self, *parts: tuple[type[models.Model], str]) -> None:
        self.parts = parts
        self._by_vendor: dict[str, list[_Part]] = {}

    def columns(self, using: str = "default") -> str:
        quote = connections[using].ops.quote_name
        return ", ".join(
            f"{alias}.{quote(field.column)}"
            for model, alias in self.parts
            for field in model._meta.concrete_fields
        )

    def _parts(self, using: str) -> list[_Part]:
        connection = connections[using]
        if connection.vendor not in self._by_vendor:
            parts = []
            for model, alias in self.parts:
                fields = model._meta.concrete_fields
                columns = []
                for field in fields:
                    col = field.get_col(alias)
                    converters = [
                        *connection.ops.get_db_converters(col),
                        *col.get_db_converters(connection),
                    ]
                    columns.append((col, converters))
                pk_index = next(i for i, field in enumerate(fields) if field.primary_key)
                parts.append(_Part(model, [f.attname for f in fields], pk_index, columns))
            self._by_vendor[connection.vendor] = parts
        return self._by_vendor[connection.vendor]

    def read(self, row: Sequence[Any], using: str = "default") -> tuple[list[Any], Sequence[Any]]:
        connection = connections[using]
        instances: list[Any] = []
        start = 0
        for part in self._parts(using):
            values = list(row[start : start + len(part.columns)])
            start += len(part.columns)
            if values[part.pk_index] is None:
                instances.append(None)
                continue
            for i, (col, converters) in enumerate(part.columns):
                for convert in converters:
                    values[i] = convert(values[i], col, connection)
            instances.append(part.model.from_db(using, part.attnames, values))
        return instances, row[start:]
