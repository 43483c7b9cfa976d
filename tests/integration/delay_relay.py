"""A TCP relay that delays every byte by a known time in each direction, for the physical-evidence
tests (a cluster that is "farther away" than it is):

    python3 delay_relay.py --target 127.0.0.1:9443 --delay-ms 25

listens on 127.0.0.1 (an ephemeral port; --listen HOST:PORT to choose), prints {"msg": "listening", "port": N} and forwards each
connection to the target. Each chunk read is written DELAY after it arrived, in order, so a round
trip through the relay takes at least 2 x DELAY. The TCP connect is answered by the relay itself at
once: only a round trip that reaches the target (the TLS handshake) shows the delay."""

import argparse
import asyncio
import json
import sys


async def pipe(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    task = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            await queue.put((loop.time() + delay, data))
            if not data:
                break
        await task
    except (ConnectionError, asyncio.CancelledError):
        task.cancel()
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--listen", default="127.0.0.1:0")
    args = parser.parse_args()
    listen_host, listen_port = args.listen.rsplit(":", 1)
    host, port = args.target.rsplit(":", 1)
    delay = args.delay_ms / 1000.0

    async def handle(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, up_writer, delay), pipe(up_reader, client_writer, delay),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, listen_host, int(listen_port))
    print(json.dumps({"msg": "listening", "port": server.sockets[0].getsockname()[1]}), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
