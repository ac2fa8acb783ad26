"""Devices and their alarms in GraphQL: `devices`, `device`, `alarms`, `alarm`, `registerDevice`,
`ackAlarm`, and the live `alarms` and `caseUpdates` subscriptions."""
