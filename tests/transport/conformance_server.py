#!/usr/bin/python3
"""A websocket server on python3-websockets (Debian's, 10.4 on bookworm): an
implementation independent of Beast and Qt, for tst_wsconformance.

Listens on 127.0.0.1 (a free port), prints {"event": "listening", "port": N},
then serves one scenario per request path. After each connection it prints
{"event": "closed", "path": ..., "code": ..., "reason": ...}: the close code
and reason the client sent (1006 when it sent none), one JSON object a line.

    /echo                    echoes every text message
    /fragments               "Hello, fragmented wörld ✓" in 4 frames, then 256 KiB in 64 frames
    /ping-between-fragments  one message in 3 frames with a ping after each of the first two,
                             then "pongs: N" (how many pings the client answered within 5 s)
    /big                     one 1 MiB message (the letters a..z over and over)
    /close?code=C&reason=R   closes with code C and reason R
    /close-no-status         a close frame without a payload (no code)
    /reset-mid-frame         "before reset"; after the client's next message, half a frame,
                             then a TCP reset (RST)
    /too-big?bytes=N         one message of N bytes (the client's cap is smaller)
    /wait                    nothing: waits for the client to close
"""

import asyncio
import json
import socket
import struct
import sys
import urllib.parse

import websockets
from websockets.frames import Close

BIG = 1 << 20


def report(**fields):
    print(json.dumps(fields), flush=True)


def big_message(size):
    letters = "abcdefghijklmnopqrstuvwxyz"
    return (letters * (size // len(letters) + 1))[:size]


async def fragments_with_pings(ws, answered):
    for part, last in (("first part, ", False), ("second part, ", False), ("third part", True)):
        yield part
        if not last:
            waiter = await ws.ping()
            answered.append(waiter)


async def scenario(ws, path, query):
    if path == "/echo":
        async for message in ws:
            await ws.send(message)
    elif path == "/fragments":
        await ws.send(["Hello, ", "frag", "mented ", "wörld ✓"])
        await ws.send([big_message(4096)] * 64)
        await ws.wait_closed()
    elif path == "/ping-between-fragments":
        waiters = []
        await ws.send(fragments_with_pings(ws, waiters))
        done, _ = await asyncio.wait(waiters, timeout=5)
        await ws.send(f"pongs: {len(done)}")
        await ws.wait_closed()
    elif path == "/big":
        await ws.send(big_message(BIG))
        await ws.wait_closed()
    elif path == "/close":
        await ws.close(int(query["code"]), query.get("reason", ""))
    elif path == "/close-no-status":
        # close() always sends a code; an empty close frame is what RFC 6455
        # 7.1.5 reports as 1005. write_close_frame() takes the raw payload.
        await ws.write_close_frame(Close(1005, ""), b"")
        await ws.wait_closed()
    elif path == "/reset-mid-frame":
        await ws.send("before reset")
        await ws.recv()
        # A text frame announcing 4096 bytes, of which only 100 ever come.
        ws.transport.write(struct.pack("!BBH", 0x81, 126, 4096) + b"x" * 100)
        await asyncio.sleep(0.2)  # the client reads the half frame and waits for the rest
        sock = ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.transport.abort()
    elif path == "/too-big":
        await ws.send("y" * int(query["bytes"]))
        await ws.wait_closed()
    else:  # /wait
        await ws.wait_closed()


async def handler(ws):
    url = urllib.parse.urlsplit(ws.path)
    query = dict(urllib.parse.parse_qsl(url.query))
    try:
        await scenario(ws, url.path, query)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    report(event="closed", path=url.path, code=ws.close_code, reason=ws.close_reason)


async def main():
    # max_size: the 1 MiB scenarios go both ways; ping_interval None: only the scenarios ping.
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=4 * BIG, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        report(event="listening", port=port, version=websockets.__version__)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
