"""configs/serve files: the optional signal model is checked before anything starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raytrade.configfile import parse_model
from raytrade.core.errors import ConfigError
from raytrade.serve.api import ServeFile


def fake_version(tmp_path: Path) -> Path:
    folder = tmp_path / "ensemble" / "v0001"
    folder.mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps({"features": []}))
    return folder


def test_signals_wire_the_api_to_the_model_app(tmp_path: Path) -> None:
    version = fake_version(tmp_path)
    cfg = parse_model({"signals": {"model_path": str(version)}}, ServeFile, "serve.yaml")
    assert cfg.signals is not None and cfg.signals.model_path == version.resolve()
    assert cfg.api.signals_app is None and cfg.api_config().signals_app == "signals"
    assert parse_model({}, ServeFile, "serve.yaml").api_config().signals_app is None


@pytest.mark.parametrize(("signals", "api", "message"), [
    ({"model_path": "nowhere/v0001"}, {}, "serve.yaml: signals.model_path: nowhere/v0001 is not a model version"),
    ({"model_path": "{version}", "colour": 1}, {}, "serve.yaml: signals.colour: unknown field"),
    ({"model_path": "{version}"}, {"signals_app": "other"},
     "serve.yaml: (top level): api.signals_app is 'other' but signals.app is 'signals'"),
])
def test_bad_signals_part_is_one_line(tmp_path: Path, signals: dict, api: dict, message: str) -> None:
    version = fake_version(tmp_path)
    signals = {k: (str(version) if v == "{version}" else v) for k, v in signals.items()}
    with pytest.raises(ConfigError) as err:
        parse_model({"signals": signals, "api": api}, ServeFile, "serve.yaml")
    assert str(err.value).startswith(message), str(err.value)
