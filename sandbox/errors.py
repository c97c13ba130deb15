"""Codat's `ErrorMessage` bodies. Every error the sandbox answers on its API surface has this
shape, with a fresh correlation id, so clients can be tested against what Codat really sends."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import JsonResponse

# The standard texts of API-NOTES §6.2.
DEFAULT_TEXT = {
    400: "Error processing request - not valid.",
    401: "Unauthorized",
    404: "Not Found",
    409: "The data set has not been requested.",
    422: "Unprocessable Content",
    429: "You have made too many requests in a given amount of time; please retry later.",
    500: "There is a problem with our server. Please try again later.",
    502: "An error occurred in a downstream service. Please try again later.",
    503: "The Codat API is temporarily offline for maintenance. Please try again later.",
}
VALIDATION_TEXT = (
    "There are problems with the request, see the Validation property for more detail."
)
MALFORMED_QUERY = "Error parsing query - Malformed query."


class ApiError(Exception):
    """Raised anywhere below a view; the API decorator turns it into an ErrorMessage response."""

    def __init__(
        self,
        status: int,
        error: str | None = None,
        *,
        service: str = "PublicApi",
        validation: list[dict[str, Any]] | None = None,
        can_be_retried: str = "Unknown",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.error = error or DEFAULT_TEXT.get(status, "Error")
        self.service = service
        self.validation = validation
        self.can_be_retried = can_be_retried
        self.headers = headers or {}
        super().__init__(self.error)


def error_body(
    status: int,
    error: str,
    *,
    service: str = "PublicApi",
    validation: list[dict[str, Any]] | None = None,
    can_be_retried: str = "Unknown",
) -> dict[str, Any]:
    return {
        "statusCode": status,
        "service": service,
        "error": error,
        "correlationId": uuid.uuid4().hex,
        "validation": ({"errors": validation, "warnings": []} if validation is not None else None),
        "canBeRetried": can_be_retried,
        "detailedErrorCode": 0,
    }


def error_response(exc: ApiError) -> JsonResponse:
    response = JsonResponse(
        error_body(
            exc.status,
            exc.error,
            service=exc.service,
            validation=exc.validation,
            can_be_retried=exc.can_be_retried,
        ),
        status=exc.status,
    )
    for name, value in exc.headers.items():
        response[name] = value
    return response


def validation_error(items: list[dict[str, Any]], service: str = "ExpenseSyncApi") -> ApiError:
    return ApiError(400, VALIDATION_TEXT, service=service, validation=items, can_be_retried="No")


def company_not_found(company_id: object) -> ApiError:
    return ApiError(404, f"No company was found with ID {company_id}", service="ClientsApi")
