import sys

from artfinetune.cli import main

sys.exit(main())
