"""Errors that services raise; the API turns them into the contract's envelope, pages into messages."""


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors


class InvalidInput(ServiceError):
    status_code = 400

    @classmethod
    def field(cls, name: str, problem: str) -> "InvalidInput":
        return cls(f"{name}: {problem}", errors={name: [problem]})


class NotAllowed(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class TooManyAttempts(ServiceError):
    """Refused for a while (a login lockout): the API adds Retry-After."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int, errors: dict[str, list[str]] | None = None):
        super().__init__(message, errors=errors)
        self.retry_after = retry_after
