"""What a worker or web process loaded at start-up is frozen out of the cyclic collector's
sight once it is ready, so full collections during a push or a request no longer walk it."""

from __future__ import annotations

import gc
import runpy
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.signals import worker_process_init, worker_ready


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    yield
    gc.unfreeze()


@pytest.mark.parametrize("signal", [worker_process_init, worker_ready], ids=lambda s: s.name)
def test_a_celery_worker_freezes_what_it_loaded_once_ready(unfrozen, signal):
    signal.send(sender=None)

    assert gc.get_freeze_count() > 1000


def test_a_gunicorn_worker_freezes_what_it_loaded_once_the_app_is_loaded(unfrozen):
    config = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))

    config["post_worker_init"](object())

    assert gc.get_freeze_count() > 1000
