"""Optional py-spy profiling (--profile) of the API and workers during a batch."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

from harness import Proc, child_env


class Profiler:
    """py-spy `record --format raw` on each process from upload start to batch completed."""

    def __init__(self, out_dir: Path, targets: dict[str, int], workdir: Path) -> None:
        self.out_dir, self.targets, self.workdir = out_dir, targets, workdir
        self.procs: list[Proc] = []
        exe = Path(sys.executable).parent / "py-spy"
        self.exe = str(exe) if exe.exists() else shutil.which("py-spy")
        if self.exe is None:
            raise RuntimeError("--profile needs py-spy (pip install py-spy into the venv)")

    def start(self) -> None:
        """Two recorders per process: raw collapsed stacks (for profile_report.py) and an SVG
        flamegraph. --nonblocking reads the target's memory without pausing it."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for role, pid in self.targets.items():
            for fmt, suffix in (("raw", "txt"), ("flamegraph", "svg")):
                args = [
                    self.exe or "py-spy",
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    "100",
                    "--nonblocking",
                    "--format",
                    fmt,
                    "-o",
                    str(self.out_dir / f"{role}.{suffix}"),
                ]
                log_path = self.out_dir / f"{role}-{fmt}.log"
                proc = Proc(f"py-spy-{role}-{fmt}", args, child_env(), log_path, self.workdir)
                self.procs.append(proc.start())

    def stop(self) -> None:
        for proc in self.procs:
            if proc.alive() and proc.popen is not None:
                proc.popen.send_signal(signal.SIGINT)
        for proc in self.procs:
            if proc.popen is not None:
                try:
                    proc.popen.wait(30)
                except subprocess.TimeoutExpired:
                    proc.stop()
