"""The start-up peer of the local cloud: moto's own threaded server, none of our plugins.

    python moto_peer.py PORT READY_FILE

Writes READY_FILE once the server answers, as ``sfn_workbench.localcloud.server``
does, then serves until terminated.
"""

import signal
import sys
from pathlib import Path

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def main() -> None:
    port, ready = int(sys.argv[1]), Path(sys.argv[2])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    ready.write_text(f"http://127.0.0.1:{port}")

    def stop(*_: object) -> None:
        server.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.pause()


if __name__ == "__main__":
    main()
