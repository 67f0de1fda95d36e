"""Builds the Lambda asset (handler code + third-party wheels for Linux arm64) without Docker.

Every function runs the same code tree (``lambdas/handlers`` + ``lambdas/voicebot``) over the same
dependencies, so there is one asset, built once per synth and uploaded once. The dependencies are
``lambdas/requirements.txt`` (what every function needs) and the chat provider's own LangChain
package (``lambdas/requirements-<provider>.txt``: Bedrock, OpenAI-compatible or NVIDIA NIM), so
an asset carries only the provider the deployment chose. pip installs
manylinux aarch64 wheels for the Lambda interpreter version (``--only-binary`` guarantees nothing
is compiled for the build machine by mistake). The installed dependencies are cached under
``build/lambda-deps/<hash of requirements, provider and target>``, so only the first synth on a
machine pays for the download; later synths (and every test module) copy the cache, hard-linking
where they can.

The asset ships bytecode. /var/task is read-only, so without ``.pyc`` files every cold start would
compile each imported module again (about 0.5 s for a handler, measured by bench/cold_start).
Bytecode is tied to the interpreter's minor version, so it is compiled by a Python of the Lambda
runtime's version found on this machine (``VOICEBOT_LAMBDA_PYTHON``, ``python3.13`` on PATH, or a
pyenv install), as unchecked-hash ``.pyc`` files (valid whatever the files' mtimes become in the
zip) whose recorded paths are the function's (``/var/task/...``). Without such an interpreter the
asset is built without bytecode and synth says so.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from voicebot.contract.settings import DEPLOYABLE_CHAT_PROVIDERS

from .constants import LAMBDA_BUILD_IMAGE, LAMBDA_PIP_PLATFORM, LAMBDA_PYTHON_VERSION

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO_ROOT / "lambdas"
REQUIREMENTS = LAMBDAS_DIR / "requirements.txt"
# Each deployable chat provider's LangChain package (and what only it needs).
CHAT_REQUIREMENTS: dict[str, Path] = {
    provider: LAMBDAS_DIR / f"requirements-{provider}.txt" for provider in DEPLOYABLE_CHAT_PROVIDERS
}
DEFAULT_PROVIDER = "bedrock"
CODE_PACKAGES = ("handlers", "voicebot")
# Bump when the build steps change, so stale caches are not reused.
_BUILD_FORMAT = "3"
# Where the function's code lives on Lambda: the paths compiled into the bytecode (tracebacks).
LAMBDA_TASK_ROOT = "/var/task"
# Console scripts (with this machine's shebang) are of no use in the function; bytecode, if any, is
# this machine's (compile_bytecode writes the runtime's).
_PRUNE = ("bin", "__pycache__")


def build_root() -> Path:
    """Where built dependencies are cached; VOICEBOT_LAMBDA_BUILD_DIR overrides it (CI caches)."""
    override = os.environ.get("VOICEBOT_LAMBDA_BUILD_DIR")
    return Path(override) if override else REPO_ROOT / "build" / "lambda-deps"


def host_pip_platform() -> str:
    """The manylinux platform of this machine: builds a twin of the asset that it can import.

    The twin differs from the deployed asset only in its compiled extensions' architecture; the
    cold-start benchmark and the asset test import it with the runtime's Python version.
    """
    if not sys.platform.startswith("linux"):
        raise RuntimeError("a twin of the Lambda asset can only be imported on Linux")
    return f"manylinux2014_{platform.machine()}"


def requirement_files(provider: str = DEFAULT_PROVIDER) -> tuple[Path, Path]:
    """What the asset of a deployment with this chat provider installs: the common runtime and
    that provider's package, no other's."""
    if provider not in CHAT_REQUIREMENTS:
        raise ValueError(
            f"No Lambda requirements for chat provider {provider!r}: "
            f"one of {', '.join(CHAT_REQUIREMENTS)}."
        )
    return REQUIREMENTS, CHAT_REQUIREMENTS[provider]


def pip_command(
    target: Path, pip_platform: str = LAMBDA_PIP_PLATFORM, provider: str = DEFAULT_PROVIDER
) -> list[str]:
    requirements = [arg for path in requirement_files(provider) for arg in ("-r", str(path))]
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
        pip_platform,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        *requirements,
    ]


def _is_lambda_python(executable: str) -> bool:
    try:
        result = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == LAMBDA_PYTHON_VERSION


def _candidate_pythons() -> Iterator[str]:
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == LAMBDA_PYTHON_VERSION:
        yield sys.executable
    # A pyenv shim is on PATH even when that version is not selected (it then fails): each
    # candidate is run to check it, and pyenv's own installs are tried directly.
    if found := shutil.which(f"python{LAMBDA_PYTHON_VERSION}"):
        yield found
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    for install in sorted(pyenv_root.glob(f"versions/{LAMBDA_PYTHON_VERSION}.*"), reverse=True):
        yield str(install / "bin" / f"python{LAMBDA_PYTHON_VERSION}")


@functools.cache
def lambda_python() -> str | None:
    """A Python of the Lambda runtime's version on this machine, to compile bytecode; or None."""
    if override := os.environ.get("VOICEBOT_LAMBDA_PYTHON"):
        if not _is_lambda_python(override):
            raise RuntimeError(
                f"VOICEBOT_LAMBDA_PYTHON={override} is not a Python {LAMBDA_PYTHON_VERSION} "
                "(the Lambda runtime's version, which the asset's bytecode must match)"
            )
        return override
    found = next((exe for exe in _candidate_pythons() if _is_lambda_python(exe)), None)
    if found is None:
        print(
            f"voicebot: no Python {LAMBDA_PYTHON_VERSION} found (set VOICEBOT_LAMBDA_PYTHON to "
            "one): the Lambda asset is built without bytecode, so every cold start compiles "
            "the modules it imports (about 0.5 s more).",
            file=sys.stderr,
        )
    return found


def compile_bytecode(tree: Path, *, under: str = "") -> None:
    """Write unchecked-hash .pyc files for ``tree`` as the Lambda runtime's Python reads them.

    ``under`` is the tree's place below the task root (``handlers`` for the handler package).
    """
    python = lambda_python()
    if python is None:
        return
    # None of the caller's PYTHON* settings: PYTHONPYCACHEPREFIX would put the bytecode outside
    # the asset, PYTHONOPTIMIZE would write .opt-1.pyc files that Lambda never reads.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # Constants such as frozensets are written in hash order: a fixed seed keeps the bytecode
    # byte-identical from one build to the next.
    env["PYTHONHASHSEED"] = "0"
    result = subprocess.run(
        [python, "-m", "compileall", "-q", "-j0", "--invalidation-mode", "unchecked-hash",
         "-s", str(tree), "-p", f"{LAMBDA_TASK_ROOT}/{under}".rstrip("/"), str(tree)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        # A file that does not compile (a template, a test for another Python) is imported
        # from source if ever; the rest of the tree keeps its bytecode.
        failed = [line for line in result.stdout.splitlines() if line.startswith("*** ")]
        print(
            f"voicebot: {len(failed) or 'some'} file(s) under {tree.name} did not compile for "
            f"Python {LAMBDA_PYTHON_VERSION}; they stay source only. " + " ".join(failed[:3])[:600],
            file=sys.stderr,
        )


def _code_files() -> Iterator[Path]:
    for package in CODE_PACKAGES:
        for path in sorted((LAMBDAS_DIR / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield path


def dependencies_hash(
    pip_platform: str = LAMBDA_PIP_PLATFORM, provider: str = DEFAULT_PROVIDER
) -> str:
    digest = hashlib.sha256()
    bytecode = "pyc" if lambda_python() else "no-pyc"
    digest.update(
        f"{_BUILD_FORMAT}|{pip_platform}|{LAMBDA_PYTHON_VERSION}|{bytecode}|{provider}|".encode()
    )
    for path in requirement_files(provider):
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def asset_hash(provider: str = DEFAULT_PROVIDER) -> str:
    """Changes when the requirements, the provider, the target platform or any code file does."""
    digest = hashlib.sha256(dependencies_hash(provider=provider).encode())
    for path in _code_files():
        digest.update(path.relative_to(LAMBDAS_DIR).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_dependencies(
    pip_platform: str = LAMBDA_PIP_PLATFORM, provider: str = DEFAULT_PROVIDER
) -> Path:
    """Install the requirements for Lambda once; return the cached directory."""
    cached = build_root() / dependencies_hash(pip_platform, provider)[:24]
    if (cached / ".complete").exists():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    # Two synths at once (the test suite's workers, two terminals) must not both download, nor
    # one replace the tree while the other copies it: the second waits and reuses the first's.
    with _exclusive(cached.parent / ".lock"):
        if (cached / ".complete").exists():
            return cached
        return _install_dependencies(cached, pip_platform, provider)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``path`` (POSIX; elsewhere, no lock)."""
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: one synth at a time is up to the user
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _install_dependencies(cached: Path, pip_platform: str, provider: str) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=cached.parent))
    try:
        command = pip_command(staging, pip_platform, provider)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"Could not install the Lambda dependencies ({provider} chat) for "
                f"{pip_platform} / Python {LAMBDA_PYTHON_VERSION}. pip said:\n"
                + (result.stderr or result.stdout)[-4000:]
            )
        for name in _PRUNE:
            shutil.rmtree(staging / name, ignore_errors=True)
        compile_bytecode(staging)
        (staging / ".complete").write_text(
            " ".join(pip_command(Path("<target>"), pip_platform, provider)[1:]) + "\n"
        )
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


def build_asset(
    output_dir: Path, pip_platform: str = LAMBDA_PIP_PLATFORM, provider: str = DEFAULT_PROVIDER
) -> None:
    """Fill ``output_dir`` with the dependencies and the handler code."""
    dependencies = ensure_dependencies(pip_platform, provider)
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
        compile_bytecode(output_dir / package, under=package)


@jsii.implements(ILocalBundling)
class LocalPipBundler:
    """CDK calls this instead of Docker; it never declines, so the Docker image is never pulled."""

    def __init__(self, provider: str = DEFAULT_PROVIDER) -> None:
        self._provider = provider

    # jsii hands the bundling options over positionally or as keywords depending on its version;
    # they carry nothing this bundler needs.
    def try_bundle(self, output_dir: str, *_options: object, **_keywords: object) -> bool:
        build_asset(Path(output_dir), provider=self._provider)
        return True


def lambda_code(provider: str = DEFAULT_PROVIDER) -> lambda_.Code:
    """One ``Code`` object for every function of a stack: CDK stages and uploads it once."""
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        # Our own hash: CDK would otherwise fingerprint the ~140 MB bundled output on every synth.
        asset_hash=asset_hash(provider),
        asset_hash_type=AssetHashType.CUSTOM,
        bundling=BundlingOptions(
            image=DockerImage.from_registry(LAMBDA_BUILD_IMAGE),
            local=LocalPipBundler(provider),
        ),
    )
