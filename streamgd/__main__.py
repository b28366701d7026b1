import sys

from streamgd.cli import main

sys.exit(main())
