"""``python -m pika``: the command line (see `pika.cli`)."""

from pika.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
