"""`bench/run.py` keeps working: a tiny run of the benchmark as a subprocess.

The stack scenario needs PostgreSQL and Redis: locally it is left out when they are missing,
in CI (`CI=true`) their absence fails the test, as everywhere else in the suite.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.services import PG_HOST, PG_PORT, PG_USER, REDIS_URL, in_ci

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "run.py"
ROW = re.compile(r"^(direct|embedded|stack-1worker)\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+)\s", re.M)


def _services_problem() -> str | None:
    import asyncpg
    import redis

    async def ping_postgres() -> None:
        connection = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
        )
        await connection.close()

    try:
        asyncio.run(ping_postgres())
    except Exception as exc:
        return f"PostgreSQL at {PG_HOST}:{PG_PORT}: {exc!r}"
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        client.ping()
        client.close()
    except Exception as exc:
        return f"Redis at {REDIS_URL}: {exc!r}"
    return None


@pytest.mark.timeout(90)
def test_bench_smoke(tmp_path: Path) -> None:
    scenarios = ["embedded", "stack1"]
    problem = _services_problem()
    if problem is not None:
        if in_ci():
            pytest.fail(f"{problem}; CI requires it", pytrace=False)
        scenarios = ["embedded"]  # locally: still check the embedded default
    args = [
        sys.executable,
        str(SCRIPT),
        "--n",
        "200",
        "--concurrency",
        "16",
        "--latency-ms",
        "1",
        "--skip-memory",
        "--direct-runs",
        "1",
        "--scenarios",
        ",".join(scenarios),
        "--workdir",
        str(tmp_path),
        "--json",
        str(tmp_path / "figures.json"),
        "--pg-host",
        PG_HOST,
        "--pg-port",
        str(PG_PORT),
        "--pg-user",
        PG_USER,
        "--redis-url",
        REDIS_URL,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHGATE_")}
    done = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=75, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    rates = {name: int(rate) for name, _, _, rate in ROW.findall(done.stdout)}
    expected = {"direct"} | {"stack-1worker" if s == "stack1" else s for s in scenarios}
    assert set(rates) == expected, output[-4000:]
    assert all(rate > 0 for rate in rates.values()), rates
    assert "targets:" in done.stdout
    # everything it made under --workdir is gone: run dir, input, output files
    assert list(tmp_path.iterdir()) == [tmp_path / "figures.json"]
