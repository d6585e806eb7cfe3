"""PyTorch mirrors of radfed's built-in architectures (trainers/trn_model.c).

The modules are plain torch.nn layers, named so that every state_dict key
maps 1:1 onto a radfed parameter path: the last "." of the key becomes "/"
("block1.conv.weight" <-> "block1.conv/weight", "layer2.down.norm.bias" <->
"layer2.down.norm/bias"). Used by tests/ref/train_ref.py (the equivalence
test of tests/trainers/test_torch_equiv.c) and bench/train.py.
"""
from collections import OrderedDict

import torch
from torch import nn

WIDTHS = (16, 32, 64, 128)


def groups(channels):
    """Group norm groups: 16 channels per group, at least one."""
    return max(1, channels // 16)


def conv_norm(cin, cout, kernel, stride, relu):
    layers = [
        ("conv", nn.Conv2d(cin, cout, kernel, stride, kernel // 2,
                           bias=False)),
        ("norm", nn.GroupNorm(groups(cout), cout, eps=1e-5)),
    ]
    if relu:
        layers.append(("relu", nn.ReLU()))
    return layers


class CnnSmall(nn.Module):
    """block1..block4: conv3x3-gn-relu-maxpool2; global max pooling,
    dropout, fc (architecture version 2)."""

    def __init__(self, in_channels=1, classes=2, dropout=0.0):
        super().__init__()
        cin = in_channels
        for i, w in enumerate(WIDTHS):
            layers = conv_norm(cin, w, 3, 1, True)
            layers.append(("pool", nn.MaxPool2d(2, 2)))
            self.add_module("block%d" % (i + 1),
                            nn.Sequential(OrderedDict(layers)))
            cin = w
        self.gap = nn.AdaptiveMaxPool2d(1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        for i in range(len(WIDTHS)):
            x = getattr(self, "block%d" % (i + 1))(x)
        x = torch.flatten(self.gap(x), 1)
        return self.fc(self.drop(x))


class BasicBlock(nn.Module):
    """conv1-norm1-relu-conv2-norm2 + shortcut (identity or down), relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm1 = nn.GroupNorm(groups(cout), cout, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm2 = nn.GroupNorm(groups(cout), cout, eps=1e-5)
        self.relu = nn.ReLU()
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(OrderedDict(
                conv_norm(cin, cout, 1, stride, False)))

    def forward(self, x):
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        s = x if self.down is None else self.down(x)
        return self.relu(y + s)


class ResnetMini(nn.Module):
    """stem conv3x3 s2-gn-relu, maxpool3 s2 p1, layer1..layer4 (one
    BasicBlock each, strides 1 2 2 2), gap, dropout, fc."""

    def __init__(self, in_channels=1, classes=2, dropout=0.0):
        super().__init__()
        self.stem = nn.Sequential(OrderedDict(
            conv_norm(in_channels, WIDTHS[0], 3, 2, True)))
        self.pool = nn.MaxPool2d(3, 2, 1)
        cin = WIDTHS[0]
        for i, (w, s) in enumerate(zip(WIDTHS, (1, 2, 2, 2))):
            self.add_module("layer%d" % (i + 1), BasicBlock(cin, w, s))
            cin = w
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.pool(self.stem(x))
        for i in range(len(WIDTHS)):
            x = getattr(self, "layer%d" % (i + 1))(x)
        x = torch.flatten(self.gap(x), 1)
        return self.fc(self.drop(x))


MODELS = {"cnn-small": CnnSmall, "resnet-mini": ResnetMini}


def build(name, in_channels=1, classes=2, dropout=0.0):
    return MODELS[name](in_channels, classes, dropout)


def key_to_path(key):
    """"block1.conv.weight" -> "block1.conv/weight"."""
    layer, _, leaf = key.rpartition(".")
    return layer + "/" + leaf


def path_to_key(path):
    """"block1.conv/weight" -> "block1.conv.weight"."""
    return path.replace("/", ".")


def to_paths(model):
    """The parameters as {radfed path: float32 numpy array}."""
    return {key_to_path(k): v.detach().cpu().float().numpy().copy()
            for k, v in model.state_dict().items()}


def load_paths(model, arrays):
    """Loads {radfed path: array} into model (strict: every key)."""
    sd = {path_to_key(p): torch.as_tensor(a) for p, a in arrays.items()}
    model.load_state_dict(sd, strict=True)


if __name__ == "__main__":
    for name in MODELS:
        m = build(name)
        total = sum(p.numel() for p in m.parameters())
        print(name, total)
        for k, v in m.state_dict().items():
            print("  %-24s %-24s %s" % (k, key_to_path(k), tuple(v.shape)))
