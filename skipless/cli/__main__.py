import sys

from skipless.cli import main

sys.exit(main())
