"""`python -m bandsplit_audiocraft.codec`: the codec's command line (see `cli`)."""
import sys

from .cli import main

if __name__ == '__main__':
    sys.exit(main())
