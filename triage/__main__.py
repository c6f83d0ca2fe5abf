"""``python -m triage`` runs the command-line tool."""

from .cli import main

main()
