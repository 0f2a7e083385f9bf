"""Plugins that the test suite loads with ``-p testplugins.NAME``."""
