"""The domain of the hub: places, owners, firms and their codes, and the store port.

`graph` imports nothing from the other packages of the hub: sources and devices write
through it, the GraphQL schema reads through it.
"""
