"""The model manager: the official SAM 2 / SAM 2.1 checkpoints, downloaded or registered,
checked, and found again by variant name.

Files live in ``paths.models_dir()``; ``registry.json`` there records what is installed
(downloaded files, and local files registered in place) with their SHA-256. A download goes
to ``NAME.pt.part`` and only becomes ``NAME.pt`` after its size and checksum are checked, so a
half file never sits under the final name; an interrupted download resumes with an HTTP
Range request. SAM 2.1's checksums were not published with the files we know of: the first
download that passes a strict load is trusted, and its checksum is remembered for later ones.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from sam2_studio import __version__
from sam2_studio.errors import StudioError
from sam2_studio.project.atomic import atomic_write_bytes, fsync_dir, try_lock

log = logging.getLogger(__name__)

REGISTRY_FILE = "registry.json"
MIRROR_ENV = "SAM2_STUDIO_MODEL_MIRROR"


# == the catalogue =========================================================================
@dataclass(frozen=True, slots=True)
class CheckpointSpec:
    variant: str              # e.g. "sam2.1_hiera_tiny", also the file's stem
    url: str
    size: int | None          # bytes, where published
    sha256: str | None        # where published

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def family(self) -> str:
        return "SAM 2.1" if self.variant.startswith("sam2.1") else "SAM 2"

    @property
    def model_size(self) -> str:
        return self.variant.split("_hiera_", 1)[1]


_SAM2 = "https://dl.fbaipublicfiles.com/segment_anything_2/072824/"
_SAM21 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"

# From the official release (shared/reference/checkpoints.tsv; tests check they agree).
CATALOG: tuple[CheckpointSpec, ...] = (
    CheckpointSpec("sam2_hiera_tiny", _SAM2 + "sam2_hiera_tiny.pt", 155906050,
                   "65b50056e05bcb13694174f51bb6da89c894b57b75ccdf0ba6352c597c5d1125"),
    CheckpointSpec("sam2_hiera_small", _SAM2 + "sam2_hiera_small.pt", 184309650,
                   "95949964d4e548409021d47b22712d5f1abf2564cc0c3c765ba599a24ac7dce3"),
    CheckpointSpec("sam2_hiera_base_plus", _SAM2 + "sam2_hiera_base_plus.pt", 323493298,
                   "d0bb7f236400a49669ffdd1be617959a8b1d1065081789d7bbff88eded3a8071"),
    CheckpointSpec("sam2_hiera_large", _SAM2 + "sam2_hiera_large.pt", 897952466,
                   "7442e4e9b732a508f80e141e7c2913437a3610ee0c77381a66658c3a445df87b"),
    CheckpointSpec("sam2.1_hiera_tiny", _SAM21 + "sam2.1_hiera_tiny.pt", None, None),
    CheckpointSpec("sam2.1_hiera_small", _SAM21 + "sam2.1_hiera_small.pt", None, None),
    CheckpointSpec("sam2.1_hiera_base_plus", _SAM21 + "sam2.1_hiera_base_plus.pt", None, None),
    CheckpointSpec("sam2.1_hiera_large", _SAM21 + "sam2.1_hiera_large.pt", None, None),
)
VARIANTS: tuple[str, ...] = tuple(s.variant for s in CATALOG)


# == errors ================================================================================
class ModelError(StudioError):
    """A model could not be installed, found or checked."""


class ModelInputError(ModelError):
    """The user named something unusable: an unknown variant, a file that is no checkpoint."""


class NoNetworkError(ModelError):
    """The download server cannot be reached at all."""


class DownloadError(ModelError):
    """A transfer that failed part-way or delivered the wrong bytes."""


class DownloadCancelled(ModelError):
    """Stopped on request; the partial file is kept for a resume."""


# == results ===============================================================================
Source = Literal["downloaded", "local", "found"]


@dataclass(frozen=True, slots=True)
class InstalledModel:
    variant: str
    path: Path
    source: Source            # downloaded here, registered in place, or found by file name
    sha256: str | None        # as recorded when installed (None: never hashed)
    size: int | None


@dataclass(frozen=True, slots=True)
class ModelStatus:
    spec: CheckpointSpec
    installed: InstalledModel | None
    partial_bytes: int        # of an interrupted download, 0 if none

    @property
    def state(self) -> str:
        if self.installed is not None:
            return "missing file" if not self.installed.path.is_file() else "installed"
        return "partial download" if self.partial_bytes else "not installed"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    variant: str
    path: Path
    problems: tuple[str, ...]
    checks: tuple[str, ...]   # what was checked: "exists", "size", "sha256", "strict load"

    @property
    def ok(self) -> bool:
        return not self.problems


Progress = Callable[[int, int | None], None]   # (bytes done, bytes in all if known)
Verifier = Callable[[Path, str | None], Any]   # raises on a bad checkpoint
Opener = Callable[..., Any]                     # urllib.request.urlopen's signature


def load_checkpoint_verifier(path: Path, variant: str | None) -> Any:
    """Strict-load ``path`` with the model layer (imported only when needed, so listing and
    downloading never pay for torch)."""
    from sam2_studio.model import load_checkpoint  # type: ignore[attr-defined]

    return load_checkpoint(path, variant=variant)


def spec_for(variant: str, catalog: Iterable[CheckpointSpec] = CATALOG) -> CheckpointSpec:
    catalog = tuple(catalog)
    for spec in catalog:
        if spec.variant == variant:
            return spec
    guess = variant.removesuffix(".pt")
    hint = next((s.variant for s in catalog if s.variant == guess), None)
    raise ModelInputError(
        f"unknown model {variant!r}" + (f" (did you mean {hint}?)" if hint else "")
        + "; the models are: " + ", ".join(s.variant for s in catalog))


def sha256_of(path: Path, progress: Progress | None = None) -> str:
    h = hashlib.sha256()
    done = 0
    total = path.stat().st_size
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return h.hexdigest()


# == the manager ===========================================================================
class ModelManager:
    def __init__(self, root: str | Path | None = None, *, verifier: Verifier | None = None,
                 opener: Opener | None = None, timeout_s: float = 30.0,
                 chunk_size: int = 1 << 20, mirror: str | None = None,
                 catalog: Iterable[CheckpointSpec] = CATALOG) -> None:
        """``mirror``: a base URL serving the same files by name (a company mirror, an
        offline cache); defaults to ``$SAM2_STUDIO_MODEL_MIRROR``."""
        if root is None:
            from sam2_studio.app.paths import models_dir

            root = models_dir()
        self.root = Path(root)
        self._verifier = verifier or load_checkpoint_verifier
        self._opener = opener or urllib.request.urlopen
        self.timeout_s = timeout_s
        self.chunk_size = chunk_size
        self.mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
        self.catalog = tuple(catalog)

    def spec(self, variant: str) -> CheckpointSpec:
        return spec_for(variant, self.catalog)

    def url_for(self, spec: CheckpointSpec) -> str:
        return f"{self.mirror.rstrip('/')}/{spec.filename}" if self.mirror else spec.url

    # -- registry --------------------------------------------------------------------------
    def _read_registry(self) -> dict[str, Any]:
        path = self.root / REGISTRY_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("models"), dict):
                data.setdefault("learned_sha256", {})
                return data
            raise ValueError("not a registry")
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:  # keep the bad one for a human, start afresh
            log.warning("model registry %s is unreadable (%s); set aside", path, exc)
            path.replace(path.with_suffix(".json.bad"))
        return {"version": 1, "models": {}, "learned_sha256": {}}

    def _write_registry(self, data: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.root / REGISTRY_FILE, json.dumps(data, indent=1).encode())

    def _record(self, model: InstalledModel, learned: bool = False) -> None:
        data = self._read_registry()
        data["models"][model.variant] = {
            "path": str(model.path), "source": model.source, "sha256": model.sha256,
            "size": model.size, "installed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        if learned and model.sha256:
            data["learned_sha256"].setdefault(model.variant, model.sha256)
        self._write_registry(data)

    def expected_sha256(self, variant: str) -> str | None:
        """The official checksum, or the one remembered from the first good download."""
        return self.spec(variant).sha256 or self._read_registry()["learned_sha256"].get(variant)

    # -- looking -----------------------------------------------------------------------------
    def installed(self, variant: str, registry: dict[str, Any] | None = None) -> InstalledModel | None:
        spec = self.spec(variant)
        registry = registry if registry is not None else self._read_registry()
        entry = registry["models"].get(variant)
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            return InstalledModel(variant, Path(entry["path"]), entry.get("source", "local"),
                                  entry.get("sha256"), entry.get("size"))
        path = self.root / spec.filename
        if path.is_file():  # put there by hand
            return InstalledModel(variant, path, "found", None, path.stat().st_size)
        return None

    def path_for(self, variant: str) -> Path:
        """The checkpoint to load for ``variant``, or a ``ModelError`` saying how to get it."""
        model = self.installed(variant)
        if model is None:
            raise ModelError(f"the model {variant} is not installed; run `sam2-studio models "
                             f"download {variant}` or `sam2-studio models add PATH`")
        if not model.path.is_file():
            raise ModelError(f"the checkpoint of {variant} is gone; download it again or "
                             "register its new place with `sam2-studio models add PATH`", model.path)
        return model.path

    def statuses(self) -> list[ModelStatus]:
        out = []
        registry = self._read_registry()
        for spec in self.catalog:
            part = self.root / (spec.filename + ".part")
            out.append(ModelStatus(spec, self.installed(spec.variant, registry),
                                   part.stat().st_size if part.is_file() else 0))
        return out

    # -- downloading -------------------------------------------------------------------------
    def download(self, variant: str, progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None, *, force: bool = False) -> Path:
        """Fetch ``variant`` from its official address; returns the installed file.

        Resumes a partial download; checks size and checksum (or strict-loads a SAM 2.1 file
        whose checksum is not known yet) before the file gets its final name.
        """
        spec = self.spec(variant)
        final = self.root / spec.filename
        current = self.installed(variant)
        if current is not None and current.path.is_file() and not force:
            return current.path
        self.root.mkdir(parents=True, exist_ok=True)
        # kept, not deleted after use: deleting a lock file races with its next user
        lock = try_lock(self.root / f".{spec.filename}.lock")
        if lock is None:
            raise ModelError(f"{variant} is being downloaded by another SAM2 Studio; wait for it")
        try:
            part = self.root / (spec.filename + ".part")
            digest = self._transfer(spec, part, progress, cancelled)
            trusted = self._check_download(spec, part, digest)
            os.replace(part, final)
            fsync_dir(self.root)
            model = InstalledModel(variant, final, "downloaded", digest, final.stat().st_size)
            self._record(model, learned=trusted and spec.sha256 is None)
            return final
        finally:
            lock.close()

    def _transfer(self, spec: CheckpointSpec, part: Path, progress: Progress | None,
                  cancelled: Callable[[], bool] | None) -> str:
        have = part.stat().st_size if part.is_file() else 0
        if spec.size is not None and have > spec.size:
            have = 0
        h = hashlib.sha256()
        if have:
            with open(part, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        if spec.size is not None and have == spec.size:
            return h.hexdigest()      # complete already: only the checks are left
        self._check_space(spec, have)

        headers = {"User-Agent": f"sam2-studio/{__version__}"}
        if have:
            headers["Range"] = f"bytes={have}-"
        url = self.url_for(spec)
        request = urllib.request.Request(url, headers=headers)
        try:
            response = self._opener(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:   # nothing after what we have: it is complete
                return h.hexdigest()
            raise DownloadError(f"the server answered {exc.code} {exc.reason} for {url}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise self._offline(url, exc) from None

        with response:
            status = getattr(response, "status", 200)
            if have and status == 206:
                m = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
                if not m or int(m.group(1)) != have:
                    raise DownloadError(f"the server resumed at the wrong place for {url}; "
                                        "try again")
            elif have:                      # the server ignored the Range: start over
                have, h = 0, hashlib.sha256()
            length = response.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else spec.size
            if spec.size is not None and total is not None and total != spec.size:
                raise DownloadError(f"the server offers {total:,} bytes for {spec.filename}, "
                                    f"the official file has {spec.size:,}")
            done = have
            if progress:
                progress(done, total)
            try:
                with open(part, "r+b" if have else "wb") as f:
                    f.seek(have)
                    f.truncate()
                    try:
                        while True:
                            if cancelled is not None and cancelled():
                                raise DownloadCancelled(
                                    f"download of {spec.variant} stopped at {done:,} bytes; run "
                                    "it again to resume", part)
                            chunk = response.read(self.chunk_size)
                            if not chunk:
                                break
                            f.write(chunk)
                            h.update(chunk)
                            done += len(chunk)
                            if progress:
                                progress(done, total)
                    finally:
                        f.flush()
                        os.fsync(f.fileno())
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                    raise ModelError(f"the disk is full after {done:,} bytes; free some space "
                                     "and run the download again to resume", part) from None
                raise DownloadError(f"the connection broke after {done:,} bytes ({exc}); run "
                                    "the download again to resume", part) from None
        if total is not None and done != total:
            raise DownloadError(f"the transfer stopped at {done:,} of {total:,} bytes; run the "
                                "download again to resume", part)
        return h.hexdigest()

    def _check_download(self, spec: CheckpointSpec, part: Path, digest: str) -> bool:
        """Raise unless the file is right; True when its checksum is now trustworthy
        (official, remembered, or just proven by a strict load)."""
        size = part.stat().st_size
        expected = self.expected_sha256(spec.variant)
        if spec.size is not None and size != spec.size:
            part.unlink()
            raise DownloadError(f"the download of {spec.variant} has {size:,} bytes, not "
                                f"{spec.size:,}; it was removed, please try again")
        if expected is not None:
            if digest != expected:
                part.unlink()
                raise DownloadError(
                    f"the download of {spec.variant} is corrupt: its SHA-256 is {digest}, the "
                    f"official file's is {expected}. It was removed; please try again")
            return True
        checked, problem = self._strict_load(part, spec.variant)
        if problem is None and not zipfile.is_zipfile(part):  # an error page, a proxy's notice
            problem = "it is not a PyTorch checkpoint archive"
        if problem is not None:
            part.unlink()
            raise DownloadError(f"the download of {spec.variant} is not a usable checkpoint "
                                f"({problem}); it was removed, please try again")
        return checked

    def _strict_load(self, path: Path, variant: str | None) -> tuple[bool, str | None]:
        """(whether the model could check, the reason it refused the file or None)."""
        try:
            self._verifier(path, variant)
        except (ImportError, AttributeError) as exc:
            log.info("strict checkpoint loading is not available (%s)", exc)
            return False, None
        except StudioError as exc:
            return True, exc.reason
        except Exception as exc:  # a torch error on a damaged file
            return True, f"{type(exc).__name__}: {exc}"
        return True, None

    def _check_space(self, spec: CheckpointSpec, have: int) -> None:
        if spec.size is None:
            return
        free = shutil.disk_usage(self.root).free
        need = spec.size - have
        if free < need + (64 << 20):
            raise ModelError(f"not enough disk space for {spec.variant}: it needs "
                             f"{need / 1e6:,.0f} MB, {free / 1e6:,.0f} MB are free", self.root)

    @staticmethod
    def _offline(url: str, exc: BaseException) -> ModelError:
        reason = getattr(exc, "reason", exc)
        host = urllib.request.urlparse(url).hostname
        hint = (f"Download {url} with a browser on a connected machine and register it "
                "with `sam2-studio models add PATH`.")
        if isinstance(reason, OSError):  # name lookup, refused, unreachable, timed out
            return NoNetworkError(f"no network: cannot reach {host} ({reason}). {hint}")
        return DownloadError(f"cannot download {url}: {reason}. {hint}")

    # -- registering -------------------------------------------------------------------------
    def add(self, path: str | Path, variant: str | None = None, *, copy: bool = False,
            progress: Progress | None = None) -> InstalledModel:
        """Register a checkpoint already on disk (in place, or copied into the models folder).

        The variant comes from ``variant``, else from a known checksum, else from the file
        name; the model layer then strict-loads it as that variant.
        """
        path = Path(path).expanduser().absolute()
        if not path.exists():
            raise ModelInputError("no such file", path)
        if not path.is_file():
            raise ModelInputError("this is not a file", path)
        if variant is not None:
            self.spec(variant)
        if not zipfile.is_zipfile(path):
            raise ModelInputError("not a PyTorch checkpoint (torch.save writes a zip archive)", path)
        digest = sha256_of(path, progress)
        variant = variant or self._identify(path, digest)
        _, problem = self._strict_load(path, variant)
        if problem is not None:
            raise ModelInputError(f"not a usable {variant} checkpoint: {problem}", path)
        target = path
        if copy:
            target = self.root / self.spec(variant).filename
            if target != path:
                self.root.mkdir(parents=True, exist_ok=True)
                part = target.with_name(target.name + ".part")
                shutil.copyfile(path, part)
                with open(part, "rb") as f:
                    os.fsync(f.fileno())
                os.replace(part, target)
                fsync_dir(self.root)
        model = InstalledModel(variant, target, "downloaded" if copy else "local", digest,
                               target.stat().st_size)
        self._record(model)  # never learns a checksum: it may be a fine-tuned file
        return model

    def _identify(self, path: Path, digest: str) -> str:
        learned = self._read_registry()["learned_sha256"]
        for spec in self.catalog:
            if digest in (spec.sha256, learned.get(spec.variant)):
                return spec.variant
        for spec in self.catalog:
            if path.name == spec.filename or path.stem == spec.variant:
                return spec.variant
        raise ModelInputError("cannot tell which model this checkpoint is from its name or "
                              "checksum; name it with --variant (one of: "
                              + ", ".join(s.variant for s in self.catalog) + ")", path)

    def remove(self, variant: str) -> None:
        """Forget ``variant``; a file downloaded here is deleted, a registered one is kept."""
        model = self.installed(variant)
        data = self._read_registry()
        data["models"].pop(variant, None)
        self._write_registry(data)
        if model is not None and model.source != "local":
            model.path.unlink(missing_ok=True)

    # -- checking ----------------------------------------------------------------------------
    def verify(self, variants: Iterable[str] | None = None, *, strict: bool = True,
               progress: Callable[[str, int, int | None], None] | None = None) -> list[VerifyResult]:
        """Check installed checkpoints: present, the right size, the right checksum, and (with
        ``strict``) loadable by the model without a missing or unexpected tensor."""
        results = []
        registry = self._read_registry()
        names = list(variants) if variants is not None else [
            s.variant for s in self.catalog if self.installed(s.variant, registry) is not None]
        for variant in names:
            spec = self.spec(variant)
            model = self.installed(variant, registry)
            if model is None:
                results.append(VerifyResult(variant, self.root / spec.filename,
                                            ("not installed",), ()))
                continue
            problems: list[str] = []
            checks = ["exists"]
            if not model.path.is_file():
                results.append(VerifyResult(variant, model.path, ("the file is missing",), tuple(checks)))
                continue
            size = model.path.stat().st_size
            if spec.size is not None and model.source != "local":
                checks.append("size")
                if size != spec.size:
                    problems.append(f"{size:,} bytes instead of {spec.size:,}")
            checks.append("sha256")
            digest = sha256_of(model.path, (lambda d, t: progress(variant, d, t)) if progress else None)
            official = spec.sha256 or registry["learned_sha256"].get(variant)
            if model.sha256 is not None and digest != model.sha256:
                problems.append("the file changed since it was installed (SHA-256 differs)")
            elif model.source != "local" and official is not None and digest != official:
                problems.append("its SHA-256 is not the official file's")
            if strict:
                checked, problem = self._strict_load(model.path, variant)
                if checked:
                    checks.append("strict load")
                if problem is not None:
                    problems.append(f"the model cannot load it: {problem}")
            results.append(VerifyResult(variant, model.path, tuple(problems), tuple(checks)))
        return results
