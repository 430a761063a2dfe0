"""The mock's consoles: what listens behind a vncproxy/termproxy/vncshell answer, and its protocols."""
