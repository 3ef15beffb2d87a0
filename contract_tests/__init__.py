"""A pytest suite that checks any CloudStack endpoint against the Instance-snapshot semantics.
Run it with ``pytest --pyargs contract_tests``."""
