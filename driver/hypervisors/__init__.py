"""Hypervisor backends. ``base`` is the one interface; each backend lives in its own package."""
