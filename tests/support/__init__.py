"""Helpers shared by test packages (servers, browsers); imported as a library, unlike conftest files."""
