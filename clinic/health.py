"""Probes for the load balancer or orchestrator: /healthz (the process answers) and /readyz (it can
reach what it needs). Both answer without a login and are never cached."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection

from clinic.api_errors import envelope

log = logging.getLogger(__name__)

# Seconds readyz waits for the broker; a probe must answer before the load balancer gives up on it.
BROKER_CHECK_TIMEOUT = 2


@never_cache
@require_safe
def healthz(request):
    """Liveness: touches nothing outside this process, so a database outage never restarts it."""
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=BROKER_CHECK_TIMEOUT,
    ) as broker:
        broker.ensure_connection(max_retries=0, timeout=BROKER_CHECK_TIMEOUT)


CHECKS: dict[str, Callable[[], None]] = {"database": _database, "broker": _broker}


def readiness_check_register(name: str, check: Callable[[], None]) -> None:
    """A dependency of another app that /readyz checks too (`check` raises when it is down). Apps
    register theirs in AppConfig.ready, since clinic imports no app."""
    CHECKS[name] = check


@never_cache
@require_safe
def readyz(request):
    """Readiness: 200 when every dependency answers, else 503 naming the ones that did not."""
    results, down = {}, []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # whatever the failure, this node cannot serve with it
            log.warning("readyz: %s unreachable: %r", name, exc)
            results[name] = f"unreachable ({type(exc).__name__})"
            down.append(name)
        else:
            results[name] = "ok"
    if not down:
        return JsonResponse({"status": "ready", "checks": results})
    response = JsonResponse(
        {**envelope(503, f"Not ready: {', '.join(down)} unreachable."), "checks": results}, status=503
    )
    response["Retry-After"] = str(settings.OUTAGE_RETRY_AFTER)
    return response
