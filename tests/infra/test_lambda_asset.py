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
- Where this machine is aarch64 with a python3.13 on PATH, a further test really imports every
  handler module in a subprocess whose only path is the asset directory; elsewhere it is skipped.
"""

from __future__ import annotations

import ast
import importlib.machinery
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


_PYTHON_313 = shutil.which("python3.13")


@pytest.mark.skipif(
    platform.machine() != "aarch64" or _PYTHON_313 is None,
    reason="a real import needs an aarch64 machine with python3.13 (the Lambda target)",
)
def test_handlers_really_import_from_the_asset_alone(asset_dir: Path) -> None:
    code = f"import importlib\nfor m in {HANDLERS!r}: importlib.import_module('handlers.' + m)"
    result = subprocess.run(
        [
            str(_PYTHON_313),
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path[:0] = [{str(asset_dir)!r}]\n{code}",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
