import fastscaffold


def test_all_lists_exactly_the_lazy_exports() -> None:
    assert sorted(fastscaffold.__all__) == sorted([*fastscaffold._EXPORTS, "__version__"])


def test_every_public_name_resolves() -> None:
    for name in fastscaffold.__all__:
        assert getattr(fastscaffold, name) is not None


def test_unknown_names_raise_attribute_error() -> None:
    try:
        fastscaffold.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
