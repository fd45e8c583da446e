"""`python -m newsbeam run …` is the same as `newsbeam run …`."""

import sys

from newsbeam.pipeline.run.cli import main

sys.exit(main())
