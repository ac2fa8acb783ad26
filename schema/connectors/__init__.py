"""The connectors face of the API: configured connectors, their runs and dead letters (admin and
city roles only), and `runConnector`."""
