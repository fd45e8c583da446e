"""Running it: the `newsbeam` command, local runs in chunks, streaming, progress, Dask clusters,
the Dataflow launcher, and `newsbeam compact`."""
