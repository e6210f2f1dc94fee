"""Thin tasks: ids in, the service does the work; each is safe to run twice."""

import datetime as dt

from celery import shared_task


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5, soft_time_limit=60, time_limit=90)
def offers_make(account_id, room_id, provider_id, consultation_id, start, end):
    from waitlist.services import offers_make as make

    hold = make(
        account_id=account_id,
        room_id=room_id,
        provider_id=provider_id,
        consultation_id=consultation_id,
        start=dt.datetime.fromisoformat(start),
        end=dt.datetime.fromisoformat(end),
    )
    return hold and hold.pk


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5, soft_time_limit=60, time_limit=90)
def offers_roll(hold_id):
    from waitlist.services import offers_roll as roll

    return roll(hold_id=hold_id)


@shared_task(soft_time_limit=120, time_limit=150)
def offers_sweep():
    from waitlist.services import offers_sweep as sweep

    return sweep()
