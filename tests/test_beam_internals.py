"""The private Beam names newsbeam leans on (pipeline/beam_internals/): each test fails when a
Beam upgrade removes or changes one, before a run does."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import typing as t
import uuid
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.options.value_provider import ValueProvider
from apache_beam.runners.common import _OutputHandler
from apache_beam.runners.dask import transform_evaluator
from apache_beam.runners.dask.overrides import _Flatten, _GroupByKeyOnly
from apache_beam.transforms.sideinputs import SideInputMap
from dask.base import tokenize as dask_tokenize

from newsbeam.pipeline import beam_internals
from newsbeam.pipeline.beam_internals import dask_runner
from newsbeam.pipeline.compose.flags import beam_parser, known_flags
from newsbeam.pipeline.compose.options import NewsbeamOptions
from newsbeam.pipeline.run.cluster import local_cluster


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
    assert (installed.__module__, installed.__qualname__) == (dask_runner.__name__, "ParDo")
    assert issubclass(dask_runner.ParDo, transform_evaluator.ParDo)
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
        return dask_runner.run_bundle(windowed, Double(), None, "Double", [], [], {})

    first, second = bundle([1, 2]), bundle([3])
    assert (first, second) == ([2, 4], [6])


# --- the Dask translation's fixes, on a real local Dask cluster -------------------------------


def record(folder: Path, element: t.Any) -> t.Any:
    """Write `element` to a file of its own in `folder` (the workers are other processes)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / uuid.uuid4().hex).write_text(repr(element))
    return element


def recorded(folder: Path) -> list[t.Any]:
    """What `record` wrote into `folder`, in the order of their reprs."""
    return sorted((ast.literal_eval(path.read_text()) for path in folder.glob("*")), key=repr)


def add_total(number: int, totals: list[int]) -> int:
    return number + sum(totals)


def scale(number: int, factor: int, totals: list[int]) -> tuple[int, int]:
    return number * factor, len(totals)


@pytest.fixture(scope="module")
def dask_run(tmp_path_factory) -> Path:
    """A pipeline with a side input read by two ParDos (one by keyword, one positionally after
    a plain argument) and flattened with their outputs, and a second leaf that nothing reads,
    run on a local cluster of two workers with 4 partitions."""
    folder = tmp_path_factory.mktemp("dask-internals")
    with local_cluster(2) as address:
        options = PipelineOptions([f"--dask_client_address={address}", "--dask_npartitions=4"])
        pipeline = beam.Pipeline(runner=dask_runner.DaskRunner(), options=options)
        numbers = pipeline | "Numbers" >> beam.Create(range(20))
        _ = numbers | "Other" >> beam.Map(lambda n: record(folder / "other", n))
        side = (
            pipeline
            | "Totals" >> beam.Create(range(8))
            | "CountTotals" >> beam.Map(lambda n: record(folder / "side", n))
        )
        added = numbers | "Add" >> beam.Map(add_total, totals=beam.pvalue.AsList(side))
        scaled = numbers | "Scale" >> beam.Map(scale, 10, beam.pvalue.AsList(side))
        _ = (
            (added, scaled, side)
            | "All" >> beam.Flatten()
            | "Out" >> beam.Map(lambda n: record(folder / "out", n))
        )
        result = pipeline.run()
        result.wait_until_finish()
        result.client.close()
    return folder


def test_dask_side_inputs_are_computed_once_per_run(dask_run):
    # Beam's translation computed the side input once for the graph and again for each consumer.
    assert recorded(dask_run / "side") == sorted(range(8), key=repr)


def test_dask_dofns_get_side_inputs_by_keyword_and_position(dask_run):
    total = sum(range(8))
    expected = [n + total for n in range(20)] + [(n * 10, 8) for n in range(20)] + [*range(8)]
    assert recorded(dask_run / "out") == sorted(expected, key=repr)


def test_dask_runs_every_leaf_of_the_graph(dask_run):
    # Beam computed only the last bag it built ("Out" here), never the "Other" branch.
    assert recorded(dask_run / "other") == sorted(range(20), key=repr)


def test_dask_flatten_keeps_the_widest_partitioning():
    import dask.bag as db

    wide, narrow = db.from_sequence(range(8), npartitions=4), db.from_sequence("ab", npartitions=2)
    flat = dask_runner.Flatten(t.cast(t.Any, None)).apply([wide, narrow])
    assert flat.npartitions == 4  # dask.bag.concat: 6, and more at every Flatten downstream
    assert sorted(map(str, flat.compute())) == sorted(map(str, [*range(8), "a", "b"]))


def test_dask_group_by_key_spreads_small_int_keys_evenly():
    import dask.bag as db

    installed = transform_evaluator.TRANSLATIONS[_GroupByKeyOnly]
    assert (installed.__module__, installed.__qualname__) == (dask_runner.__name__, "GroupByKey")
    pairs = [(key, f"{key}-{copy}") for key in range(64) for copy in range(3)]
    bag = db.from_sequence(pairs, npartitions=8)
    grouped = dask_runner.GroupByKey(t.cast(t.Any, None)).apply(bag)
    partitions = [part.compute() for part in grouped.to_delayed()]
    # The NER stage's 64 batch keys: 8 in each of 8 partitions (token hashing gave 4 to 12).
    assert [len(part) for part in partitions] == [8] * 8
    groups = dict(group for part in partitions for group in part)
    assert groups == {key: [f"{key}-{copy}" for copy in range(3)] for key in range(64)}


def test_dask_group_by_key_places_other_keys_alike_in_every_process():
    # Not Python's hash(), which differs between processes unless PYTHONHASHSEED is set.
    assert dask_runner.partition_hash(("a", 1)) == dask_runner.partition_hash(("a", 1))
    assert dask_runner.partition_hash("article") == int(dask_tokenize("article"), 16)
    assert dask_runner.partition_hash(True) == int(dask_tokenize(True), 16)
    assert dask_runner.partition_hash(-3) == int(dask_tokenize(-3), 16)


def test_the_dask_code_the_adapter_replaces_is_still_beams_2_77():
    """Each fix replaces a piece of Beam's Dask runner; when Beam changes that piece, check
    whether the fix is still needed (and still right) before changing what this test expects."""
    from apache_beam.runners.dask import dask_runner as beams

    def source(function) -> str:
        return " ".join(inspect.getsource(function).split())

    # Side inputs: a bag that each consumer's task computes again with list().
    assert "for result in list(self.bag):" in source(
        transform_evaluator.DaskBagWindowedIterator.__iter__
    )
    assert "DaskBagWindowedIterator(si_asbag, si._window_mapping_fn)" in source(
        beams.DaskRunner.to_dask_bag_visitor
    )
    # Only the last bag built is computed.
    assert "dask.optimize(list(dask_visitor.bags.values())[-1])" in source(
        beams.DaskRunner.run_pipeline
    )
    # GroupByKey shuffles with Dask's token hash (small int keys land unevenly).
    assert "return input_bag.groupby(key).map(value)" in source(
        transform_evaluator.GroupByKey.apply
    )
    # Flatten adds the inputs' partition counts up.
    assert "return db.concat(input_bag)" in source(transform_evaluator.Flatten.apply)
    # One receiver for all of a ParDo's partitions.
    assert "tagged_receivers = OneReceiver()" in source(transform_evaluator.ParDo.apply)
    # What BagVisitor and DaskRunner.run_pipeline call with.
    assert list(inspect.signature(SideInputMap).parameters) == [
        "view_class",
        "view_options",
        "iterable",
    ]
    assert [f.name for f in dataclasses.fields(beams.DaskRunnerResult)] == [
        "client",
        "futures",
    ]
    installed = transform_evaluator.TRANSLATIONS[_Flatten]
    assert (installed.__module__, installed.__qualname__) == (dask_runner.__name__, "Flatten")


def test_local_dask_workers_run_without_the_profiler():
    import dask
    from distributed import Client

    with local_cluster(1) as address, Client(address) as client:
        settings = client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
    assert list(settings.values()) == [False]


def test_local_dask_workers_preload_the_batch_garbage_collector_setting():
    import gc

    from distributed import Client

    from newsbeam.pipeline.run.worker_setup import GC_THRESHOLD

    with local_cluster(1) as address, Client(address) as client:
        thresholds = client.run(gc.get_threshold)
    assert list(thresholds.values()) == [GC_THRESHOLD]
    assert gc.get_threshold() != GC_THRESHOLD  # the client's own process is left alone
