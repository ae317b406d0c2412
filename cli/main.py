"""The ``petpro`` command line: one entry point that fronts every library for people.

Each command group lives in its own module under ``cli`` and imports its heavy
dependencies (Dagster, dbt, FastAPI) inside the command, so ``petpro --help`` stays fast.
``main`` is the console-script entry: it turns a ``PetProError`` into one red line and exit
code 1, and any unexpected exception into one line pointing at the log file that holds the
stack trace.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

import typer
from rich.console import Console

from cli import register_all
from petpro.arrow_memory import use_returning_pool
from petpro.errors import PetProError

app = typer.Typer(
    name="petpro",
    help="PetPro customer-analytics warehouse: source, ingestion, refresh, exports and API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
register_all(app)

err_console = Console(stderr=True)


def _log_file() -> Path:
    try:
        from petpro.settings import get_settings

        home = get_settings().home
    except Exception:
        home = Path(".petpro").resolve()
    path = home / "logs" / "petpro.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _log_trace(exc: BaseException) -> Path:
    path = _log_file()
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(traceback.format_exception(exc)))
        fh.write("\n")
    return path


def configure_logging() -> None:
    """Python log records reach the terminal at WARNING and above only.

    The level sits on the terminal handler, not just the root logger: libraries that give
    their own loggers a level (Great Expectations sets
    ``great_expectations.data_context.types.base`` to INFO at import; Dagster's
    ``get_dagster_logger`` sets ``dagster`` to DEBUG) would otherwise print their INFO lines
    through it. Runs write their full logs to ``$PETPRO_HOME/logs`` instead.
    """
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)


def main() -> None:
    configure_logging()
    use_returning_pool()
    try:
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except PetProError as exc:
        _log_trace(exc)
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # a bug, not bad input: keep the trace out of the person's face
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            err_console.print("[yellow]aborted[/]")
            sys.exit(1)
        path = _log_trace(exc)
        err_console.print(
            f"[bold red]unexpected error:[/] {type(exc).__name__}: {exc} (stack trace in {path})",
            highlight=False,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
