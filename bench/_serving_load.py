"""The fallback load generator of ``bench/serving.py``, used only when Debian's ``wrk`` is missing
and cannot be installed; run by Keel's venv python in a process of its own.

``_serving_load.py --url URL --bodies FILE --connections N --duration S`` opens N keep-alive
HTTP/1.1 connections to ``URL`` (``http://127.0.0.1:PORT/path``) on one asyncio loop (uvloop when
installed) and has each post the JSON bodies of ``FILE`` (one a line, in turn, each connection
starting at its own offset) back to back for S seconds: a closed loop, like ``wrk -c N``. It prints
one JSON line with the same fields as the ``wrk`` script of ``bench/serving.py``: requests
completed, the measured duration, errors by kind, and latency percentiles in microseconds (every
latency is kept and sorted: exact, not a histogram). Responses must carry ``Content-Length`` or be
chunked; anything else counts as a read error and closes the connection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one response off the connection and return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        raise ConnectionError("response without a length")
    return status


async def connection(
    host: str, port: int, requests: list[bytes], offset: int, stop: float, out: dict[str, list]
) -> None:
    latencies, errors = out["latencies"], out["errors"]
    reader = writer = None
    i = offset
    while time.perf_counter() < stop:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            started = time.perf_counter_ns()
            writer.write(requests[i % len(requests)])
            status = await asyncio.wait_for(read_response(reader), timeout=5.0)
            latencies.append((time.perf_counter_ns() - started) // 1000)
            if status >= 400:
                errors.append("status")
        except TimeoutError:
            errors.append("timeout")
            writer = None
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            errors.append("read")
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
        i += 1
    if writer is not None:
        writer.close()


def percentile(ordered: list[int], q: float) -> int:
    if not ordered:
        return 0
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def run(url: str, bodies: list[bytes], connections: int, duration: float) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [
        (
            f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]
    out: dict[str, list] = {"latencies": [], "errors": []}
    started = time.perf_counter()
    stop = started + duration
    step = max(1, len(requests) // max(connections, 1))
    await asyncio.gather(
        *(connection(host, port, requests, k * step, stop, out) for k in range(connections))
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(out["latencies"])
    errors = out["errors"]
    return {
        "requests": len(ordered),
        "duration_us": int(elapsed * 1e6),
        "errors_connect": 0,
        "errors_read": errors.count("read"),
        "errors_write": 0,
        "errors_status": errors.count("status"),
        "errors_timeout": errors.count("timeout"),
        "p50_us": percentile(ordered, 50),
        "p90_us": percentile(ordered, 90),
        "p99_us": percentile(ordered, 99),
        "p999_us": percentile(ordered, 99.9),
        "max_us": ordered[-1] if ordered else 0,
        "mean_us": sum(ordered) / len(ordered) if ordered else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", type=Path, required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args()
    bodies = [line.encode() for line in args.bodies.read_text().splitlines() if line]
    work = run(args.url, bodies, args.connections, args.duration)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
