"""Devices over MQTT: topic and payload decoding, the device registry, threshold rules and the
alarm lifecycle; they write through `graph/` only (arrives with the devices issue).
"""
