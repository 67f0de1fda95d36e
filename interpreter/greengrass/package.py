"""Build the Greengrass component: ``python -m interpreter.greengrass.package --bucket BUCKET``.

Writes, under ``--out`` (default ``build/greengrass``), the layout that both
``greengrass-cli deployment create --recipeDir … --artifactDir …`` (local deployment on the
device) and ``aws greengrassv2 create-component-version`` (cloud) expect:

    recipes/com.voicebot.Interpreter-<version>.yaml
    artifacts/com.voicebot.Interpreter/<version>/voicebot-interpreter.zip
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO = PACKAGE_DIR.parent
RECIPE = Path(__file__).with_name("recipe.yaml")
REQUIREMENTS = REPO / "requirements" / "interpreter.txt"
# The interpreter speaks the wire contract's own models: ship that one package of the core (it
# needs pydantic only), not the rest of it.
CORE = REPO / "lambdas"
CONTRACT_FILES = ("voicebot/__init__.py", "voicebot/contract/*.py")
COMPONENT = "com.voicebot.Interpreter"
ARTIFACT = "voicebot-interpreter.zip"
_TEMPLATE_VERSION = "1.0.0"
_TEST_ONLY_MARKER = "# Test-only"


def device_requirements(text: str) -> str:
    """The runtime part of requirements/interpreter.txt: everything before the test-only part."""
    return text.split(_TEST_ONLY_MARKER, 1)[0].rstrip() + "\n"


def render_recipe(template: str, *, bucket: str, version: str) -> str:
    recipe = template.replace("REPLACE_WITH_BUCKET", bucket)
    recipe = recipe.replace(
        f'ComponentVersion: "{_TEMPLATE_VERSION}"', f'ComponentVersion: "{version}"'
    )
    return recipe.replace(f"/{COMPONENT}/{_TEMPLATE_VERSION}/", f"/{COMPONENT}/{version}/")


def build(out: Path, *, bucket: str, version: str) -> tuple[Path, Path]:
    artifact_dir = out / "artifacts" / COMPONENT / version
    recipe_dir = out / "recipes"
    artifact_dir.mkdir(parents=True, exist_ok=True)
    recipe_dir.mkdir(parents=True, exist_ok=True)
    artifact = artifact_dir / ARTIFACT
    with zipfile.ZipFile(artifact, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(PACKAGE_DIR.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(REPO).as_posix())
        for pattern in CONTRACT_FILES:
            for path in sorted(CORE.glob(pattern)):
                archive.write(path, path.relative_to(CORE).as_posix())
        archive.writestr("requirements.txt", device_requirements(REQUIREMENTS.read_text()))
    recipe = recipe_dir / f"{COMPONENT}-{version}.yaml"
    recipe.write_text(render_recipe(RECIPE.read_text(), bucket=bucket, version=version))
    return recipe, artifact


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m interpreter.greengrass.package", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--bucket", required=True, help="S3 bucket that will hold the artifact")
    parser.add_argument("--version", default=_TEMPLATE_VERSION, help="component version (semver)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "greengrass")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"\d+\.\d+\.\d+", args.version):
        parser.error("--version must look like 1.2.3")
    recipe, artifact = build(args.out, bucket=args.bucket, version=args.version)
    print(f"recipe:   {recipe}\nartifact: {artifact}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
