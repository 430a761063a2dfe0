"""Install tooling (not part of the runtime package): the Swagger UI and ReDoc files for ``/docs`` and
``/redoc``, from pinned npm tarballs.

``python tools/docs_assets.py install`` (run by ``make install``) fetches each tarball straight from the
npm registry over HTTPS (no npm needed), or from the directory named by ``DOCS_ASSETS_MIRROR`` (tarballs under their
registry file names, e.g. ``redoc-2.5.4.tgz``), checks its pinned sha512 integrity, and puts only the
files the pages need into ``pvegateway/static/vendor/``. The directory is replaced as a whole, and an
install that is already present and intact is skipped.

Other commands: ``check`` (exit status 0 when installed and intact) and ``mirror DIR`` (download the
pinned tarballs into DIR, for air-gapped installs).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pvegateway.openapi.assets import MANIFEST, VENDOR_DIR

REGISTRY = "https://registry.npmjs.org"
MIRROR_ENV = "DOCS_ASSETS_MIRROR"
MAX_TARBALL = 32 * 1024 * 1024
TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's ``dist.integrity``
    files: Mapping[str, str]  # path inside the tarball -> file name in VENDOR_DIR

    @property
    def tarball(self) -> str:
        return f"{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"

    @property
    def url(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.tarball}"


SWAGGER_UI = Package(
    name="swagger-ui-dist",
    version="5.35.0",
    integrity="sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
    files={
        "package/swagger-ui-bundle.js": "swagger-ui-bundle.js",
        "package/swagger-ui-standalone-preset.js": "swagger-ui-standalone-preset.js",
        "package/swagger-ui.css": "swagger-ui.css",
        "package/favicon-16x16.png": "favicon-16x16.png",
        "package/favicon-32x32.png": "favicon-32x32.png",
        "package/LICENSE": "swagger-ui-dist.LICENSE",
    },
)
REDOC = Package(
    name="redoc",
    version="2.5.4",
    integrity="sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==",
    files={
        "package/bundles/redoc.standalone.js": "redoc.standalone.js",
        "package/LICENSE": "redoc.LICENSE",
    },
)
PACKAGES: tuple[Package, ...] = (SWAGGER_UI, REDOC)



class AssetsError(RuntimeError):
    """The assets could not be installed; the message says why and what to do."""


def integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _manifest_packages() -> list[dict[str, str]]:
    return [{"name": p.name, "version": p.version, "integrity": p.integrity} for p in PACKAGES]


def verify(target: Path | None = None) -> list[str]:
    """Problems with the installed files (empty when everything is there and intact)."""
    target = VENDOR_DIR if target is None else target
    try:
        manifest = json.loads((target / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return [f"{target / MANIFEST} is missing or unreadable"]
    problems: list[str] = []
    if not isinstance(manifest, dict) or manifest.get("packages") != _manifest_packages():
        problems.append("installed packages differ from the pinned ones")
        return problems
    files = manifest.get("files")
    if not isinstance(files, dict):
        return ["manifest has no file list"]
    for package in PACKAGES:
        for name in package.files.values():
            expected = files.get(name)
            try:
                actual = hashlib.sha256((target / name).read_bytes()).hexdigest()
            except OSError:
                problems.append(f"{name} is missing")
                continue
            if actual != expected:
                problems.append(f"{name} was modified")
    return problems


def _download(url: str) -> bytes:
    if not url.startswith("https://"):
        raise AssetsError(f"refusing to download {url}: not HTTPS")
    request = urllib.request.Request(url, headers={"User-Agent": "pvegateway-docs-assets"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310  # nosec B310 # https only, above
        data: bytes = response.read(MAX_TARBALL + 1)
    if len(data) > MAX_TARBALL:
        raise AssetsError(f"{url} is larger than {MAX_TARBALL} bytes")
    return data


def fetch(package: Package, mirror: Path | None) -> bytes:
    """The package's tarball, integrity-checked: from the mirror if it has it, else from the registry."""
    attempts: list[str] = []
    if mirror is not None:
        path = mirror / package.tarball
        try:
            data = path.read_bytes()
        except OSError as err:
            attempts.append(f"mirror {path}: {err.strerror or err}")
        else:
            if integrity_of(data) == package.integrity:
                return data
            attempts.append(f"mirror {path}: integrity mismatch (got {integrity_of(data)})")
    try:
        data = _download(package.url)
    except (urllib.error.URLError, OSError, AssetsError) as err:
        reason = getattr(err, "reason", None) or err
        attempts.append(f"registry {package.url}: {reason}")
    else:
        if integrity_of(data) == package.integrity:
            return data
        attempts.append(f"registry {package.url}: integrity mismatch (got {integrity_of(data)})")
    hint = (
        f"Put {package.tarball} (expected {package.integrity}) into ${MIRROR_ENV}"
        if mirror is not None
        else f"Without network access, set {MIRROR_ENV} to a directory holding {package.tarball} "
        "(`python tools/docs_assets.py mirror DIR` fills one on a connected machine)"
    )
    raise AssetsError(
        f"cannot get {package.name}@{package.version}:\n  "
        + "\n  ".join(attempts)
        + f"\n{hint}."
    )


def extract(package: Package, data: bytes, target: Path) -> dict[str, str]:
    """Write the package's needed files into ``target``; their sha256 by file name."""
    hashes: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member_name, file_name in package.files.items():
            try:
                member = archive.getmember(member_name)
            except KeyError:
                raise AssetsError(f"{package.tarball} has no {member_name}") from None
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is None:
                raise AssetsError(f"{member_name} in {package.tarball} is not a regular file")
            content = handle.read()
            (target / file_name).write_bytes(content)
            hashes[file_name] = hashlib.sha256(content).hexdigest()
    return hashes


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target``; readers see the old or the new directory, never a mix."""
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=".vendor-old-", dir=target.parent))
        os.replace(target, old / "vendor")
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def install(
    target: Path | None = None, *, mirror: Path | None = None, force: bool = False, quiet: bool = False
) -> bool:
    """Install the pinned assets into ``target``; False when they were already there and intact."""
    target = VENDOR_DIR if target is None else target
    if not force and not verify(target):
        if not quiet:
            print(f"docs assets already installed in {target}")
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tarballs = [(package, fetch(package, mirror)) for package in PACKAGES]
    staging = Path(tempfile.mkdtemp(prefix=".vendor-new-", dir=target.parent))
    try:
        files: dict[str, str] = {}
        for package, data in tarballs:
            files.update(extract(package, data, staging))
        manifest = {"packages": _manifest_packages(), "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        staging.chmod(0o755)
        _replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if not quiet:
        pinned = ", ".join(f"{p.name}@{p.version}" for p in PACKAGES)
        print(f"installed {pinned} into {target}")
    return True


def download_mirror(directory: Path) -> None:
    """Download the pinned tarballs (integrity-checked) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        data = fetch(package, directory)
        (directory / package.tarball).write_bytes(data)
        print(f"{directory / package.tarball}  {package.integrity}")


def _mirror_from_env() -> Path | None:
    value = os.environ.get(MIRROR_ENV, "").strip()
    return Path(value) if value else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/docs_assets.py", description="Install the Swagger UI and ReDoc assets."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    install_cmd = sub.add_parser("install", help=f"install into {VENDOR_DIR} (mirror: ${MIRROR_ENV})")
    install_cmd.add_argument("--force", action="store_true", help="reinstall even if intact")
    sub.add_parser("check", help="exit status 0 when the assets are installed and intact")
    mirror_cmd = sub.add_parser("mirror", help="download the pinned tarballs into DIR")
    mirror_cmd.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            install(mirror=_mirror_from_env(), force=args.force)
        elif args.command == "check":
            problems = verify()
            for problem in problems:
                print(problem, file=sys.stderr)
            return 1 if problems else 0
        else:
            download_mirror(args.directory)
    except AssetsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
