"""docker-compose.yml and the Dockerfile say what the README promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_services_and_health_checks() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "api", "worker", "fake-upstream"}
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert services[name]["environment"]["BATCHGATE_REDIS_URL"].startswith("redis://")
    assert services["worker"]["command"] == ["batchgate", "worker"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["fake-upstream"]["profiles"] == ["fake"]


def test_compose_config_accepts_the_file() -> None:
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, text=True)
        if probe.returncode != 0:
            continue
        result = subprocess.run(
            [*command, "--profile", "fake", "config", "--services"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert set(result.stdout.split()) == set(compose()["services"])
        return
    pytest.skip("neither `docker compose` nor `docker-compose` is installed")


def test_dockerfile_is_multi_stage_and_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("FROM ") == 2
    assert "USER batchgate" in text
    assert 'CMD ["batchgate", "serve"' in text
