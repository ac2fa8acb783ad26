"""Owners' meetings and e-voting (业主大会 · 电子投票) under Civil Code Art. 278: the records and
their port (`records`), the law's thresholds (`law`), the electorate from the ownership graph
(`electorate`), the tally (`tally`) and the service that runs a vote over the store (`service`)."""
