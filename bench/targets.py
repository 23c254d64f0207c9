"""The targets of the issue, and whether a run's figures meet them."""

from __future__ import annotations

from typing import Any

from scenarios import LABELS

T_STACK1_VS_DIRECT = 0.75
T_CPU_MS_PER_REQ = 0.6
T_LATENCY_SPEEDUP = 1.8
T_API_UPLOAD_RSS_MB = 150
T_UPLOAD_VALIDATE_MBPS = 50
T_WORKER_RSS_MB = 250
T_WORKER_RSS_GROWTH = 1.20


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    direct = report.get("direct")
    rows = report.get("scenarios", {})
    if direct and "stack1" in rows:
        ratio = rows["stack1"]["rps"] / direct["rps"]
        e2e = rows["stack1"]["e2e_rps"] / direct["rps"]
        out.append(
            {
                "target": f"stack 1 worker >= {T_STACK1_VS_DIRECT} x direct req/s",
                "value": f"{ratio:.2f} x (create->completed); {e2e:.2f} x (upload->downloaded)",
                "met": ratio >= T_STACK1_VS_DIRECT,
            }
        )
    for name, row in rows.items():
        out.append(
            {
                "target": f"CPU per request <= {T_CPU_MS_PER_REQ} ms ({LABELS[name]}, API+workers)",
                "value": f"{row['cpu_ms_per_req']:.3f} ms",
                "met": row["cpu_ms_per_req"] <= T_CPU_MS_PER_REQ,
            }
        )
    lb = report.get("latency_bound")
    if lb:
        out.append(
            {
                "target": f"latency-bound: 2 workers >= {T_LATENCY_SPEEDUP} x 1 worker",
                "value": f"{lb['speedup']:.2f} x (e2e {lb['speedup_e2e']:.2f} x)",
                "met": lb["speedup"] >= T_LATENCY_SPEEDUP,
            }
        )
    memory = report.get("memory")
    if memory:
        big, small = memory["50000"], memory["10000"]
        api = big["upload_peak_rss_mb"]["api"]
        out.append(
            {
                "target": f"API peak RSS while uploading 200 MiB <= {T_API_UPLOAD_RSS_MB} MB",
                "value": f"{api:.0f} MiB",
                "met": api <= T_API_UPLOAD_RSS_MB,
            }
        )
        rate = big["upload_validation_mbps"]
        out.append(
            {
                "target": f"upload + validation >= {T_UPLOAD_VALIDATE_MBPS} MB/s (200 MiB file)",
                "value": f"{rate:.0f} MiB/s (upload {big['upload_mbps']:.0f}, "
                f"validation {big['validation_mbps']:.0f})",
                "met": rate >= T_UPLOAD_VALIDATE_MBPS,
            }
        )
        w50, w10 = big["peak_rss_mb"]["worker1"], small["peak_rss_mb"]["worker1"]
        out.append(
            {
                "target": f"worker peak RSS <= {T_WORKER_RSS_MB} MB on 50k lines, "
                f"<= {T_WORKER_RSS_GROWTH:.2f} x the 10k figure",
                "value": f"{w50:.0f} MiB (10k: {w10:.0f} MiB, x{w50 / w10:.2f})",
                "met": w50 <= T_WORKER_RSS_MB and w50 <= T_WORKER_RSS_GROWTH * w10,
            }
        )
    return out
