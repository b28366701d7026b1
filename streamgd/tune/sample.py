"""A bounded sample of a job's data, written once for the trials to share.

Chunks are taken in a seeded random order until `tune.sample_rows` rows are
gathered, so the sample spans the data set (not only its first file) while the
reading stops early. Only the job's columns are kept. The sample is one Parquet
file: each trial then reads it in row groups like any other job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from streamgd.atomic import atomic_open
from streamgd.config import Config
from streamgd.errors import DataError
from streamgd.readers import Source, column_plan, open_source
from streamgd.readers.chunks import ChunkRef
from streamgd.train.prepare import prepare

# trials read the sample in row groups of this many rows (several chunks, so
# the shuffle of a trial is the same kind of shuffle as the job's)
ROW_GROUP_ROWS = 8192


class _Sampled:
    """The chunks of a source that the sample takes, readable like a source."""

    def __init__(self, source: Source, chunks: list[ChunkRef]) -> None:
        self.chunks, self._source = chunks, source

    def read(self, ref: ChunkRef) -> pa.Table:
        return self._source.read(ref)


def write_sample(config: Config, path: Path) -> int:
    """Write at most `tune.sample_rows` of the job's rows to `path`; rows written.

    The sampled chunks first go through the statistics pass's checks, so a bad
    value is reported once, naming its own file, column and row (in the trials
    it would fail each of them, located in the temporary sample).

    Raises:
        DataError: the job's files hold no rows, or a sampled chunk holds a
            value training refuses.
    """
    limit = config["tune.sample_rows"]
    plan = column_plan(config)
    source = open_source(config, plan)
    try:
        rng = np.random.default_rng(config["seed"])
        chunks, tables, n_rows = [], [], 0
        for index in rng.permutation(len(source.chunks)):
            if n_rows >= limit:
                break
            chunks.append(source.chunks[int(index)])
            tables.append(source.read(chunks[-1]))
            n_rows += tables[-1].num_rows
        if n_rows == 0:
            raise DataError("no rows to tune on",
                            file=", ".join(config["data.paths"]))
        prepare(config, _Sampled(source, sorted(chunks, key=_file_order)), plan)
    finally:
        source.close()

    # one schema for all chunks: a column may be int16 in one file, float64 in another
    sample = pa.concat_tables(tables, promote_options="permissive").slice(0, limit)
    with atomic_open(path, "wb") as stream:
        pq.write_table(sample, stream, row_group_size=ROW_GROUP_ROWS)
    return sample.num_rows


def _file_order(ref: ChunkRef) -> tuple[str, int]:
    # the statistics pass reads in file order; its first error is then the
    # earliest bad row of the sample
    return ref.file, ref.first_row
