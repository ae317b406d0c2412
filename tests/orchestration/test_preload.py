"""The publication's modules imported in the background (``orchestration.preload``), in a fresh
interpreter each time, so what is loaded is what the thread loaded."""

from __future__ import annotations

import json
import subprocess
import sys

from petpro.settings import REPO_ROOT


def _run(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_publication_modules_are_loaded_by_the_thread() -> None:
    seen = _run(
        "import json, sys\n"
        "from orchestration.preload import preload\n"
        "before = {m: m in sys.modules for m in ('insights.marts', 'predictions.steps', "
        "'scipy.stats', 'sklearn')}\n"
        "thread = preload()\n"
        "thread.join(240)\n"
        "after = {m: m in sys.modules for m in before}\n"
        "print(json.dumps({'before': before, 'after': after, 'daemon': thread.daemon}))\n"
    )
    # Nothing of it was loaded by importing the preloader; all of it by the thread.
    assert not any(seen["before"].values()), seen
    assert all(seen["after"].values()), seen
    assert seen["daemon"] is True


def test_a_failing_import_is_dropped_and_the_next_module_still_loads() -> None:
    seen = _run(
        "import json, sys, threading\n"
        "errors = []\n"
        "threading.excepthook = lambda args: errors.append(repr(args.exc_value))\n"
        "from orchestration.preload import preload\n"
        "assert 'colorsys' not in sys.modules\n"
        "preload(['petpro.no_such_module', 'colorsys']).join(60)\n"
        "print(json.dumps({'errors': errors, 'loaded': 'colorsys' in sys.modules}))\n"
    )
    assert seen == {"errors": [], "loaded": True}
