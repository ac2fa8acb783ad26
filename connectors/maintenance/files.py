"""A folder of a contractor's maintenance record files (kind `maintenance`).

    [connectors.anda-lifts]
    kind = "maintenance"
    folder = "/srv/drops/anda-lifts"   # the record files, *.csv and *.json
    every = "1h"

Read exactly as the custodian's statements are (`connectors.custodian.files`: files in
(modification time, name) order, each file's name without its suffix its id, the cursor the last
row checkpointed, a file still being written left for the next run, a file that is not a record
file one dead letter), with the columns of `connectors.maintenance.records`; each row's key is
`<file id>:<记录编号>`, and a 记录编号 repeated in its file is taken from its first row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from connectors.base import ConfigField, ConfigSchema, FieldType, Stream
from connectors.custodian.files import CustodianStatements
from connectors.custodian.statements import Columns
from connectors.maintenance.records import COLUMNS
from connectors.maintenance.stream import STREAM, MaintenanceStream


class MaintenanceRecords(CustodianStatements):
    """A contractor's maintenance records in a folder (see the module docstring)."""

    kind: ClassVar[str] = "maintenance"
    columns: ClassVar[Columns] = COLUMNS
    stream: ClassVar[str] = STREAM
    noun: ClassVar[str] = "maintenance record"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema(
        (
            ConfigField("folder", FieldType.PATH, "the folder the contractor's maintenance record files (*.csv, *.json) are put in"),
            ConfigField(
                "settle_seconds", FieldType.INTEGER, "a file changed more recently may still be being written",
                required=False, default=5, bounds=(0, 86_400),
            ),
        )
    )

    def streams(self) -> Sequence[Stream]:
        return [MaintenanceStream(self.name, self.read)]
