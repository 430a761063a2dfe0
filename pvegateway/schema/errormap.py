"""PVE's ``add_error``: the per-parameter errors map, with several texts for one key joined by ``\\n``."""

from __future__ import annotations


class ErrorMap(dict[str, str]):
    def add(self, path: str, message: str) -> None:
        key = path or "_root"
        old = self.get(key)
        # PVE joins with the two characters backslash and n (a single-quoted '\n' in Perl).
        self[key] = message if old is None else old + "\\n" + message


def join_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key
