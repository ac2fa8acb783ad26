"""Devices over MQTT: they write through `graph/` only.

- `topics`: the topic scheme `{prefix}/devices/{code}/telemetry|events|status`.
- `payloads`: strict decoding of what devices send (size, UTF-8, JSON shape, times).
- `pipeline`: `Pipeline`, the bounded queue and batching consumer: readings, latest states,
  alarms through graph.rules, cases through graph.workflow, refused messages set aside.
- `mqtt`: `MqttReader`, the aiomqtt persistent session (MQTT 5, QoS 1, PUBACK once committed, reconnect).
- `service`: `Ingestion`, the pipeline and reader that `hub serve` starts and stops.
- `importing`: `hub devices import` (CSV, JSON, JSONL; all rows or none).
- `acl`: `hub devices acl`, mosquitto's `$7$` password file and per-device ACL.
- `simulator`: `hub simulate`'s deterministic generators and how they are sent.
"""
