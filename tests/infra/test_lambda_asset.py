"""The Lambda asset: the handler code plus its third-party dependencies, built for Linux arm64.

What is proven here, and what is not:
- The asset directory every function deploys contains ``redis``, ``langchain_aws``,
  ``aws_lambda_powertools``, ``pydantic_core`` (and the rest of lambdas/requirements.txt) and the
  ``handlers`` and ``voicebot`` packages.
- Every compiled extension in it is an ELF shared object for AArch64 (read from the ELF header),
  named for CPython 3.13 on aarch64 Linux, and pydantic_core's wheel is tagged manylinux aarch64.
- Import resolution: this x86_64 machine runs Python 3.11, so it cannot import an aarch64,
  cp313 pydantic_core. Instead, for each function's handler module the test follows every
  module-level import through ``handlers`` and ``voicebot`` (the closure a cold start executes)
  and checks with ``importlib.machinery.PathFinder.find_spec`` that each third-party module it
  names is found *inside the asset directory* (not in this virtualenv), down to submodules. It
  also checks that the handler module defines ``handler``. It does not execute the modules.
- The asset ships bytecode compiled by a Python 3.13 (the runtime's): unchecked-hash ``.pyc``
  files whose recorded paths are under /var/task.
- A twin of the asset built by the same code for this machine's architecture is really imported,
  every handler module, by Python 3.13 with only the twin on its path and Lambda's environment.
  Both need a Python 3.13 on this machine (pyenv's is found); without one they are skipped.
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cdk import bundling
from cdk.constants import LAMBDA_PYTHON_VERSION

from .conftest import Synth, function_ids

HANDLERS = [
    "health",
    "sessions",
    "transcripts",
    "speech",
    "history",
    "ws_connect",
    "ws_disconnect",
    "ws_messages",
    "ws_chat",
    "chat",
]
REQUIRED_PACKAGES = ["redis", "langchain_aws", "aws_lambda_powertools", "pydantic_core"]
# Modules the AWS configuration imports lazily inside functions (wiring and adapters), so they are
# not in the module-level closure but run on the first request.
LAZY_AWS_IMPORTS = [
    "redis.asyncio",
    "langchain_aws",
    "botocore.config",
    "aws_lambda_powertools.utilities.parameters",
]
ELF_MACHINE_AARCH64 = 183
ELF_MACHINE_X86_64 = 62
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


@pytest.fixture(scope="module")
def asset_dir(synth: Synth) -> Path:
    keys = {synth.props(i)["Code"]["S3Key"] for i in function_ids(synth).values()}
    (key,) = keys
    directory = synth.outdir / f"asset.{key.removesuffix('.zip')}"
    assert directory.is_dir(), f"no staged asset for {key}"
    return directory


@pytest.mark.parametrize("package", [*REQUIRED_PACKAGES, "handlers", "voicebot", "boto3"])
def test_asset_contains_the_package(asset_dir: Path, package: str) -> None:
    assert (asset_dir / package / "__init__.py").is_file()


def test_pydantic_core_wheel_is_for_linux_aarch64(asset_dir: Path) -> None:
    (dist_info,) = asset_dir.glob("pydantic_core-*.dist-info")
    tags = [
        line.split(": ", 1)[1]
        for line in (dist_info / "WHEEL").read_text().splitlines()
        if line.startswith("Tag: ")
    ]
    assert tags and all("manylinux" in t and t.endswith("aarch64") for t in tags), tags
    (extension,) = (asset_dir / "pydantic_core").glob("_pydantic_core*.so")
    assert extension.name == "_pydantic_core.cpython-313-aarch64-linux-gnu.so"


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def test_every_compiled_extension_is_built_for_aarch64(asset_dir: Path) -> None:
    shared_objects = [p for p in asset_dir.rglob("*.so*") if p.is_file()]
    assert len(shared_objects) > 5
    wrong = [p for p in shared_objects if _elf_machine(p) != ELF_MACHINE_AARCH64]
    assert not wrong, f"not aarch64: {wrong[:5]}"
    for path in shared_objects:
        if ".cpython-" in path.name:
            assert path.name.endswith("-aarch64-linux-gnu.so"), path.name
            assert ".cpython-313-" in path.name, path.name


def test_asset_fits_lambdas_unzipped_limit_and_carries_no_build_leftovers(asset_dir: Path) -> None:
    size = sum(p.stat().st_size for p in asset_dir.rglob("*") if p.is_file())
    assert size < LAMBDA_UNZIPPED_LIMIT, f"{size / 2**20:.0f} MiB"
    assert not (asset_dir / "bin").exists()
    assert not list(asset_dir.rglob("*.cpython-311.pyc")), "bytecode of the build machine"


def _module_level_imports(path: Path, package: str) -> set[str]:
    """Absolute names imported at module level (including under try/if), relative resolved."""
    names: set[str] = set()
    tree = ast.parse(path.read_text(), filename=str(path))
    statements: list[ast.stmt] = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, (ast.If, ast.Try)):
            statements.extend(node.body + node.orelse)
            if isinstance(node, ast.Try):
                for handler in node.handlers:
                    statements.extend(handler.body)
                statements.extend(node.finalbody)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            # ``from pkg import sub`` may name a submodule; resolution decides below.
            names.update(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _find(name: str, root: Path) -> importlib.machinery.ModuleSpec | None:
    """Resolve a dotted name using only ``root`` as the path (the host's sys.path is not used)."""
    search = [str(root)]
    spec = None
    for part in name.split("."):
        spec = importlib.machinery.PathFinder.find_spec(part, search)
        if spec is None:
            return None
        search = list(spec.submodule_search_locations or [])
    return spec


def _closure(asset: Path, module: str) -> tuple[set[str], set[str]]:
    """(first-party modules executed, third-party names they import) from ``module``."""
    first_party: set[str] = set()
    third_party: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in first_party:
            continue
        spec = _find(name, asset)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue  # an attribute imported with "from x import y", checked via its module
        first_party.add(name)
        package = name if spec.submodule_search_locations else name.rpartition(".")[0]
        for imported in _module_level_imports(Path(spec.origin), package):
            top = imported.split(".")[0]
            if top in ("handlers", "voicebot"):
                pending.append(imported)
                parent = imported.rpartition(".")[0]
                if parent:
                    pending.append(parent)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(imported)
    return first_party, third_party


@pytest.mark.parametrize("handler", HANDLERS)
def test_handler_module_resolves_every_import_inside_the_asset(
    asset_dir: Path, handler: str
) -> None:
    module = f"handlers.{handler}"
    spec = _find(module, asset_dir)
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).is_relative_to(asset_dir)
    tree = ast.parse(Path(spec.origin).read_text())
    assert any(
        isinstance(node, ast.FunctionDef) and node.name == "handler" for node in tree.body
    ), f"{module} defines no handler()"
    first_party, third_party = _closure(asset_dir, module)
    assert "voicebot" in first_party or handler == "health"
    assert third_party, "expected at least Powertools"
    unresolved = []
    for name in sorted(third_party):
        # "from pkg import attr" adds pkg.attr, which is fine when pkg itself resolves.
        if _find(name, asset_dir) is None and _find(name.rpartition(".")[0], asset_dir) is None:
            unresolved.append(name)
    assert not unresolved, f"{module} imports modules missing from the asset: {unresolved}"
    for name in third_party:
        spec = _find(name, asset_dir) or _find(name.rpartition(".")[0], asset_dir)
        assert spec is not None and spec.origin is not None
        assert Path(spec.origin).is_relative_to(asset_dir)


@pytest.mark.parametrize("name", LAZY_AWS_IMPORTS)
def test_lazily_imported_aws_adapters_resolve_inside_the_asset(asset_dir: Path, name: str) -> None:
    assert _find(name, asset_dir) is not None


_LAMBDA_PYTHON = bundling.lambda_python()
_NEEDS_LAMBDA_PYTHON = pytest.mark.skipif(
    _LAMBDA_PYTHON is None,
    reason=f"needs a Python {LAMBDA_PYTHON_VERSION} (the Lambda runtime's) to compile and import",
)


def _pyc_header(path: Path) -> tuple[bytes, int]:
    data = path.read_bytes()[:8]
    return data[:4], int.from_bytes(data[4:8], "little")


@_NEEDS_LAMBDA_PYTHON
def test_asset_ships_bytecode_for_the_runtime_that_is_never_checked_against_mtimes(
    asset_dir: Path,
) -> None:
    # /var/task is read-only: without bytecode every cold start compiles what it imports.
    magic = subprocess.run(
        [str(_LAMBDA_PYTHON), "-c", "import importlib.util as u; print(u.MAGIC_NUMBER.hex())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    sources = [
        *(asset_dir / "handlers").glob("*.py"),
        *(asset_dir / "voicebot").rglob("*.py"),
        *(asset_dir / "pydantic").glob("*.py"),
        *(asset_dir / "aws_lambda_powertools" / "logging").glob("*.py"),
    ]
    assert len(sources) > 30
    tag = f"cpython-{LAMBDA_PYTHON_VERSION.replace('.', '')}"
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        assert pyc.is_file(), f"no bytecode for {source.relative_to(asset_dir)}"
        found_magic, flags = _pyc_header(pyc)
        assert found_magic.hex() == magic, pyc
        # Bit 0: hash-based; bit 1 (check_source) clear: the zip's mtimes do not matter.
        assert flags == 0b01, f"{pyc}: flags {flags:#b}"


@_NEEDS_LAMBDA_PYTHON
def test_bytecode_names_the_files_where_lambda_puts_them(asset_dir: Path) -> None:
    pyc = asset_dir / "voicebot" / "__pycache__" / "protocol.cpython-313.pyc"
    assert b"/var/task/voicebot/protocol.py" in pyc.read_bytes()
    assert str(asset_dir).encode() not in pyc.read_bytes()


@_NEEDS_LAMBDA_PYTHON
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the twin is a Linux build")
def test_handlers_really_import_from_a_twin_of_the_asset_alone() -> None:
    """Every handler module imports under the runtime's Python with only the asset on the path.

    The twin is built by the same code for this machine's architecture (the deployed one's
    aarch64 extensions cannot load here), with Lambda's environment, so the Powertools and
    X-Ray code paths are the ones a cold start runs. The modules must come from the twin and
    from its bytecode (nothing compiled at import).
    """
    with tempfile.TemporaryDirectory(prefix="voicebot-twin-") as tmp:
        twin = Path(tmp) / "task"
        bundling.build_asset(twin, bundling.host_pip_platform())
        code = (
            "import importlib, importlib.util, os, sys\n"
            f"twin = {str(twin)!r}\n"
            f"for m in {HANDLERS!r}: importlib.import_module('handlers.' + m)\n"
            "import handlers.chat, voicebot.adapters.chat_models, langchain_aws\n"
            "files = {getattr(m, '__file__', None) or '' for m in list(sys.modules.values())}\n"
            "files.discard('')\n"
            "print('OUTSIDE', sorted(f for f in files\n"
            "      if not f.startswith(twin) and not f.startswith(sys.base_prefix)))\n"
            "print('UNCOMPILED', sorted(f for f in files if f.startswith(twin)\n"
            "      and f.endswith('.py')\n"
            "      and not os.path.exists(importlib.util.cache_from_source(f))))\n"
        )
        result = subprocess.run(
            [str(_LAMBDA_PYTHON), "-S", "-s", "-c", code],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PYTHONPATH": str(twin),
                "LAMBDA_TASK_ROOT": str(twin),
                "AWS_LAMBDA_FUNCTION_NAME": "voicebot-test",
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
                # A read-only /var/task cannot take new bytecode; neither may this import.
                "PYTHONDONTWRITEBYTECODE": "1",
            },
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert "OUTSIDE []" in result.stdout, result.stdout[-2000:]
        assert "UNCOMPILED []" in result.stdout, result.stdout[-2000:]


def test_a_wrong_lambda_python_setting_fails_and_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VOICEBOT_LAMBDA_PYTHON", "/bin/false")  # runs, but is no Python 3.13
    bundling.lambda_python.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="VOICEBOT_LAMBDA_PYTHON=/bin/false"):
            bundling.lambda_python()
    finally:
        monkeypatch.undo()
        bundling.lambda_python.cache_clear()


def test_without_a_python_313_the_asset_has_no_bytecode_and_synth_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("VOICEBOT_LAMBDA_PYTHON", raising=False)
    monkeypatch.setattr(bundling, "_candidate_pythons", lambda: iter(["/bin/false"]))
    bundling.lambda_python.cache_clear()
    try:
        assert bundling.lambda_python() is None
        assert "built without bytecode" in capsys.readouterr().err
        # A cache of dependencies without bytecode is never reused for a build with it.
        without = bundling.dependencies_hash()
    finally:
        monkeypatch.undo()
        bundling.lambda_python.cache_clear()
    if bundling.lambda_python() is not None:
        assert bundling.dependencies_hash() != without


def test_bytecode_is_compiled_whatever_the_callers_python_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if _LAMBDA_PYTHON is None:
        pytest.skip(f"needs a Python {LAMBDA_PYTHON_VERSION}")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("VALUE = {'a', 'b'}\n")
    (tmp_path / "pkg" / "broken.py").write_text("def (:\n")  # compiles nowhere
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PYTHONOPTIMIZE", "1")
    bundling.compile_bytecode(tmp_path / "pkg", under="pkg")
    assert (tmp_path / "pkg" / "__pycache__" / "mod.cpython-313.pyc").is_file()
    assert not (tmp_path / "elsewhere").exists()
    assert not list(tmp_path.rglob("*.opt-1.pyc"))
    assert not (tmp_path / "pkg" / "__pycache__" / "broken.cpython-313.pyc").exists()
