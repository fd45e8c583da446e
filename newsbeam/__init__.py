"""newsbeam: raw news articles → clean, validated, entity-enriched, partitioned Parquet.

One import package: the repository's folders are mapped into it (pyproject.toml,
`package-dir`): `newsbeam.pipeline` (pipeline/: options, build_pipeline(), the `newsbeam`
command), `newsbeam.schemas` (schemas/: the records and their Parquet schemas) and
`newsbeam.transforms` (transforms/: the stages). Nothing is imported here, so `newsbeam --help`
answers without loading Beam.
"""
