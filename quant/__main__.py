"""``python -m quant``.

A quantization still running in llama.cpp cannot be stopped, so after Ctrl-C (its
temporary output already deleted) we leave without waiting for that thread.
"""

import os
import sys

from quant.cli import EXIT_INTERRUPTED, main

code = main()
if code == EXIT_INTERRUPTED:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
