"""Every use of a private Beam name, in one place, each checked by tests/test_beam_internals.py
so that a Beam upgrade that changes one fails there first.

- `BeamArgumentParser`: the argparse parser Beam's own options are defined on (it adds
  `add_value_provider_argument`), which `compose.flags` needs to list every flag Beam accepts.
- `DaskRunner`: Beam's DaskRunner with one fix: every Dask partition of a ParDo gets its own
  output list. Beam 2.77's Dask translation of ParDo (`runners/dask/transform_evaluator.py`)
  builds one output receiver when the graph is built and passes that same object to every
  partition's task, and `apply_dofn_to_bundle` returns everything the receiver ever collected
  without clearing it. When a worker runs several partitions that share the deserialised object,
  a partition returns the outputs of the partitions before it again: elements are silently
  duplicated (the per-source template counts of a 27-document run saw lines of one page three
  times). `ParDo` below builds the receiver inside the task.

Use the runner as `--runner newsbeam.pipeline.beam_internals.DaskRunner`; `newsbeam run --runner
DaskRunner` does. Workers need newsbeam installed, since the task function lives here.
"""

from __future__ import annotations

import typing as t

import apache_beam as beam
from apache_beam.options.pipeline_options import _BeamArgumentParser
from apache_beam.runners.common import DoFnContext, DoFnInvoker, DoFnSignature, _OutputHandler
from apache_beam.runners.dask import dask_runner, transform_evaluator
from apache_beam.runners.dask.transform_evaluator import OneReceiver, get_windowed_value

BeamArgumentParser = _BeamArgumentParser


def run_bundle(
    items: t.Iterable[t.Any],
    fn: beam.DoFn,
    window_fn: t.Any,
    label: str,
    side_inputs: t.Any,
    args: list[t.Any],
    kwargs: dict[str, t.Any],
) -> list[t.Any]:
    """Run a DoFn over one Dask partition with receivers of its own; returns its outputs."""
    receivers = OneReceiver()
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(fn),
        _OutputHandler(
            window_fn=window_fn,
            main_receivers=receivers[None],
            tagged_receivers=receivers,
            per_element_output_counter=None,
            output_batch_converter=None,
            process_yields_batches=False,
            process_batch_yields_elements=False,
        ),
        context=DoFnContext(label, state=None),
        side_inputs=side_inputs,
        input_args=args,
        input_kwargs=kwargs,
        user_state_context=None,
        bundle_finalizer_param=beam.DoFn.BundleFinalizerParam(),
    )
    invoker.invoke_setup()
    invoker.invoke_start_bundle()
    for item in items:
        invoker.invoke_process(item)
    invoker.invoke_finish_bundle()
    invoker.invoke_teardown()
    return [value.value for value in receivers.values]


class ParDo(transform_evaluator.ParDo):
    """The ParDo translation, with receivers built per partition by `run_bundle`."""

    def apply(self, input_bag, side_inputs=None):
        transform = t.cast(beam.ParDo, self.transform)
        args, kwargs = transform.raw_side_inputs
        main_input = next(iter(self.applied.main_inputs.values()))
        window_fn = main_input.windowing.windowfn if hasattr(main_input, "windowing") else None
        return input_bag.map(get_windowed_value, window_fn).map_partitions(
            run_bundle, transform.fn, window_fn, transform.label, side_inputs, list(args), kwargs
        )


transform_evaluator.TRANSLATIONS[beam.ParDo] = ParDo


class DaskRunner(dask_runner.DaskRunner):
    """Beam's DaskRunner with the per-partition ParDo fix above installed."""
