"""The rule for absent test dependencies: skip outside CI, fail when CI is set to a true value."""

import pytest

from tests.support import in_ci, missing_dependency


@pytest.mark.parametrize("value", ["true", "True", "1", "yes"])
def test_missing_dependency_fails_in_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert in_ci()
    with pytest.raises(pytest.fail.Exception, match="postgres is gone.*CI is set"):
        missing_dependency("postgres is gone")


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_missing_dependency_skips_outside_ci(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert not in_ci()
    with pytest.raises(pytest.skip.Exception, match="postgres is gone"):
        missing_dependency("postgres is gone")
