"""The maintenance contractors' records as a source (kind `maintenance`): the files a 维保单位
drops — one per batch of work orders, CSV (UTF-8 or GBK) with Chinese columns, or JSON — whose
rows are maintenances booked on each facility's life record (graph.facilities), once.

`records` fixes the columns and reads a row exactly; `files` is the source (a folder of files,
read and checkpointed as the custodian's statements are: connectors.custodian.files);
`stream` links each row to its device and books it."""
