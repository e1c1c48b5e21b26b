"""The architecture registry against the model it builds: every listed layer and convolution exists, with the
width the registry gives, in network order."""

import pytest

from artfinetune.errors import UserError
from artfinetune.model.architectures import ARCHITECTURES, architecture

CONVS = {"inception_v1": 57}  # the trunk convolutions l2 compares: the paper's count for InceptionV1 (table 2)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_the_registry_matches_the_built_model(name):
    arch = architecture(name)
    model = arch.build(7, "single_label", input_size=64)
    names = [layer.name for layer in model.layers]
    positions = [names.index(layer) for layer in arch.study_layers]  # post-ReLU outputs, as activations reads them
    assert positions == sorted(positions), "study layers are not in network order"
    for layer in arch.study_layers:
        assert model.get_layer(layer).output.shape[-1] == arch.widths[layer], layer
    for conv in arch.trunk_convs:
        kernel = model.get_layer(f"{conv}_pre_relu").kernel
        assert kernel.shape[-1] == arch.widths[conv], conv
    assert len(arch.trunk_convs) == CONVS[name]
    assert model.output.shape[-1] == 7


def test_an_unknown_architecture_names_the_known_ones():
    with pytest.raises(UserError, match="architecture 'resnet9' is not one of inception_v1"):
        architecture("resnet9")
