"""``python -m caviar.cli``: the same as the ``caviar`` command."""

from caviar.cli.main import main

if __name__ == "__main__":
    main()
