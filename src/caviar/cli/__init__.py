"""The ``caviar`` command line (click and rich); ``caviar.cli.main:main`` is the entry point.

Not imported by ``import caviar``: only the command pulls in click and rich.
"""
