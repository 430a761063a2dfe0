"""What the mock's terminal runs: a line shell that echoes what is typed, as a pty in cooked mode
does, and knows three commands (``echo``, ``stty size``, ``exit``), enough for a browser's xterm.js
and for tests to see input, resizes and the end of a session."""

from __future__ import annotations

_BACKSPACE = (0x7F, 0x08)
LINE_LIMIT = 4095  # a tty's line buffer (N_TTY_BUF_SIZE less the newline): more is dropped, not echoed


class LineShell:
    def __init__(self, host: str, cols: int = 80, rows: int = 20) -> None:
        # termproxy starts the pty at 80x20 (pve-xtermjs termproxy/src/main.rs run_pty)
        self.prompt = f"root@{host}:~# ".encode()
        self.cols, self.rows = cols, rows
        self.line = bytearray()
        self.ended = False

    def resize(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows

    def feed(self, data: bytes) -> bytes:
        """What the terminal shows for ``data`` typed: its echo and any command's output."""
        out = bytearray()
        for byte in data:
            if self.ended:
                break
            if byte == 0x0D:  # Enter: xterm.js sends CR
                out += b"\r\n" + self._run(self.line.decode("utf-8", "replace").strip())
                self.line.clear()
                if not self.ended:
                    out += self.prompt
            elif byte in _BACKSPACE:
                if self.line:
                    del self.line[-1]
                    out += b"\b \b"
            elif byte == 0x03:  # Ctrl-C
                self.line.clear()
                out += b"^C\r\n" + self.prompt
            elif byte == 0x04 and not self.line:  # Ctrl-D on an empty line
                out += b"logout\r\n"
                self.ended = True
            elif (byte >= 0x20 or byte == 0x09) and len(self.line) < LINE_LIMIT:
                self.line.append(byte)
                out.append(byte)
        return bytes(out)

    def _run(self, command: str) -> bytes:
        name, _, rest = command.partition(" ")
        if not name:
            return b""
        if name in ("exit", "logout"):
            self.ended = True
            return b"logout\r\n"
        if name == "echo":
            return rest.encode() + b"\r\n"
        if command == "stty size":
            return f"{self.rows} {self.cols}\r\n".encode()
        return f"-bash: {name}: command not found\r\n".encode()
