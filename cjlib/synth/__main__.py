"""``python -m cjlib.synth``: write a synthetic data set (see :func:`cjlib.synth.main`)."""

from cjlib.synth import main

raise SystemExit(main())
