#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    if sys.argv[1:2] != ["runserver"]:
        # commands (migrate, imports, reconciliation...) may wait longer than a web request
        from core.dbtimeouts import use_task_timeouts

        use_task_timeouts()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
