import hashlib
import json
import socket
import zipfile
from pathlib import Path

import pytest

from sam2_studio.app.models import (CATALOG, CheckpointSpec, DownloadCancelled, DownloadError, ModelError,
                                    ModelInputError, ModelManager, NoNetworkError)

from .conftest import PAYLOAD, fake_checkpoint, small_catalog


def test_catalog_matches_the_published_list(shared_dir):
    rows = (shared_dir / "reference" / "checkpoints.tsv").read_text().splitlines()[1:]
    published = {}
    for row in rows:
        variant, url, size, sha = (row.split("\t") + ["", ""])[:4]
        published[variant] = (url, int(size) if size else None, sha or None)
    assert {s.variant: (s.url, s.size, s.sha256) for s in CATALOG} == published
    assert len(CATALOG) == 8 and {s.family for s in CATALOG} == {"SAM 2", "SAM 2.1"}
    assert {s.model_size for s in CATALOG} == {"tiny", "small", "base_plus", "large"}


def test_download_with_progress_and_checksum(manager, server):
    server.files["sam2_hiera_tiny.pt"] = PAYLOAD
    seen = []
    path = manager.download("sam2_hiera_tiny", progress=lambda d, t: seen.append((d, t)))
    assert path == manager.root / "sam2_hiera_tiny.pt" and path.read_bytes() == PAYLOAD
    assert seen[0] == (0, len(PAYLOAD)) and seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    visible = [p.name for p in manager.root.iterdir() if not p.name.startswith(".")]
    assert sorted(visible) == ["registry.json", "sam2_hiera_tiny.pt"]
    assert manager.path_for("sam2_hiera_tiny") == path
    assert manager.download("sam2_hiera_tiny") == path and len(server.requests) == 1  # no refetch
    (result,) = manager.verify()
    assert result.ok and result.checks == ("exists", "size", "sha256", "strict load")


def test_an_interrupted_download_resumes_with_a_range_request(manager, server):
    server.files["sam2_hiera_tiny.pt"] = PAYLOAD
    server.drop_after = 100_000
    with pytest.raises(DownloadError, match="run the download again to resume"):
        manager.download("sam2_hiera_tiny")
    part = manager.root / "sam2_hiera_tiny.pt.part"
    assert not (manager.root / "sam2_hiera_tiny.pt").exists()       # never under the final name
    assert part.stat().st_size == 100_000
    (status,) = [s for s in manager.statuses() if s.spec.variant == "sam2_hiera_tiny"]
    assert status.state == "partial download" and status.partial_bytes == 100_000
    server.drop_after = None
    seen = []
    path = manager.download("sam2_hiera_tiny", progress=lambda d, t: seen.append(d))
    assert server.requests[-1]["range"] == "bytes=100000-" and seen[0] == 100_000
    assert path.read_bytes() == PAYLOAD and not part.exists()


def test_a_server_ignoring_ranges_restarts_cleanly(manager, server):
    server.files["sam2_hiera_tiny.pt"] = PAYLOAD
    (manager.root).mkdir(parents=True)
    (manager.root / "sam2_hiera_tiny.pt.part").write_bytes(PAYLOAD[:5000])
    server.ignore_range = True
    assert manager.download("sam2_hiera_tiny").read_bytes() == PAYLOAD


def test_a_complete_partial_file_is_only_checked(manager, server):
    manager.root.mkdir(parents=True)
    (manager.root / "sam2_hiera_tiny.pt.part").write_bytes(PAYLOAD)
    assert manager.download("sam2_hiera_tiny").read_bytes() == PAYLOAD
    assert server.requests == []


def test_a_checksum_mismatch_removes_the_download(manager, server):
    bad = bytearray(PAYLOAD)
    bad[1234] ^= 1
    server.files["sam2_hiera_tiny.pt"] = bytes(bad)
    with pytest.raises(DownloadError, match="is corrupt: its SHA-256 is .* It was removed"):
        manager.download("sam2_hiera_tiny")
    assert list(p.name for p in manager.root.glob("sam2_hiera_tiny*")) == []
    assert manager.installed("sam2_hiera_tiny") is None


def test_a_wrong_size_is_refused_before_downloading_it(manager, server):
    server.files["sam2_hiera_tiny.pt"] = PAYLOAD + b"extra"
    with pytest.raises(DownloadError, match=f"offers {len(PAYLOAD) + 5:,} bytes"):
        manager.download("sam2_hiera_tiny")


def test_sam21_checksum_is_learned_from_the_first_good_download(manager, server, verifier):
    server.files["sam2.1_hiera_tiny.pt"] = PAYLOAD
    path = manager.download("sam2.1_hiera_tiny")
    assert verifier.calls == [(manager.root / "sam2.1_hiera_tiny.pt.part", "sam2.1_hiera_tiny")]
    assert manager.expected_sha256("sam2.1_hiera_tiny") == hashlib.sha256(PAYLOAD).hexdigest()
    path.unlink()
    other = fake_checkpoint(b"other")                       # loads, but is not the same file
    server.files["sam2.1_hiera_tiny.pt"] = other
    with pytest.raises(DownloadError, match="corrupt"):
        manager.download("sam2.1_hiera_tiny", force=True)


def test_sam21_download_that_does_not_load_is_removed(manager, server):
    server.files["sam2.1_hiera_tiny.pt"] = b"<html>captive portal</html>" * 100
    with pytest.raises(DownloadError, match="not a usable checkpoint .*unexpected keys"):
        manager.download("sam2.1_hiera_tiny")
    assert not list(manager.root.glob("sam2.1*")) and manager.expected_sha256("sam2.1_hiera_tiny") is None


def test_without_the_model_layer_nothing_is_learned(tmp_path, server):
    def unavailable(path, variant):
        raise ImportError("cannot import name 'load_checkpoint'")

    m = ModelManager(tmp_path, verifier=unavailable, mirror=server.url, catalog=small_catalog())
    server.files["sam2.1_hiera_tiny.pt"] = PAYLOAD
    m.download("sam2.1_hiera_tiny")
    assert m.expected_sha256("sam2.1_hiera_tiny") is None
    (result,) = m.verify()
    assert result.ok and "strict load" not in result.checks
    server.files["sam2.1_hiera_small.pt"] = b"<html>please log in</html>"
    m.catalog += (CheckpointSpec("sam2.1_hiera_small", "https://x.invalid/sam2.1_hiera_small.pt",
                                 None, None),)
    with pytest.raises(DownloadError, match="not a PyTorch checkpoint archive"):
        m.download("sam2.1_hiera_small")


def test_no_network_says_so_plainly(tmp_path, verifier):
    with socket.socket() as s:                  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = ModelManager(tmp_path, verifier=verifier, mirror=f"http://127.0.0.1:{port}",
                     catalog=small_catalog())
    with pytest.raises(NoNetworkError, match="no network: cannot reach 127.0.0.1 .*models add PATH"):
        m.download("sam2_hiera_tiny")
    m = ModelManager(tmp_path, verifier=verifier, mirror="http://no-such-host.invalid",
                     catalog=small_catalog())
    with pytest.raises(NoNetworkError, match="no-such-host.invalid"):
        m.download("sam2_hiera_tiny")


def test_http_errors_and_cancelling(manager, server):
    with pytest.raises(DownloadError, match="404"):
        manager.download("sam2_hiera_tiny")
    server.files["sam2_hiera_tiny.pt"] = PAYLOAD
    calls = []
    with pytest.raises(DownloadCancelled, match="run it again to resume"):
        manager.download("sam2_hiera_tiny", cancelled=lambda: calls.append(1) or len(calls) > 3)
    assert (manager.root / "sam2_hiera_tiny.pt.part").stat().st_size == 3 * 16_384
    assert manager.download("sam2_hiera_tiny").read_bytes() == PAYLOAD


def test_unknown_variants_are_input_errors(manager):
    with pytest.raises(ModelInputError, match="unknown model 'sam3'.*sam2_hiera_tiny"):
        manager.download("sam3")
    with pytest.raises(ModelInputError, match="did you mean sam2_hiera_tiny"):
        manager.path_for("sam2_hiera_tiny.pt")
    with pytest.raises(ModelError, match="not installed; run `sam2-studio models download"):
        manager.path_for("sam2_hiera_tiny")


def test_registering_a_local_file(manager, tmp_path, verifier):
    local = tmp_path / "downloads" / "sam2.1_hiera_tiny.pt"
    local.parent.mkdir()
    local.write_bytes(fake_checkpoint(b"fine-tuned"))             # identified by its name
    model = manager.add(local)
    assert (model.variant, model.path, model.source) == ("sam2.1_hiera_tiny", local, "local")
    assert manager.path_for("sam2.1_hiera_tiny") == local
    assert manager.expected_sha256("sam2.1_hiera_tiny") is None    # a local file teaches nothing
    renamed = tmp_path / "downloads" / "checkpoint.pt"             # identified by its checksum
    renamed.write_bytes(PAYLOAD)
    assert manager.add(renamed).variant == "sam2_hiera_tiny"
    copied = manager.add(renamed, "sam2.1_hiera_tiny", copy=True)
    assert copied.path == manager.root / "sam2.1_hiera_tiny.pt" and copied.path.read_bytes() == PAYLOAD
    with pytest.raises(ModelInputError, match="cannot tell which model"):
        (tmp_path / "x.pt").write_bytes(fake_checkpoint(b"other"))
        manager.add(tmp_path / "x.pt")
    with pytest.raises(ModelInputError, match="not a usable sam2_hiera_tiny checkpoint"):
        with zipfile.ZipFile(tmp_path / "other-model.pt", "w") as z:
            z.writestr("other/data.pkl", b"weights of something else")
        manager.add(tmp_path / "other-model.pt", "sam2_hiera_tiny")
    with pytest.raises(ModelInputError, match="not a PyTorch checkpoint"):
        (tmp_path / "junk.pt").write_bytes(b"junk" * 100)
        manager.add(tmp_path / "junk.pt", "sam2_hiera_tiny")
    with pytest.raises(ModelInputError, match="no such file"):
        manager.add(tmp_path / "nope.pt")


def test_verify_finds_damage_and_missing_files(manager, server, tmp_path):
    server.files["sam2_hiera_tiny.pt"] = PAYLOAD
    path = manager.download("sam2_hiera_tiny")
    local = tmp_path / "mine.pt"
    local.write_bytes(PAYLOAD)
    manager.add(local, "sam2.1_hiera_tiny")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    local.unlink()
    results = {r.variant: r for r in manager.verify()}
    assert "SHA-256 differs" in results["sam2_hiera_tiny"].problems[0]
    assert results["sam2.1_hiera_tiny"].problems == ("the file is missing",)
    with pytest.raises(ModelError, match="is gone"):
        manager.path_for("sam2.1_hiera_tiny")


def test_a_file_put_there_by_hand_is_found_and_a_bad_registry_survives(manager):
    manager.root.mkdir(parents=True)
    (manager.root / "sam2_hiera_tiny.pt").write_bytes(PAYLOAD)
    (manager.root / "registry.json").write_text("{ not json")
    assert manager.installed("sam2_hiera_tiny").source == "found"
    (result,) = manager.verify()
    assert result.ok
    assert (manager.root / "registry.json.bad").exists()


def test_registry_is_plain_json(manager, server):
    server.files["sam2_hiera_tiny.pt"] = PAYLOAD
    manager.download("sam2_hiera_tiny")
    data = json.loads((manager.root / "registry.json").read_text())
    assert data["models"]["sam2_hiera_tiny"]["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    assert Path(data["models"]["sam2_hiera_tiny"]["path"]).name == "sam2_hiera_tiny.pt"
