"""The project's tests (a package, so that shared fixture modules import as tests.*)."""
