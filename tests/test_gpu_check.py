"""make gpu-check: the sizes it measures at, and its verdict on the reader (the measurements themselves are timings,
run by hand: `make gpu-check`)."""

from artfinetune.gpu_check import check_sizes, verdict
from artfinetune.study.config import load_config

from .conftest import DEMO_CONFIG, PAPER_CONFIG


def test_a_gpu_is_measured_at_the_configs_sizes_a_cpu_at_small_ones():
    paper = load_config(PAPER_CONFIG)
    gpu = check_sizes(paper, gpu=True)
    # 224 px, the modes' largest batch (32), the render settings (224 px, 8 channels a graph, optimiser on)
    assert (gpu.image_size, gpu.train_batch, gpu.activation_batch) == (224, 32, 64)
    assert (gpu.render_size, gpu.render_channels, gpu.optimise_graph, gpu.mixed_precision) == (224, 8, True, True)
    demo = check_sizes(load_config(DEMO_CONFIG), gpu=True)  # modes A and B train in batches of 16, the rest of 32
    assert (demo.image_size, demo.train_batch, demo.render_size, demo.render_channels) == (64, 32, 64, 64)
    assert not demo.optimise_graph
    cpu = check_sizes(paper, gpu=False)
    assert (cpu.image_size, cpu.train_batch, cpu.render_channels, cpu.mixed_precision) == (96, 16, 2, False)


def test_the_verdict_says_whether_the_reader_keeps_up_and_what_to_change():
    keeps_up, text = verdict(train=2000, fed=1900, reader=5000, workers=2)
    assert keeps_up and "keeps up" in text and "2.5x the training rate" in text and "95% of its rate" in text
    # The reader alone is slower than 1.2x training (2 workers of 800 img/s): 3 would give 2,400 img/s.
    keeps_up, text = verdict(train=2000, fed=1900, reader=1600, workers=2)
    assert not keeps_up and "does NOT keep up" in text and "reader_workers to about 3 " in text and "800 img/s" in text
    # Fast enough alone, but training fed by it slows to 60 %: the cores, not the workers, are short.
    keeps_up, text = verdict(train=2000, fed=1200, reader=3000, workers=1)
    assert not keeps_up and "fast enough" in text and "60% of its rate" in text and "more cores" in text
