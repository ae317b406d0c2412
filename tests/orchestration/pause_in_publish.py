"""Run the real ``petpro`` command with one change: the publication pauses mid-way.

``python pause_in_publish.py MARKER refresh --date D`` runs ``cli.main`` exactly as the
``petpro`` entry point does, except that :func:`warehouse.publish.publish`, once it has
written its files and reaches its first atomic swap (``os.replace``/``os.rename``), writes
MARKER and sleeps instead; a test kills the process there, in the middle of the publish step,
with the build lock held. A publication that swaps nothing pauses before it returns. This is
a test harness (like a debugger breakpoint): production code has no pause hook.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    marker = Path(sys.argv[1])
    import warehouse.publish as publish_module

    real_publish = publish_module.publish

    def pause(where: str) -> None:
        marker.write_text(where)
        time.sleep(3600)

    def paused_publish(*args: Any, **kwargs: Any) -> Any:
        real_replace, real_rename = os.replace, os.rename
        os.replace = lambda *a, **k: pause(f"os.replace{a}")  # type: ignore[assignment]
        os.rename = lambda *a, **k: pause(f"os.rename{a}")  # type: ignore[assignment]
        try:
            result = real_publish(*args, **kwargs)
        finally:
            os.replace, os.rename = real_replace, real_rename
        pause("end of publish")
        return result

    publish_module.publish = paused_publish
    sys.argv = ["petpro", *sys.argv[2:]]
    from cli.main import main as petpro

    petpro()


if __name__ == "__main__":
    main()
