"""ResNet-50's and VGG16's ImageNet weights: the applications' own file layout, made here from a seeded model and
served from 127.0.0.1, through the project's downloader (mirrors, structural check, sha256), into the study's model;
its features against the applications' model with the applications' own preprocessing."""

import hashlib

import h5py
import keras
import numpy as np
import pytest
import yaml
from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

from artfinetune.model import keras_apps, keras_weights
from artfinetune.model.architectures import architecture
from artfinetune.model.files import load_model

from .fixtures_http import RangeServer
from .test_download import unused_port

APPS = {
    "resnet50": (keras.applications.ResNet50, keras.applications.resnet50.preprocess_input),
    "vgg16": (keras.applications.VGG16, keras.applications.vgg16.preprocess_input),
}


def published_file(path, name, seed):
    """The applications' trunk at random (seeded), saved as the published notop files are: Keras 2's HDF5 layout."""
    keras.utils.set_random_seed(seed)
    model = APPS[name][0](include_top=False, weights=None, input_shape=(None, None, 3))
    with h5py.File(path, "w") as f:
        save_weights_to_hdf5_group(f, model)
    return model


@pytest.fixture(scope="module")
def www(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    sources = {name: published_file(root / f"{name}_notop.h5", name, seed) for seed, name in enumerate(APPS)}
    return root, sources


@pytest.fixture
def specs(www, tmp_path, monkeypatch):
    """Each architecture's spec listing a dead host, then the local server's copy; yields the server."""
    root, _ = www
    with RangeServer(root) as server:
        for name in APPS:
            mirrors = [f"http://127.0.0.1:{unused_port()}/{name}_notop.h5", f"{server.url}/{name}_notop.h5"]
            (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({"mirrors": mirrors}))
        monkeypatch.setattr(keras_weights, "SPEC_DIR", tmp_path)
        yield server


@pytest.mark.parametrize("name", sorted(APPS))
def test_weights_round_trip_through_the_downloader_into_the_study_model(name, www, specs, tmp_path):
    root, sources = www
    out = tmp_path / "init" / "weights.h5"
    assert keras_apps.fetch_keras_weights(name, [], None, out) == str(out)
    digest = hashlib.sha256((root / f"{name}_notop.h5").read_bytes()).hexdigest()
    assert (tmp_path / "init/weights.h5.sha256").read_text() == f"{digest}  weights.h5\n"
    assert [r["path"] for r in specs.log] == [f"/{name}_notop.h5"]  # after the dead host
    model = load_model(keras_apps.import_keras_weights(name, out, tmp_path / "init/model.keras", input_size=64))
    source = sources[name]
    for layer in (layer for layer in source.layers if layer.weights):
        for mine, theirs in zip(model.get_layer(layer.name).weights, layer.weights, strict=True):
            np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs), err_msg=layer.name)
    # The study model takes RGB in [0, 255]; the applications' model takes its preprocess_input's output.
    arch = architecture(name)
    last = arch.study_layers[-1]
    images = np.random.default_rng(1).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    ours = keras.Model(model.input, model.get_layer(last).output).predict(images, verbose=0)
    theirs = source.predict(APPS[name][1](images.copy()), verbose=0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())


def test_a_file_of_another_architecture_is_refused_then_the_next_mirror_serves(www, specs, tmp_path, caplog):
    root, _ = www
    out = tmp_path / "init" / "weights.h5"
    keras_apps.fetch_keras_weights("vgg16", [f"{specs.url}/resnet50_notop.h5"], None, out)  # the config's first
    assert [r["path"] for r in specs.log] == ["/resnet50_notop.h5", "/vgg16_notop.h5"]
    assert out.read_bytes() == (root / "vgg16_notop.h5").read_bytes()
    assert "does not hold the weights of vgg16: 13 layers missing (block1_conv1, block1_conv2" in caplog.text


def test_a_file_placed_by_hand_with_a_misshapen_layer_is_refused_naming_it(www, tmp_path):
    root, sources = www
    path = tmp_path / "weights.h5"
    path.write_bytes((root / "vgg16_notop.h5").read_bytes())
    with h5py.File(path, "r+") as f:
        group = f["block3_conv2"]
        name = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]][0]
        del group[name]
        group[name] = np.zeros((3, 3, 256, 255), "float32")
    arch = architecture("vgg16")
    model = arch.build(5, input_size=None)
    with pytest.raises(keras_apps.UserError, match=r"does not hold the weights of vgg16: shapes differ: block3_conv2"):
        keras_apps.check_weights_file(path, model, arch.head)


def test_a_saved_keras_application_loads_in_a_fresh_process(tmp_path):
    """A job that only loads a model (activations, renders) finds the architecture's own input layer."""
    import subprocess
    import sys

    from artfinetune.model.files import save_model

    keras.utils.set_random_seed(0)
    model = architecture("vgg16").build(3, input_size=32)
    path = save_model(model, tmp_path / "vgg16.keras")
    code = f"from artfinetune.model.files import load_model; print(load_model({str(path)!r}).layers[1].name)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "caffe_input", done.stderr[-2000:]
