"""Every use of a private Beam name, in one place, each checked by tests/test_beam_internals.py
so that a Beam upgrade that changes one fails there first.

- `BeamArgumentParser` (here): the argparse parser Beam's own options are defined on (it adds
  `add_value_provider_argument`), which `compose.flags` needs to list every flag Beam accepts.
- `dask_runner.DaskRunner`: Beam's DaskRunner with its translation fixed (per-partition output
  lists, side inputs computed once, widest Flatten, every leaf computed). A module of its own
  because it imports Dask, an extra: the command line and local runs never load it.
"""

from __future__ import annotations

from apache_beam.options.pipeline_options import _BeamArgumentParser

BeamArgumentParser = _BeamArgumentParser
