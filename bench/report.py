"""The printed report: the scenario table, the CPU table, the memory rows, the targets."""

from __future__ import annotations

from typing import Any

from sampler import MB
from scenarios import LABELS


def log(message: str) -> None:
    print(message, flush=True)


HEADER = (
    f"{'scenario':<16}{'wall_s':>8}{'e2e_s':>8}{'req/s':>9}{'vs_direct':>10}{'e2e_vs':>8}"
    f"{'cpu_ms/req':>11}  {'peak_rss_MB(api/workers)':<26}{'up_max_inflight':>15}"
)


def _rss(result: dict[str, Any]) -> str:
    peaks = result.get("peak_rss_mb")
    if not peaks:
        return "-"
    workers = [f"{v:.0f}" for k, v in peaks.items() if k != "api"]
    return f"{peaks['api']:.0f}/" + ("+".join(workers) if workers else "-")


def scenario_row(label: str, result: dict[str, Any], direct: dict[str, Any] | None) -> str:
    vs = f"{result['rps'] / direct['rps']:.2f}" if direct else "-"
    e2e_vs = f"{result['e2e_rps'] / direct['rps']:.2f}" if direct else "-"
    cpu = result.get("cpu_ms_per_req")
    cpu_text = f"{cpu:.3f}" if cpu is not None else f"({result['client_cpu_ms_per_req']:.3f})"
    line = (
        f"{label:<16}{result['wall_s']:>8.2f}{result['e2e_s']:>8.2f}{result['rps']:>9.0f}"
        f"{vs:>10}{e2e_vs:>8}{cpu_text:>11}  {_rss(result):<26}"
        f"{result.get('upstream_max_in_flight') or '-':>15}"
    )
    if result.get("warning"):
        line += f"   ! {result['warning']}"
    return line


def memory_row(label: str, r: dict[str, Any]) -> str:
    return (
        f"memory {label:>6} lines: {r['bytes'] / MB:6.1f} MiB  upload {r['upload_s']:.2f}s "
        f"({r['upload_mbps']:.0f} MiB/s)  validation {r['validation_s']:.2f}s "
        f"({r['validation_mbps']:.0f} MiB/s)  upload+validation {r['upload_validation_mbps']:.0f} "
        f"MiB/s  API peak RSS upload {r['upload_peak_rss_mb']['api']:.0f} MiB / whole run "
        f"{r['peak_rss_mb']['api']:.0f} MiB  worker peak RSS {r['peak_rss_mb']['worker1']:.0f} "
        f"MiB  run {r['wall_s']:.1f}s ({r['rps']:.0f} req/s)"
    )


def _cpu_table(report: dict[str, Any]) -> None:
    """Where the machine's CPU went, per request, by process (not only batchgate's)."""
    rows = [(f"direct#{i + 1}", r) for i, r in enumerate(report.get("direct_runs", []))]
    rows += [(LABELS[name], r) for name, r in report.get("scenarios", {}).items()]
    if not rows:
        return
    log("")
    log("CPU ms per request by process (upstream = the fake upstream, client = this script,")
    log("postgres = backends of the scenario's database); busy = whole machine, all cores:")
    log(
        f"{'scenario':<16}{'api':>8}{'workers':>9}{'upstream':>10}{'postgres':>10}"
        f"{'client':>8}{'sum':>8}{'busy':>7}"
    )
    for label, row in rows:
        by = row.get("cpu_ms_per_req_by_process", {})
        workers = sum(v for k, v in by.items() if k.startswith("worker"))
        cells = [by.get("api"), workers if "worker1" in by else None]
        cells += [by.get("upstream"), by.get("postgres"), by.get("client")]
        text = "".join(
            f"{'-' if v is None else f'{v:.3f}':>{w}}"
            for v, w in zip(cells, (8, 9, 10, 10, 8), strict=True)
        )
        log(
            f"{label:<16}{text}{sum(v or 0 for v in cells):>8.3f}"
            f"{100 * row.get('machine_busy', 0):>6.0f}%"
        )


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def print_report(report: dict[str, Any]) -> None:
    cfg = report["config"]
    log("")
    log(
        f"== N={cfg['n']} lines, C={cfg['concurrency']} in flight, upstream latency "
        f"{cfg['latency_ms']:g} ms, {cfg['cpus']} CPUs =="
    )
    log(f"batchgate measured: {cfg['code']}")
    log("wall_s = create -> completed (direct: first send -> last response written);")
    log("e2e_s = upload -> both files downloaded; req/s = N / wall_s; vs_direct = req/s ratio;")
    log(
        "e2e_vs = (N / e2e_s) / direct req/s; cpu_ms/req = API + workers CPU (direct: the client's,"
    )
    log("in parentheses); RSS in MiB; up_max_inflight = most concurrent requests the upstream saw")
    log(HEADER)
    direct = report.get("direct")
    if direct:
        runs = report.get("direct_runs", [])
        for i, run in enumerate(runs):
            log(scenario_row(f"direct#{i + 1}", run, None))
        log(scenario_row("direct", direct, None) + "   (mean of the runs above: the baseline)")
    for name, row in report.get("scenarios", {}).items():
        log(scenario_row(LABELS[name], row, direct))
    _cpu_table(report)
    lb = report.get("latency_bound")
    if lb:
        log("")
        log(
            f"latency-bound: upstream {cfg['lb_latency_ms']:g} ms, {cfg['lb_concurrency']} in "
            f"flight per worker, N={cfg['lb_n']} (ceiling {cfg['lb_concurrency']} / latency = "
            f"{cfg['lb_concurrency'] / cfg['lb_latency_ms'] * 1000:.0f} req/s per worker)"
        )
        log(HEADER)
        for name in ("lb-1worker", "lb-2workers"):
            log(scenario_row(name, lb[name], None))
        log(f"speed-up 2 workers / 1 worker: {lb['speedup']:.2f} x (e2e {lb['speedup_e2e']:.2f} x)")
    memory = report.get("memory")
    if memory:
        log("")
        for label, result in memory.items():
            log(memory_row(label, result))
    log("")
    log("targets:")
    for item in report["targets"]:
        log(f"  [{_verdict(item['met']):>7}] {item['target']}: {item['value']}")
