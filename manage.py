#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serverops.settings.base")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Run `make install` once, then use the project's virtualenv: "
            "`.venv/bin/python manage.py …` (or activate it with `. .venv/bin/activate`)."
        ) from exc

    from django.core.exceptions import ImproperlyConfigured

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A setting the environment must provide (SECRET_KEY, ALLOWED_HOSTS…): one line, no traceback.
        sys.exit(f"manage.py: {exc}")


if __name__ == "__main__":
    main()
