"""The private Beam names newsbeam leans on (pipeline/beam_internals.py): each test fails when a
Beam upgrade removes or changes one, before a run does."""

from __future__ import annotations

import inspect

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.options.value_provider import ValueProvider
from apache_beam.runners.common import _OutputHandler
from apache_beam.runners.dask import transform_evaluator

from newsbeam.pipeline import beam_internals
from newsbeam.pipeline.compose.flags import beam_parser, known_flags
from newsbeam.pipeline.compose.options import NewsbeamOptions


def test_beams_argument_parser_still_takes_value_provider_arguments():
    parser = beam_internals.BeamArgumentParser(add_help=False)
    parser.add_value_provider_argument("--template_value", default="x")
    assert isinstance(parser.parse_args([]).template_value, ValueProvider)
    assert NewsbeamOptions in PipelineOptions.__subclasses__()
    flags = known_flags(beam_parser())
    assert {"--runner", "--direct_num_workers", "--output", "--spacy-model"} <= set(flags)


def test_the_dask_pardo_translation_is_replaced_by_the_per_partition_one():
    # By name: a test that imports newsbeam afresh installs a ParDo class of its own.
    installed = transform_evaluator.TRANSLATIONS[beam.ParDo]
    assert (installed.__module__, installed.__qualname__) == (beam_internals.__name__, "ParDo")
    assert issubclass(beam_internals.ParDo, transform_evaluator.ParDo)
    assert list(inspect.signature(transform_evaluator.ParDo.apply).parameters) == [
        "self",
        "input_bag",
        "side_inputs",
    ]


def test_the_output_handler_still_takes_the_arguments_run_bundle_passes():
    _OutputHandler(
        window_fn=None,
        main_receivers=None,
        tagged_receivers=None,
        per_element_output_counter=None,
        output_batch_converter=None,
        process_yields_batches=False,
        process_batch_yields_elements=False,
    )


def test_run_bundle_gives_each_partition_its_own_outputs():
    class Double(beam.DoFn):
        def process(self, element):
            yield element * 2

    def bundle(items: list[int]) -> list[int]:
        windowed = [transform_evaluator.get_windowed_value(item, None) for item in items]
        return beam_internals.run_bundle(windowed, Double(), None, "Double", [], [], {})

    first, second = bundle([1, 2]), bundle([3])
    assert (first, second) == ([2, 4], [6])
