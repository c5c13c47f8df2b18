"""Which metadata URLs mean which transport, as git reads them (git-clone(1), "GIT URLS"):
git's scp-like `[user@]host:path` is ssh, while a local path holding a colon stays a path."""
from __future__ import annotations

import os

import pytest

import mvc
from mvc.errors import InvalidInputError
from mvc.remote.remotes import check_git_url, url_kind


@pytest.mark.parametrize("url,kind", [
    ("git@example.com:team/models.git", "ssh"),
    ("example.com:models.git", "ssh"),
    ("ssh://git@example.com:2222/srv/models.git", "ssh"),
    ("git://127.0.0.1:9418/models.git", "git"),
    ("https://example.com/models.git", "https"),
    ("/srv/models.git", "path"),
    ("./with:colon/models.git", "path"),
    ("/srv/a:b/models.git", "path"),
    ("file:///srv/models.git", "path"),
])
def test_url_kinds(url, kind):
    assert url_kind(url) == kind


def test_scp_like_urls_are_kept_as_written_and_local_paths_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_git_url("git@example.com:team/models.git") == "git@example.com:team/models.git"
    assert check_git_url("./with:colon/models.git") == os.path.join(str(tmp_path), "with:colon/models.git")


@pytest.mark.parametrize("url", ["deploy:secret@example.com:models.git", "https://u:secret@example.com/m.git",
                                 "ssh://u:secret@example.com/m.git"])
def test_a_password_in_any_form_is_refused(url):
    with pytest.raises(InvalidInputError, match="password"):
        check_git_url(url)


def test_remote_add_records_an_scp_like_url_as_ssh(project):
    api = mvc.Api(create=True)
    api.add_remote("team", "git@example.com:team/models.git", storage=str(project / "bytes"), check=False)
    [remote] = [r for r in api.remotes() if r["name"] == "team"]
    assert remote["url"] == "git@example.com:team/models.git" and remote["kind"] == "ssh"
