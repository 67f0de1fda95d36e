"""Acceptance 5: the Greengrass v2 recipe is valid and complete, and the package builds."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from interpreter.config import ENV_PREFIX, Settings
from interpreter.greengrass import package

RECIPE = Path(package.__file__).with_name("recipe.yaml")


@pytest.fixture(scope="module")
def recipe() -> dict[str, Any]:
    loaded = yaml.safe_load(RECIPE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_recipe_has_every_field_greengrass_v2_requires(recipe: dict[str, Any]) -> None:
    assert recipe["RecipeFormatVersion"] == "2020-01-25"
    assert re.fullmatch(r"[A-Za-z0-9.\-_]+", recipe["ComponentName"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", recipe["ComponentVersion"])
    assert isinstance(recipe["ComponentConfiguration"]["DefaultConfiguration"], dict)
    assert recipe["Manifests"]
    for manifest in recipe["Manifests"]:
        assert manifest["Platform"]["os"] == "linux"
        assert manifest["Lifecycle"]["Run"]["Script"]
        assert manifest["Lifecycle"]["Install"]["Script"]
        for artifact in manifest["Artifacts"]:
            assert artifact["URI"].startswith("s3://")
            assert artifact["Unarchive"] == "ZIP"
    json.dumps(recipe)  # a JSON recipe is the same document


def test_the_recipe_configures_api_url_token_language_and_microphone(
    recipe: dict[str, Any],
) -> None:
    defaults = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    assert {"apiUrl", "deviceToken", "language", "microphone"} <= defaults.keys()
    assert defaults["language"] == "ko-KR"
    text = RECIPE.read_text()
    for key in re.findall(r"\{configuration:/(\w+)\}", text):
        assert key in defaults, f"{{configuration:/{key}}} has no default"


def test_every_environment_variable_the_recipe_sets_is_a_setting(recipe: dict[str, Any]) -> None:
    env = recipe["Manifests"][0]["Lifecycle"]["Setenv"]
    names = [name for name in env if name.startswith(ENV_PREFIX)]
    assert "VOICEBOT_API_URL" in names and "VOICEBOT_DEVICE_TOKEN" in names
    for name in names:
        assert name.removeprefix(ENV_PREFIX).lower() in Settings.model_fields, name


def test_the_default_configuration_as_greengrass_sets_it_is_valid_settings(
    recipe: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    for name, value in recipe["Manifests"][0]["Lifecycle"]["Setenv"].items():
        if name.startswith(ENV_PREFIX):
            key = re.fullmatch(r"\{configuration:/(\w+)\}", value)
            monkeypatch.setenv(name, str(defaults[key[1]]) if key else value)
    settings = Settings()
    assert settings.api_url is None and settings.device_token is None  # blank means unset
    assert settings.device is None and settings.language == "ko-KR" and settings.quiet


def test_the_package_holds_the_code_and_device_requirements_and_a_filled_in_recipe(
    tmp_path: Path,
) -> None:
    recipe_path, artifact = package.build(tmp_path, bucket="example-bucket", version="1.4.2")
    rendered = yaml.safe_load(recipe_path.read_text())
    assert rendered["ComponentVersion"] == "1.4.2"
    assert rendered["Manifests"][0]["Artifacts"][0]["URI"] == (
        "s3://example-bucket/com.voicebot.Interpreter/1.4.2/voicebot-interpreter.zip"
    )
    assert artifact.name == "voicebot-interpreter.zip"
    with zipfile.ZipFile(artifact) as archive:
        names = set(archive.namelist())
        requirements = archive.read("requirements.txt").decode()
    assert {"interpreter/__main__.py", "interpreter/recognizers/transcribe.py"} <= names
    assert {"voicebot/__init__.py", "voicebot/contract/wire.py"} <= names  # the wire models
    assert not any("__pycache__" in name for name in names)
    assert "amazon-transcribe" in requirements and "h2" not in requirements
