"""A company's Codat call slots: never more held than the setting allows, freed when the work
ends (even by an error), and reclaimed from a holder that died once its lease runs out."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gateway.call_slots import CallSlotsBusy, call_slot_acquire, call_slot_release, codat_call_slot
from gateway.models import CodatCallGate, CodatCallSlot
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def limit_two(settings):
    settings.CODAT_MAX_CALLS_PER_COMPANY = 2
    settings.CODAT_CALL_SLOT_LEASE_S = 600


def test_a_company_gets_as_many_slots_as_the_setting_and_no_more(limit_two):
    company = CompanyFactory()
    call_slot_acquire(company_id=company.pk, holder="a")
    call_slot_acquire(company_id=company.pk, holder="b")

    with pytest.raises(CallSlotsBusy, match="CODAT_MAX_CALLS_PER_COMPANY") as busy:
        call_slot_acquire(company_id=company.pk, holder="c")

    assert busy.value.retry_in > 0
    assert CodatCallSlot.objects.filter(company=company).count() == 2


def test_one_busy_company_does_not_hold_back_another(limit_two):
    busy, other = CompanyFactory(), CompanyFactory()
    for holder in ("a", "b"):
        call_slot_acquire(company_id=busy.pk, holder=holder)

    call_slot_acquire(company_id=other.pk, holder="c")

    assert CodatCallSlot.objects.filter(company=other).count() == 1


def test_a_released_slot_can_be_taken_again(limit_two):
    company = CompanyFactory()
    first = call_slot_acquire(company_id=company.pk, holder="a")
    call_slot_acquire(company_id=company.pk, holder="b")

    call_slot_release(first)

    call_slot_acquire(company_id=company.pk, holder="c")
    assert sorted(CodatCallSlot.objects.values_list("holder", flat=True)) == ["b", "c"]


def test_the_slot_of_a_holder_that_died_is_reclaimed_when_its_lease_ends(limit_two):
    company = CompanyFactory()
    then = timezone.now()
    call_slot_acquire(company_id=company.pk, holder="died-a", now=then)
    call_slot_acquire(company_id=company.pk, holder="died-b", now=then)
    with pytest.raises(CallSlotsBusy):
        call_slot_acquire(company_id=company.pk, holder="too-soon", now=then + timedelta(minutes=9))

    call_slot_acquire(company_id=company.pk, holder="later", now=then + timedelta(minutes=10))

    assert list(CodatCallSlot.objects.values_list("holder", flat=True)) == ["later"]


def test_the_block_gives_its_slot_back_even_when_the_work_fails(limit_two):
    company = CompanyFactory()

    def failing_work() -> None:
        with codat_call_slot(company.pk, holder="a"):
            assert CodatCallSlot.objects.filter(company=company).count() == 1
            raise RuntimeError("Codat went away")

    with pytest.raises(RuntimeError):
        failing_work()

    assert not CodatCallSlot.objects.exists()


def test_spare_slots_are_taken_only_while_one_stays_free(settings):
    from gateway.call_slots import call_slots_acquire_free, codat_spare_call_slots

    settings.CODAT_MAX_CALLS_PER_COMPANY = 4
    company = CompanyFactory()
    call_slot_acquire(company_id=company.pk, holder="task")

    with codat_spare_call_slots(company.pk, holder="lanes", up_to=5) as spare:
        assert spare == 2
        assert call_slots_acquire_free(company_id=company.pk, holder="more", up_to=1) == []
        call_slot_acquire(company_id=company.pk, holder="a poll")  # the one left free

    assert sorted(CodatCallSlot.objects.values_list("holder", flat=True)) == ["a poll", "task"]


def test_a_company_has_one_call_gate_however_many_slots_it_takes(limit_two):
    company = CompanyFactory()

    for holder in ("a", "b"):
        call_slot_release(call_slot_acquire(company_id=company.pk, holder=holder))
    call_slot_acquire(company_id=company.pk, holder="c")

    assert CodatCallGate.objects.filter(company=company).count() == 1


@pytest.mark.django_db(transaction=True)  # the receiver closes the worker's connections
def test_a_worker_starting_gives_back_the_slots_its_earlier_run_died_holding(settings):
    from celery.signals import celeryd_after_setup

    settings.CODAT_MAX_CALLS_PER_COMPANY = 3
    company = CompanyFactory()
    for holder in (
        "syncs.send_batches:7f1c@portal@host-1",  # the earlier run of the worker starting
        "syncs.poll_sync:9a2e@portal@host-1",
        "syncs.poll_sync:5b3d@portal@host-2",  # another worker, alive
    ):
        call_slot_acquire(company_id=company.pk, holder=holder)
    with pytest.raises(CallSlotsBusy):
        call_slot_acquire(company_id=company.pk, holder="next")

    celeryd_after_setup.send(sender="portal@host-1", instance=None, conf=None)

    assert list(CodatCallSlot.objects.values_list("holder", flat=True)) == [
        "syncs.poll_sync:5b3d@portal@host-2"
    ]
    # The company's work goes on at once instead of after the dead run's lease.
    call_slot_acquire(company_id=company.pk, holder="next")
