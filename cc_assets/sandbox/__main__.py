"""`python -m cc_assets.sandbox serve ...`"""

import sys

from cc_assets.sandbox.cli import main

sys.exit(main())
