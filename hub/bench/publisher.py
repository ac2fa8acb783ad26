"""The device benchmark's publisher, a process of its own (hub.bench.devices starts it):

    python -m hub.bench.publisher PORT FILE [--paced RATE]

Every `topic\tpayload` line of FILE is published at QoS 1 to the Mosquitto on loopback PORT,
pipelined (up to 500 in flight), and a line `{"published": N, "seconds": S}` is printed at the
end. With `--paced RATE` the lines go one at a time, RATE a second, each payload's `ts` set to the
moment it is sent and printed as `topic\tsent` (the alarm-to-case latency phase).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path


async def publish(port: int, stream: Path, paced: float | None) -> None:
    """The publisher process: every `topic\tpayload` line of `stream` at QoS 1, pipelined, or
    one at a time `paced` a second with the payload's `ts` set to the moment it is sent (and
    printed as `topic\tsent` for the latency phase)."""
    import aiomqtt

    lines = [line.split("\t", 1) for line in stream.read_text(encoding="utf-8").splitlines() if line]
    quiet = logging.getLogger("hub.bench.publisher")
    quiet.setLevel(logging.ERROR)  # aiomqtt warns of every pending publish past ten: pipelining is the point
    async with aiomqtt.Client(
        "127.0.0.1", port, identifier=f"bench-publisher-{secrets.token_hex(4)}", max_inflight_messages=1000, logger=quiet
    ) as client:
        started = time.perf_counter()
        if paced:
            for topic, payload in lines:
                message = json.loads(payload)
                sent = time.time()
                message["ts"] = sent
                await client.publish(topic, json.dumps(message), qos=1)
                print(f"{topic}\t{sent:.6f}", flush=True)
                await asyncio.sleep(1 / paced)
        else:
            window = 500
            for begin in range(0, len(lines), window):
                await asyncio.gather(*(client.publish(t, p, qos=1) for t, p in lines[begin:begin + window]))
        seconds = time.perf_counter() - started
    print(json.dumps({"published": len(lines), "seconds": seconds}), flush=True)



def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    paced = float(arguments[arguments.index("--paced") + 1]) if "--paced" in arguments else None
    asyncio.run(publish(int(arguments[0]), Path(arguments[1]), paced))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
