import pytest

# The conformance suite is a library of tests imported by each backend's test module: rewrite its
# asserts too (registered here, before any test module can import it) so failures show values.
pytest.register_assert_rewrite("tests.graph.conformance")
