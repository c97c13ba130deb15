import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_demo_sign_ins_and_twice_changes_nothing(capsys):
    call_command("seed_demo")
    first = list(User.objects.order_by("username").values("id", "username", "is_superuser"))
    call_command("seed_demo")

    assert list(User.objects.order_by("username").values("id", "username", "is_superuser")) == first
    assert [(u["username"], u["is_superuser"]) for u in first] == [
        ("admin", True),
        ("finance", False),
    ]
    assert authenticate(username="admin", password="admin").is_staff
    assert authenticate(username="finance", password="finance") is not None
    assert "finance / finance" in capsys.readouterr().out


def test_seed_demo_restores_a_changed_demo_password():
    call_command("seed_demo")
    finance = User.objects.get(username="finance")
    finance.set_password("something-else")
    finance.save()

    call_command("seed_demo")

    assert authenticate(username="finance", password="finance") is not None
