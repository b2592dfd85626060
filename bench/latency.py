"""A TCP proxy that adds latency, since this kernel has no netem.

``python -m bench.latency --rtt-ms 40 LISTEN_PORT:TARGET_PORT ...`` listens on
127.0.0.1:LISTEN_PORT for each pair and forwards to 127.0.0.1:TARGET_PORT,
holding every chunk for half the round trip in each direction (order kept).
It prints ``ready`` once every port listens, and runs until terminated. Run it
as its own process so that its CPU does not count as the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(deliver())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay_s, data))
    except ConnectionError:
        pass
    queue.put_nowait((0.0, b""))
    with contextlib.suppress(ConnectionError):
        await sender


async def _serve(pairs: list[tuple[int, int]], delay_s: float) -> None:
    async def handler(
        target: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pump(reader, up_writer, delay_s), _pump(up_reader, writer, delay_s))

    servers = [
        await asyncio.start_server(lambda r, w, t=target: handler(t, r, w), "127.0.0.1", listen)
        for listen, target in pairs
    ]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.latency", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rtt-ms", type=float, required=True)
    parser.add_argument("pairs", nargs="+", help="LISTEN_PORT:TARGET_PORT")
    args = parser.parse_args(argv)
    pairs = [tuple(int(p) for p in pair.split(":")) for pair in args.pairs]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(pairs, args.rtt_ms / 2000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
