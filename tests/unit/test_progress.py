import threading

import pytest

from tile_embeddings.core.errors import Canceled, InputError
from tile_embeddings.core.progress import Progress, ensure


def test_sub_ranges_map_onto_parent():
    seen = []
    p = Progress(on_progress=seen.append)
    p.sub(0.5, 1.0).set(0.5)
    assert seen[-1] == pytest.approx(0.75)
    p.sub(0.0, 0.5).sub(0.5, 1.0).set(1.0)
    assert seen[-1] == pytest.approx(0.5)


def test_steps_report_fraction_and_clamp():
    seen = []
    p = Progress(on_progress=seen.append)
    p.start(4)
    p.step()
    p.step(2)
    assert seen[-1] == pytest.approx(0.75)
    p.set(7)
    assert seen[-1] == pytest.approx(1.0)


def test_cancel_from_callback_stops_loop():
    flag = {"stop": False}
    p = Progress(is_canceled=lambda: flag["stop"])
    done = []
    with pytest.raises(Canceled):
        for i in p.iterate(range(10)):
            done.append(i)
            if i == 3:
                flag["stop"] = True
    assert done == [0, 1, 2, 3]


def test_cancel_reaches_children_and_sticks():
    p = Progress()
    child = p.sub(0.2, 0.4)
    assert not child.canceled()
    p.cancel()
    with pytest.raises(Canceled):
        child.check()


def test_threads_report_every_step():
    p = Progress(on_progress=lambda f: None)
    p.start(800)
    threads = [threading.Thread(target=lambda: [p.step() for _ in range(100)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert p._done == 800


def test_ensure_and_input_error():
    assert isinstance(ensure(None), Progress)
    e = InputError("tile size 512 is larger than the raster (400 x 400)", parameter="TILE_SIZE")
    assert e.parameter == "TILE_SIZE" and "larger" in str(e)
