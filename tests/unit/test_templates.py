from fastscaffold.templates import project_template, templates_root, wiring_template
from tests.helpers import REPO_ROOT


def test_templates_resolve_to_the_checkout_in_a_source_install() -> None:
    # The wheel install is covered by tests/e2e/test_readme.py.
    assert templates_root() == REPO_ROOT / "templates"
    assert (project_template() / "copier.yml").is_file()
    assert wiring_template().is_file()
