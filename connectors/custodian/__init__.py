"""The maintenance fund's custodian as a source (kind `custodian`): the statement files of the bank
holding the fund (托管银行) or the city's fund centre (市维修资金中心), one per period, whose lines
— first deposits, top-ups, interest — are booked on each estate's fund journal.

`statements` fixes the files' columns and reads a line's text exactly (yuan to integer fen, dates
in Beijing time); `files` is the source (a folder of files, checkpointed per file and row);
`lines` links each line to its house and estate and books it (`graph.funds.ledger.FundLedger`),
once."""
