"""A real S3 API on loopback: moto's standalone server (a pinned dev dependency, so it is always
there and these tests never skip), one bucket per test, and the settings and environment that
put receipts in it for this process and the workers it starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

from sfe_portal.settings import s3_receipts_storage

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sfe-test-key", "AWS_SECRET_ACCESS_KEY": "sfe-test-secret"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **CREDENTIALS},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(url + "/moto-api/", timeout=5)
            break
        except (requests.ConnectionError, requests.Timeout):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"moto's S3 server did not start on {url}")
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=15)


@dataclass
class Bucket:
    name: str
    endpoint: str
    client: Any

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.name)
        return [item["Key"] for item in listing.get("Contents", [])]


@pytest.fixture
def s3_bucket(moto_server: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """Receipts go to a fresh private bucket, here and in every worker started after this."""
    name = f"sfe-receipts-{uuid.uuid4().hex[:12]}"
    for key, value in {
        **CREDENTIALS,
        "AWS_STORAGE_BUCKET_NAME": name,
        "AWS_S3_ENDPOINT_URL": moto_server,
        "AWS_S3_REGION_NAME": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=moto_server, region_name=REGION)
    client.create_bucket(Bucket=name)
    settings.AWS_STORAGE_BUCKET_NAME = name
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_receipts_storage(
            bucket=name, endpoint_url=moto_server, region=REGION, expire=300
        ),
    }
    return Bucket(name=name, endpoint=moto_server, client=client)
