"""Beam 2.77's DaskRunner (`runners/dask/`) with its translation fixed where it loses elements or
repeats work; imported only when that runner runs, since Dask is an extra (`newsbeam[dask]`).
Each fix is checked by tests/test_beam_internals.py, so a Beam upgrade that changes the code it
replaces fails there first.

- every Dask partition of a ParDo gets its own output list. Beam builds one output receiver
  when the graph is built and passes that same object to every partition's task, and
  `apply_dofn_to_bundle` returns everything the receiver ever collected without clearing it:
  a worker that runs several partitions sharing the deserialised object returns the outputs
  of the partitions before again (a 27-document run saw lines of one page three times).
  `ParDo` below builds the receiver inside the task (`run_bundle`);
- each side input is computed once per run, as one task of the run's graph, and that task's
  result (its `SideInputMap`s) is handed to every partition of every consumer. Beam wraps the
  side input's bag in an iterator that calls `list(bag)` inside each consumer's task, so
  everything upstream of a side input was computed again for every partition of every
  consumer (hundreds of times on a small run);
- a ParDo's DoFn gets `transform.args` / `transform.kwargs`, whose side inputs are the
  placeholders the DoFn invoker fills in (Beam passes `raw_side_inputs`, which hold them only
  because `Pipeline.run` rebuilds every transform from its proto first);
- a Flatten keeps the widest input's partitioning (partition i of the result holds partition
  i of every input that has one) instead of `dask.bag.concat`, which adds the inputs'
  partition counts up, so the task count grew at every Flatten down the graph;
- every leaf of the graph is computed, in one `client.compute`: Beam computes only the last
  bag it built, and counts on it depending on all the others;
- a GroupByKey sends a small int key `k` to partition `k mod n` (other keys by Dask's own
  stable token hash, as Beam's does): the NER stage's batch keys 0…63 then fill every
  partition alike, where token hashing put 4 to 12 of them in one of 8 partitions and the
  largest NER task took three times the smallest (a 2-worker run waited on it).

Use the runner as `--runner newsbeam.pipeline.beam_internals.dask_runner.DaskRunner`;
`newsbeam run --runner DaskRunner` does. Workers need newsbeam installed, since the task
functions live here.
"""

from __future__ import annotations

import dataclasses
import typing as t

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.pipeline import AppliedPTransform, PipelineVisitor
from apache_beam.runners.common import DoFnContext, DoFnInvoker, DoFnSignature, _OutputHandler
from apache_beam.runners.dask import dask_runner, transform_evaluator
from apache_beam.runners.dask.overrides import _Flatten, _GroupByKeyOnly, dask_overrides
from apache_beam.runners.dask.transform_evaluator import (
    TRANSLATIONS,
    NoOp,
    OneReceiver,
    defenestrate,
    get_windowed_value,
)
from apache_beam.transforms.sideinputs import SideInputMap


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


def side_input_values(partitions: list[list[t.Any]], window_fn: t.Any) -> list[t.Any]:
    """One side input's elements, windowed as Beam's `DaskBagWindowedIterator` windows them."""
    return [get_windowed_value(item, window_fn) for part in partitions for item in part]


def side_input_maps(
    views: list[tuple[t.Any, t.Any]], values: list[list[t.Any]]
) -> list[SideInputMap]:
    """The `SideInputMap`s of one ParDo, over side inputs computed once each. A worker keeps
    this task's result in memory for every partition it runs, so each map builds its view
    (the dict of an `AsDict`, ...) once per worker."""
    return [
        SideInputMap(view_class, view_options, elements)
        for (view_class, view_options), elements in zip(views, values, strict=True)
    ]


class ParDo(transform_evaluator.ParDo):
    """The ParDo translation: receivers built per partition by `run_bundle`, the DoFn's
    arguments with side-input placeholders, and `side_inputs` the task of `side_input_maps`
    that `BagVisitor` built (or None). DoFn.setup runs once per partition here, so a DoFn
    that loads a model keeps it per process (`transforms.enrich.load_ner` is cached)."""

    def apply(self, input_bag, side_inputs=None):
        transform = t.cast(beam.ParDo, self.transform)
        main_input = next(iter(self.applied.main_inputs.values()))
        window_fn = main_input.windowing.windowfn if hasattr(main_input, "windowing") else None
        return input_bag.map(get_windowed_value, window_fn).map_partitions(
            run_bundle,
            transform.fn,
            window_fn,
            transform.label,
            [] if side_inputs is None else side_inputs,
            list(transform.args),
            dict(transform.kwargs),
        )


def concat_partitions(*partitions: list[t.Any]) -> list[t.Any]:
    return [item for part in partitions for item in part]


class Flatten(transform_evaluator.Flatten):
    """Flatten with the widest input's partition count: partition i of the result is partition
    i of every input that has one."""

    def apply(self, input_bag, side_inputs=None):
        import dask
        import dask.bag as db

        assert isinstance(input_bag, list), "Must take a sequence of bags!"
        parts = [bag.to_delayed(optimize_graph=False) for bag in input_bag]
        width = max(len(p) for p in parts)
        return db.from_delayed(
            [
                dask.delayed(concat_partitions, pure=True)(*(p[i] for p in parts if i < len(p)))
                for i in range(width)
            ]
        )


def partition_hash(key: t.Any) -> int:
    """The number a GroupByKey's partition is chosen by (modulo the partition count): a
    non-negative int key itself, so consecutive keys spread evenly; any other key Dask's token
    hash, which every worker computes alike whatever its PYTHONHASHSEED."""
    if type(key) is int and key >= 0:
        return key
    from dask.base import tokenize

    return int(tokenize(key), 16)


def _key(item: tuple[t.Any, t.Any]) -> t.Any:
    return item[0]


def _values(group: tuple[t.Any, list[t.Any]]) -> tuple[t.Any, list[t.Any]]:
    key, items = group
    return key, [defenestrate(item[1]) for item in items]


class GroupByKey(transform_evaluator.GroupByKey):
    """Beam's translation (Dask's task shuffle) with keys placed by `partition_hash`."""

    def apply(self, input_bag, side_inputs=None):
        from dask.bag.core import groupby_tasks

        return groupby_tasks(input_bag, _key, hash=partition_hash).map(_values)


transform_evaluator.TRANSLATIONS[beam.ParDo] = ParDo
transform_evaluator.TRANSLATIONS[_Flatten] = Flatten
transform_evaluator.TRANSLATIONS[_GroupByKeyOnly] = GroupByKey


@dataclasses.dataclass
class BagVisitor(PipelineVisitor):
    """Beam's `DaskBagVisitor` (`DaskRunner.to_dask_bag_visitor`), except that side inputs are
    tasks computed once per run (`side_input_values`, shared by every consumer of the same
    PCollection) and that it knows which bags no transform consumes (`leaves`)."""

    bag_kwargs: dict[str, t.Any]
    bags: dict[AppliedPTransform, t.Any] = dataclasses.field(default_factory=dict)
    consumed: set[int] = dataclasses.field(default_factory=set)
    side_values: dict[AppliedPTransform, t.Any] = dataclasses.field(default_factory=dict)

    def visit_transform(self, transform_node: AppliedPTransform) -> None:
        op = TRANSLATIONS.get(transform_node.transform.__class__, NoOp)(
            transform_node, bag_kwargs=self.bag_kwargs
        )
        inputs = []
        for value in transform_node.inputs:
            if isinstance(value, pvalue.PBegin):
                inputs.append(None)
            if value.producer in self.bags:
                inputs.append(self.bags[value.producer])
        self.consumed.update(id(bag) for bag in inputs if bag is not None)
        if not inputs:
            input_bag = None
        elif len(inputs) == 1 and not isinstance(op, transform_evaluator.Flatten):
            input_bag = inputs[0]
        else:
            input_bag = inputs
        side_inputs = list(transform_node.side_inputs)
        maps = None
        if side_inputs:
            import dask

            views = [(type(si), si._view_options()) for si in side_inputs]
            maps = dask.delayed(side_input_maps, pure=True)(
                views, [self.side_input(si) for si in side_inputs]
            )
        self.bags[transform_node] = op.apply(input_bag=input_bag, side_inputs=maps)

    def side_input(self, side_input: t.Any) -> t.Any:
        """The task computing this side input's elements, one per PCollection."""
        import dask

        producer = side_input.pvalue.producer
        bag = self.bags[producer]
        self.consumed.add(id(bag))
        if producer not in self.side_values:
            self.side_values[producer] = dask.delayed(side_input_values, pure=True)(
                bag.to_delayed(optimize_graph=False), side_input._window_mapping_fn
            )
        return self.side_values[producer]

    def leaves(self) -> list[t.Any]:
        """The bags no transform reads: computing them computes the whole graph."""
        seen: set[int] = set()
        leaves = []
        for bag in self.bags.values():
            if bag is None or id(bag) in self.consumed or id(bag) in seen:
                continue
            seen.add(id(bag))
            leaves.append(bag)
        return leaves


class DaskRunner(dask_runner.DaskRunner):
    """Beam's DaskRunner with the fixes above installed."""

    @staticmethod
    def to_dask_bag_visitor(bag_kwargs=None) -> PipelineVisitor:
        return BagVisitor(bag_kwargs or {})

    def run_pipeline(self, pipeline, options):
        """Beam's `DaskRunner.run_pipeline`, computing every leaf of the graph at once."""
        import dask
        import dask.distributed as ddist

        dask_options = options.view_as(dask_runner.DaskOptions).get_all_options(
            drop_default=True, current_only=True
        )
        bag_kwargs = dask_runner.DaskOptions._extract_bag_kwargs(dask_options)
        client = ddist.Client(**dask_options)
        pipeline.replace_all(dask_overrides())
        visitor = BagVisitor(bag_kwargs)
        pipeline.visit(visitor)
        futures = client.compute(list(dask.optimize(*visitor.leaves())))
        return dask_runner.DaskRunnerResult(client, futures)
