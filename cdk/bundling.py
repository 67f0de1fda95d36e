"""Builds the Lambda asset (handler code + third-party wheels for Linux arm64) without Docker.

Every function runs the same code tree (``lambdas/handlers`` + ``lambdas/voicebot``) over the same
dependencies, so there is one asset, built once per synth and uploaded once. pip installs
manylinux aarch64 wheels for the Lambda interpreter version (``--only-binary`` guarantees nothing
is compiled for the build machine by mistake). The installed dependencies are cached under
``build/lambda-deps/<hash of requirements and target>``, so only the first synth on a machine pays
for the download; later synths (and every test module) copy the cache, hard-linking where they can.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from .constants import LAMBDA_BUILD_IMAGE, LAMBDA_PIP_PLATFORM, LAMBDA_PYTHON_VERSION

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO_ROOT / "lambdas"
REQUIREMENTS = LAMBDAS_DIR / "requirements.txt"
CODE_PACKAGES = ("handlers", "voicebot")
# Bump when the build steps change, so stale caches are not reused.
_BUILD_FORMAT = "1"
# Console scripts (with this machine's shebang) and bytecode are of no use in the function.
_PRUNE = ("bin", "__pycache__")


def build_root() -> Path:
    """Where built dependencies are cached; VOICEBOT_LAMBDA_BUILD_DIR overrides it (CI caches)."""
    override = os.environ.get("VOICEBOT_LAMBDA_BUILD_DIR")
    return Path(override) if override else REPO_ROOT / "build" / "lambda-deps"


def pip_command(target: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--platform",
        LAMBDA_PIP_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        "-r",
        str(REQUIREMENTS),
    ]


def _code_files() -> Iterator[Path]:
    for package in CODE_PACKAGES:
        for path in sorted((LAMBDAS_DIR / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield path


def dependencies_hash() -> str:
    digest = hashlib.sha256()
    digest.update(f"{_BUILD_FORMAT}|{LAMBDA_PIP_PLATFORM}|{LAMBDA_PYTHON_VERSION}|".encode())
    digest.update(REQUIREMENTS.read_bytes())
    return digest.hexdigest()


def asset_hash() -> str:
    """Changes when the requirements, the target platform or any code file changes."""
    digest = hashlib.sha256(dependencies_hash().encode())
    for path in _code_files():
        digest.update(path.relative_to(LAMBDAS_DIR).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_dependencies() -> Path:
    """Install the requirements for Lambda once; return the cached directory."""
    cached = build_root() / dependencies_hash()[:24]
    if (cached / ".complete").exists():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=cached.parent))
    try:
        result = subprocess.run(pip_command(staging), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                "Could not install the Lambda dependencies for "
                f"{LAMBDA_PIP_PLATFORM} / Python {LAMBDA_PYTHON_VERSION}. pip said:\n"
                + (result.stderr or result.stdout)[-4000:]
            )
        for name in _PRUNE:
            shutil.rmtree(staging / name, ignore_errors=True)
        (staging / ".complete").write_text(" ".join(pip_command(Path("<target>"))[1:]) + "\n")
        if cached.exists():  # an interrupted earlier build
            shutil.rmtree(cached)
        staging.rename(cached)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cached


def _link_or_copy(source: str, destination: str) -> None:
    # Hard links make copying the ~140 MB tree nearly free when the build cache and cdk.out share a
    # file system; nothing writes to either tree after it is built.
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def build_asset(output_dir: Path) -> None:
    """Fill ``output_dir`` with the dependencies and the handler code."""
    dependencies = ensure_dependencies()
    shutil.copytree(
        dependencies,
        output_dir,
        dirs_exist_ok=True,
        copy_function=_link_or_copy,
        ignore=shutil.ignore_patterns(".complete"),
    )
    for package in CODE_PACKAGES:
        shutil.copytree(
            LAMBDAS_DIR / package,
            output_dir / package,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )


@jsii.implements(ILocalBundling)
class LocalPipBundler:
    """CDK calls this instead of Docker; it never declines, so the Docker image is never pulled."""

    # jsii hands the bundling options over positionally or as keywords depending on its version;
    # they carry nothing this bundler needs.
    def try_bundle(self, output_dir: str, *_options: object, **_keywords: object) -> bool:
        build_asset(Path(output_dir))
        return True


def lambda_code() -> lambda_.Code:
    """One ``Code`` object for every function of a stack: CDK stages and uploads it once."""
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        # Our own hash: CDK would otherwise fingerprint the ~140 MB bundled output on every synth.
        asset_hash=asset_hash(),
        asset_hash_type=AssetHashType.CUSTOM,
        bundling=BundlingOptions(
            image=DockerImage.from_registry(LAMBDA_BUILD_IMAGE),
            local=LocalPipBundler(),
        ),
    )
