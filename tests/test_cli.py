import json
import subprocess
import sys

import pytest

from univs_bench.benchmarks import BENCHMARKS, benchmarks_for_tasks, get_benchmark
from univs_bench.cli import main
from univs_bench.errors import InputError


def test_catalog_has_the_twelve_benchmarks_with_contract_metrics():
    assert sorted(BENCHMARKS) == sorted(["ytvis19", "ytvis21", "ovis", "vspw", "vipseg", "davis17",
                                         "ytvos18", "mose", "burst", "refytvos", "refdavis17", "viposeg"])
    assert get_benchmark("ovis").metrics[-1] == "AR_heavy"
    assert get_benchmark("burst").metrics_for("open_world") == ("OWTA_all", "OWTA_common", "OWTA_uncommon")
    assert [b.name for b in benchmarks_for_tasks("refvos,pvos")] == ["refytvos", "refdavis17", "viposeg"]
    # one name per thing: dataset names are aliases, any case; typos get the nearest name
    assert get_benchmark("davis").name == "davis17" and get_benchmark("DAVIS17").name == "davis17"
    assert get_benchmark("ytvos").name == "ytvos18" and get_benchmark("refdavis").name == "refdavis17"
    with pytest.raises(InputError, match=r"unknown benchmark 'davis71' \(did you mean davis17\?\)"):
        get_benchmark("davis71")


def test_list_and_version(capsys):
    assert main(["list", "benchmarks"]) == 0
    out = capsys.readouterr().out
    assert "refdavis17" in out and "server-only" in out
    assert main(["version"]) == 0


def test_evaluate_errors_are_one_line_naming_the_input(tmp_path, capsys):
    assert main(["evaluate", "nosuch", "--gt", str(tmp_path), "--pred", str(tmp_path)]) == 2
    assert "unknown benchmark 'nosuch'" in capsys.readouterr().err
    missing = tmp_path / "missing_gt"
    assert main(["evaluate", "davis17", "--gt", str(missing), "--pred", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "missing_gt" in err and len(err.strip().splitlines()) == 1


def test_cli_start_imports_no_torch():
    code = ("import sys; from univs_bench.cli import build_parser; build_parser(); "
            "import univs_bench.evaluators.api; "
            "print(json.dumps(sorted(m for m in ('torch', 'mmengine', 'cv2') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out) == []
