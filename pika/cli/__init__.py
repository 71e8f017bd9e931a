"""The ``pika`` command line: ``declare``, ``publish``, ``consume`` and the ``perf`` test.

`pika.cli.main.main` is the entry point (``python -m pika`` and the ``pika``
console script); each command lives in a module of its own.
"""
