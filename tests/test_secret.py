"""The DICOM key (UID replacement, date shifts) is private to each installation."""
from __future__ import annotations

import os
import stat

import pydicom
import pytest
import io

from phi_guard import Policy
from phi_guard.errors import PolicyError
from phi_guard.formats.dicom.profile import new_uid
from phi_guard.policy import _default_table

from conftest import DATA

PUBLIC = "phi_guard-default-secret"


def test_no_usable_secret_is_shipped():
    assert _default_table()["dicom"]["secret"] == ""
    with pytest.raises(PolicyError, match="dicom.secret"):
        Policy.from_table({"dicom": {"secret": PUBLIC}})
    with pytest.raises(PolicyError, match="dicom.secret"):
        Policy.from_table({"dicom": {"secret": "short"}})


def test_installation_secret_is_random_private_and_stable(tmp_path, monkeypatch, screener):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    data = (DATA / "dicom" / "2_ORIGINAL.dcm").read_bytes()
    original = pydicom.dcmread(io.BytesIO(data))
    out = pydicom.dcmread(io.BytesIO(screener.screen(data, output_format="DICOM").safe_bytes))
    assert out.StudyInstanceUID != new_uid(original.StudyInstanceUID, PUBLIC)  # not the public key
    key = tmp_path / "cfg" / "phi_guard" / "secret"
    assert key.exists()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    secret = key.read_text().strip()
    assert len(secret) >= 32
    assert out.StudyInstanceUID == new_uid(original.StudyInstanceUID, secret)
    # the same installation keeps its key: UIDs stay linked across runs
    again = pydicom.dcmread(io.BytesIO(screener.screen(data, output_format="DICOM").safe_bytes))
    assert again.StudyInstanceUID == out.StudyInstanceUID
    # another installation gets another key
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "other"))
    other = pydicom.dcmread(io.BytesIO(screener.screen(data, output_format="DICOM").safe_bytes))
    assert other.StudyInstanceUID != out.StudyInstanceUID


def test_a_secret_readable_by_others_is_refused(tmp_path, monkeypatch):
    from phi_guard.secret import installation_secret

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    first = installation_secret()
    assert installation_secret() == first
    key = tmp_path / "phi_guard" / "secret"
    os.chmod(key, 0o644)
    with pytest.raises(PolicyError, match="readable by other users"):
        installation_secret()


def test_policy_digest_does_not_carry_the_secret():
    a = Policy.from_table({"dicom": {"secret": "x" * 32}})
    b = Policy.from_table({"dicom": {"secret": "y" * 32}})
    assert a.digest != b.digest  # a new key is a new policy (resume re-screens)
    assert "x" * 32 not in repr(a.digest)
