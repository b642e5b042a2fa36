import sys

from mfalab.cli import main

sys.exit(main())
