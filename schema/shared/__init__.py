"""Shared queries: saved, versioned GraphQL queries run by those they are shared with, each in
its own scope; and the safelist mode that limits a role to them."""
