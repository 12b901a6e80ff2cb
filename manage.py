#!/usr/bin/env python3
"""Same as the ``stepwell`` console command; kept for people used to Django."""

from stepwell.cli.main import main

if __name__ == "__main__":
    main()
