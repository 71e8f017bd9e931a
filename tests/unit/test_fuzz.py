"""A short budget of the coverage-guided fuzzers (`make fuzz` runs them for longer)."""

from __future__ import annotations

import base64
import pathlib
import re
import subprocess
import sys

import pytest

from tests.fuzz import targets

pytest.importorskip("atheris", reason="atheris has wheels for Linux x86-64 only")

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: Executions per harness: the engine's are the slowest (a few hundred a second).
RUNS = {"frame": 3000, "table": 3000, "engine": 500}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    directory = tmp_path_factory.mktemp("fuzz") / "corpus"
    subprocess.run(
        [sys.executable, "-m", "tests.fuzz.seeds", str(directory)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return directory


@pytest.mark.timeout(120)
@pytest.mark.parametrize("target", sorted(RUNS))
def test_fuzz_budget(corpus: pathlib.Path, target: str) -> None:
    assert any((corpus / target).iterdir()), "the seed corpus is empty"
    command = [sys.executable, "-m", "tests.fuzz.run", target, "--corpus", str(corpus)]
    done = subprocess.run(
        [*command, "--runs", str(RUNS[target])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    final = re.search(r"#(\d+)\s+DONE\s+cov: (\d+)", done.stderr)
    assert final is not None, done.stderr[-2000:]
    assert int(final.group(1)) >= RUNS[target]


def test_engine_harness_reports_a_protocol_error_as_a_close() -> None:
    # A frame of an unknown type right after the protocol header's answer
    # would be: the harness sees the engine close, not an exception.
    seen = targets.run_engine([b"\x09\x00\x00\x00\x00\x00\x00\xce"])
    (only,) = seen
    assert only.startswith("ConnectionClosed(ConnectionClosedByClient: (501")
    assert "unknown frame type 9" in only


def test_engine_harness_opens_only_the_channels_the_broker_allows() -> None:
    # Found by the fuzzer: a Tune with channel_max 1, where the harness
    # opened channel 2 as well (the engine rightly refused it).
    stream = base64.b64decode(
        "AQAAAAAAHAAKAAoACQAAAAAAAAAFUExBSU4AAAAFZW5fVVPOAQAAAAAADAAKAB4AAQACAAAAAM4B"
        "AAAAAAAFAAoAKQDO"
    )
    targets.engine_target(stream)


def test_table_harness_catches_a_codec_that_raises_something_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(encoded: bytes, offset: int) -> object:
        raise KeyError(offset)

    monkeypatch.setattr(targets.data, "decode_table", broken)
    with pytest.raises(KeyError):
        targets.table_target(b"\x00\x00\x00\x00")
