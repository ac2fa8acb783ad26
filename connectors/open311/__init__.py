"""Open311 GeoReport v2: the mapping between cases and service requests shared by the hub's
server (hub.open311) and the client that reads any Open311 server as a source (`client`)."""
