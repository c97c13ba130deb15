"""The client over a real socket (loopback only): what `responses` cannot show, because it
replaces the transport — the streamed multipart body as urllib3 really sends it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from codat import CodatClient
from tests.codat.conftest import API_KEY, COMPANY_ID, SYNC_ID, TRANSACTION_ID


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        answer = json.dumps(
            {"id": "att-1", "companyId": COMPANY_ID, "transactionId": TRANSACTION_ID}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Recorder.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/codat"
    httpd.shutdown()
    httpd.server_close()


def _file_part(headers: dict[str, str], body: bytes):
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body
    )
    (part,) = list(message.iter_parts())
    return part


def test_a_receipt_file_is_streamed_as_a_well_formed_multipart_body(server, tmp_path):
    receipt = tmp_path / "receipt.pdf"
    content = b"%PDF-1.7\n" + bytes(range(256)) * 2000
    receipt.write_bytes(content)
    client = CodatClient(server, API_KEY, timeout=5.0)

    with receipt.open("rb") as handle:
        attachment = client.upload_attachment(
            COMPANY_ID,
            SYNC_ID,
            TRANSACTION_ID,
            file=handle,
            file_name="receipt.pdf",
            content_type="application/pdf",
        )

    ((headers, body),) = _Recorder.received
    part = _file_part(headers, body)
    assert attachment.id == "att-1"
    assert headers["Content-Length"] == str(len(body))
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "receipt.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_payload(decode=True) == content


def test_an_unsized_stream_is_sent_chunked_and_arrives_whole(server):
    class Unsized:
        def __init__(self, data: bytes) -> None:
            self._data = data

        def read(self, size: int = -1) -> bytes:
            chunk, self._data = (
                (self._data, b"") if size < 0 else (self._data[:size], self._data[size:])
            )
            return chunk

    client = CodatClient(server, API_KEY, timeout=5.0)

    client.upload_attachment(
        COMPANY_ID,
        SYNC_ID,
        TRANSACTION_ID,
        file=Unsized(b"a" * 100_000),
        file_name="r.txt",
        content_type="text/plain",
    )

    ((headers, body),) = _Recorder.received
    assert headers.get("Transfer-Encoding") == "chunked"
    assert _file_part(headers, body).get_payload(decode=True) == b"a" * 100_000
