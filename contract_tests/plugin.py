"""The contract suite's command-line options, registered as a pytest plugin (entry point
``pytest11``) so that ``pytest --pyargs contract_tests --endpoint …`` works from an
installed package: pytest parses the command line before it finds the suite's conftest.

Only the options live here; the fixtures stay in the suite's conftest, so installing the
package adds nothing else to other projects' test runs."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--contract-config``, ``--endpoint``, ``--api-key`` and ``--secret-key``."""
    group = parser.getgroup("contract", "cloudstack-vmsnap contract suite")
    group.addoption("--contract-config", default=os.environ.get("VMSNAP_CONTRACT_CONFIG"),
                    help="INI file naming the target (env VMSNAP_CONTRACT_CONFIG)")
    group.addoption("--endpoint", help="CloudStack API endpoint, e.g. http://host:8080/client/api")
    group.addoption("--api-key", help="API key of an admin (or a user) of the target")
    group.addoption("--secret-key", help="its secret key")
