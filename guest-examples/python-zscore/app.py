"""A Farad UDF in Python: z-scores against a rolling window per group.

Built with componentize-py against the same WIT world as the Rust examples
(`udf-sdk/wit/udf.wit`), to show that any language targeting it works:

    componentize-py -d udf-sdk/wit -w udf componentize app -p guest-examples/python-zscore -o zscore.wasm

TICKscript: `@pyZscore().field('value').size(20).threshold(3.0)`. Every point with the field comes
out in its own series and group with `zscore` and `anomaly` (|zscore| > threshold).
"""

import json
import math
from collections import deque

import wit_world
from componentize_py_types import Err
from wit_world.imports import types as t


class State:
    """What the UDF keeps between calls (componentize-py makes a new WitWorld per call)."""

    field = None
    size = 100
    threshold = 3.0
    group_ids = []
    windows = {}


S = State()


def option(options, name, default):
    args = options.get(name)
    return args[0].value if args else default


class WitWorld(wit_world.WitWorld):
    def info(self) -> t.Info:
        return t.Info(
            wants=t.Edge.STREAM,
            provides=t.Edge.STREAM,
            options=[
                t.OptionSpec("field", [t.ValueType.STR], "the field to score"),
                t.OptionSpec("size", [t.ValueType.INT], "values in the window (default 100)"),
                t.OptionSpec("threshold", [t.ValueType.DOUBLE], "|z| of an anomaly (default 3)"),
            ],
        )

    def init(self, options) -> None:
        opts = {o.name: o.args for o in options}
        S.field = option(opts, "field", None)
        if S.field is None:
            raise Err("option .field() is required")
        S.size = option(opts, "size", 100)
        if S.size < 2:
            raise Err(f"size must be at least 2, got {S.size}")
        S.threshold = float(option(opts, "threshold", 3.0))
        S.group_ids = []
        S.windows = {}

    def process(self, input: t.Input) -> t.Output:
        if input.reset:
            S.group_ids = []
        S.group_ids.extend(g.id for g in input.new_groups)
        for gid in input.forget:
            S.windows.pop(gid, None)
        rows = input.rows
        times, series, groups, scores, anomalies = [], [], [], [], []
        for col in rows.columns:
            if col.name != S.field or not isinstance(
                col.data, (t.ColumnData_Double, t.ColumnData_Int)
            ):
                continue
            values, present = col.data.value, col.present
            for i, x in enumerate(values):
                if not present[i]:
                    continue
                gid = S.group_ids[rows.groups[i]]
                w = S.windows.setdefault(gid, deque(maxlen=S.size))
                z = 0.0
                if len(w) >= 2:
                    mean = sum(w) / len(w)
                    sd = math.sqrt(sum((v - mean) ** 2 for v in w) / (len(w) - 1))
                    z = (x - mean) / sd if sd > 0 else 0.0
                w.append(float(x))
                times.append(rows.times[i])
                series.append(rows.series[i])
                groups.append(rows.groups[i])
                scores.append(z)
                anomalies.append(abs(z) > S.threshold)
        n = len(times)
        # Output series mirror the input's one for one: the same table, declared as it grows.
        return t.Output(
            new_series=input.new_series,
            rows=t.Rows(
                times=times,
                series=series,
                groups=groups,
                columns=[
                    t.Column("zscore", t.ColumnData_Double(scores), bytes([1]) * n),
                    t.Column("anomaly", t.ColumnData_Boolean(anomalies), bytes([1]) * n),
                ],
                batches=[],
            ),
        )

    def snapshot(self) -> bytes:
        return json.dumps({g: list(w) for g, w in S.windows.items()}).encode()

    def restore(self, state: bytes) -> None:
        try:
            saved = json.loads(state)
        except ValueError as e:
            raise Err(f"unreadable snapshot: {e}")
        S.windows = {g: deque(v, maxlen=S.size) for g, v in saved.items()}
