"""Our univs_r50 against the official UniVS VOS outputs (tests/fixtures/official_inference/vos,
made by tools/oracle/make_fixtures.py from MinghanLi/UniVS@7415d31 with filled R50 weights):
every object on every frame within IoU 0.99 of the official mask, nothing missing or extra."""
import pytest

pytest.importorskip("torch")


@pytest.mark.parametrize("setup", ["vos"])
def test_official_inference_setup_agrees(tmp_path, setup):
    from tools.oracle import compare
    assert setup in compare.setups(), f"fixture {setup} missing"
    res = compare.compare(setup, compare.predict(setup, tmp_path))
    assert compare.agrees(res), compare.summary(setup, res)
    assert res["min_iou"] >= 0.99 and res["objects"] >= 2
