"""A local stand-in for the checkpoint server: ranges, dropped connections, wrong bytes."""

from __future__ import annotations

import hashlib
import io
import re
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sam2_studio.app.models import CheckpointSpec, ModelManager


@dataclass
class FakeServer:
    url: str
    files: dict[str, bytes] = field(default_factory=dict)
    drop_after: int | None = None      # close the connection after this many body bytes
    ignore_range: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            server.requests.append({"path": self.path, "range": self.headers.get("Range", "")})
            data = server.files.get(self.path.rsplit("/", 1)[-1])
            if data is None:
                self.send_error(404, "Not Found")
                return
            start = 0
            m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if m and not server.ignore_range:
                start = int(m.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if server.drop_after is not None:
                self.wfile.write(body[: server.drop_after])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server():
    fake = FakeServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield fake
    httpd.shutdown()
    httpd.server_close()


def fake_checkpoint(extra: bytes = b"") -> bytes:
    """A zip like torch.save's, ~300 kB; ``extra`` makes another file of the same kind."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("archive/data.pkl", (2024, 7, 28, 0, 0, 0)),
                   bytes(range(256)) * 1200 + extra)
    return buf.getvalue()


PAYLOAD = fake_checkpoint()


def small_catalog(payload: bytes = PAYLOAD) -> tuple[CheckpointSpec, ...]:
    """One checkpoint with a published size and checksum, one without (like SAM 2.1)."""
    return (
        CheckpointSpec("sam2_hiera_tiny", "https://example.invalid/072824/sam2_hiera_tiny.pt",
                       len(payload), hashlib.sha256(payload).hexdigest()),
        CheckpointSpec("sam2.1_hiera_tiny", "https://example.invalid/092824/sam2.1_hiera_tiny.pt",
                       None, None),
    )


class Verifier:
    """Stands in for sam2_studio.model.load_checkpoint: accepts ``fake_checkpoint`` files."""

    def __init__(self):
        self.calls: list[tuple[Path, str | None]] = []

    def __call__(self, path: Path, variant: str | None):
        from sam2_studio.errors import StudioError

        self.calls.append((Path(path), variant))
        if not zipfile.is_zipfile(path) or zipfile.ZipFile(path).namelist() != ["archive/data.pkl"]:
            raise StudioError("unexpected keys: image_encoder.trunk.pos_embed", path)
        return object()


@pytest.fixture
def verifier() -> Verifier:
    return Verifier()


@pytest.fixture
def manager(tmp_path, server, verifier) -> ModelManager:
    return ModelManager(tmp_path / "models", verifier=verifier, mirror=server.url,
                        catalog=small_catalog(), chunk_size=16_384, timeout_s=10)


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    """No test touches the real user data directory."""
    monkeypatch.setenv("SAM2_STUDIO_DATA_DIR", str(tmp_path / "user-data"))
    monkeypatch.delenv("SAM2_STUDIO_MODEL_MIRROR", raising=False)


@pytest.fixture(scope="session")
def car(data_dir, tmp_path_factory):
    """The car clip as a video file with audio, and its ground truth (tests/app/headless.py)."""
    from tests.ground_truth import load_clip
    from tests.media.clips import encode

    from .headless import FPS, CarClip

    truth = load_clip(data_dir / "davis16_car-shadow", count=10, scale=0.25)
    video = encode(tmp_path_factory.mktemp("car") / "car.mp4", truth.frames, rate=FPS,
                   audio="aac", audio_seconds=0.4)
    return CarClip(video, truth)
