import sys

from pf.cli import main

sys.exit(main())
