"""Relay LSP over stdio to a child server and write every client message to a JSONL file.

    python tee_proxy.py LOG.jsonl -- wingman serve --engine fake

How tests/fuzz/sessions/neovim.jsonl was recorded (record_sessions.py): Neovim starts this as its
server command. Test code only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading


def main() -> int:
    log_path, sep, *cmd = sys.argv[1:]
    assert sep == "--" and cmd, __doc__
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def down() -> None:  # server -> client, byte for byte
        assert child.stdout is not None
        while chunk := child.stdout.read1(65536):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()

    threading.Thread(target=down, daemon=True).start()
    stdin, log = sys.stdin.buffer, open(log_path, "a")
    assert child.stdin is not None
    while True:
        length = None
        while (line := stdin.readline()) and line.strip():
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if not line or length is None:
            break
        body = stdin.read(length)
        log.write(json.dumps(json.loads(body)) + "\n")
        log.flush()
        try:
            child.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            child.stdin.flush()
        except BrokenPipeError:
            break
    try:
        child.stdin.close()
    except BrokenPipeError:
        pass
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
