"""A normal client: one keep-alive connection asking for /a.txt every 50 ms for SECONDS; prints
its latency (p50, p99, worst) and the server's peak resident memory (read from /proc/PID).
Usage: measure.py PORT PID SECONDS LABEL (see attack.py)."""
import asyncio, sys, time, statistics
port, pid, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def rss():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"): return int(line.split()[1]) / 1024
async def main():
    r, w = await asyncio.open_connection("127.0.0.1", port)
    req = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
    lat, peak, end = [], 0, time.time() + seconds
    while time.time() < end:
        t = time.perf_counter()
        w.write(req); await w.drain()
        head = await r.readuntil(b"\r\n\r\n")
        n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
        await r.readexactly(n)
        lat.append((time.perf_counter() - t) * 1000)
        peak = max(peak, rss())
        await asyncio.sleep(0.05)
    lat.sort()
    print(f"{sys.argv[4]}: rss peak {peak:.1f} MiB, p50 {statistics.median(lat):.3f} ms, p99 {lat[int(len(lat)*0.99)]:.3f} ms, max {lat[-1]:.3f} ms, n {len(lat)}")
asyncio.run(main())
