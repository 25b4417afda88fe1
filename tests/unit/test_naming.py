import pytest

from fastscaffold.errors import InvalidNameError
from fastscaffold.naming import validate_project_name


@pytest.mark.parametrize(
    ("name", "package", "title"),
    [
        ("my-api", "my_api", "My Api"),
        ("orders", "orders", "Orders"),
        ("Orders.API", "orders_api", "Orders Api"),
        ("shop_v2", "shop_v2", "Shop V2"),
    ],
)
def test_valid_names_derive_package_and_title(name: str, package: str, title: str) -> None:
    names = validate_project_name(name)
    assert (names.project, names.package, names.title) == (name, package, title)
    assert names.image == name.lower().replace(".", "-").replace("_", "-")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a/b", "path"),
        ("..", "path"),
        ("../evil", "path"),
        ("a\\b", "path"),
        ("1api", "start with a letter"),
        ("_api", "start with a letter"),
        ("-api", "start with a letter"),
        ("émoji", "characters outside ASCII ('é')"),
        ("ünï", "characters outside ASCII ('ü', 'ï')"),
        ("my api", "only ASCII letters"),
        ("api-", "end with a letter or digit"),
        ("class", "keyword"),
        ("match", "keyword"),
        ("typing", "standard library"),
        ("json", "standard library"),
        ("fastapi", "dependency"),
        ("pydantic-settings", "dependency"),
        ("test", "dependency"),
        ("x" * 41, "longer than 40"),
    ],
)
def test_invalid_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        validate_project_name(name)
    assert reason in str(info.value)
    assert info.value.hint
