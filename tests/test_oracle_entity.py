"""Our univs_r50 against the official UniVS inference on the oracle fixtures of the
category-guided setups (``tests/fixtures/official_inference/``, ``tools/oracle/compare.py``):
nothing missing or extra, mean mask IoU >= 0.99 per object, VIS scores within 1e-3, classes
identical."""
import pytest

pytest.importorskip("torch")

from tools.oracle import compare as oracle  # noqa: E402


@pytest.mark.parametrize("setup", ["vis"])
def test_category_guided_setup_agrees_with_the_official_inference(setup, tmp_path):
    res = oracle.compare(setup, oracle.predict(setup, tmp_path))
    assert oracle.agrees(res), oracle.summary(setup, res)
