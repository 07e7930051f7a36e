"""The building blocks of bench/blocks_bench.cpp in PyTorch, timed the same way: one training
pass (forward in training mode, then backward from a fixed random output gradient) at batch
128, the median over windows of passes after untimed ones. bench/compare_blocks.sh runs both.

Each block is written as torchvision writes it (its module names in comments), so that the
work matches kestrel's graph op for op: the input does not require a gradient, ReLUs run in
place where torchvision's do.

    /usr/bin/python3 bench/pytorch/blocks.py [--block NAME|all] [--batch N] [--threads T]
                                             [--steps S] [--warmup W] [--repeats R]
"""
import argparse
import json
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError as e:  # pragma: no cover - a set-up problem, reported in one line
    sys.exit(f"bench/pytorch/blocks.py: {e}: install Debian's PyTorch with "
             "'apt-get install python3-torch' and run /usr/bin/python3")

import allocator  # noqa: E402,F401  (before any tensor: bench/pytorch/allocator.py)


class ResNetBasic(nn.Module):
    """torchvision.models.resnet.BasicBlock(32, 32), stride 1, no downsample."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu(out)


def conv_bn_act(cin, cout, k, groups, act):
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), act)


class InvertedResidual(nn.Module):
    """torchvision.models.mobilenetv2.InvertedResidual(32, 32, stride 1, expand_ratio 6)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(conv_bn_act(32, 192, 1, 1, nn.ReLU6(inplace=True)),
                                  conv_bn_act(192, 192, 3, 192, nn.ReLU6(inplace=True)),
                                  nn.Conv2d(192, 32, 1, bias=False), nn.BatchNorm2d(32))

    def forward(self, x):
        return x + self.conv(x)


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation(240, 10, activation=SiLU)."""

    def __init__(self):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(240, 10, 1)
        self.fc2 = nn.Conv2d(10, 240, 1)
        self.activation = nn.SiLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, x):
        s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return s * x


class MBConv(nn.Module):
    """torchvision.models.efficientnet.MBConv, expand 6, kernel 5, 40 -> 40 channels, stride 1
    (stochastic depth left out: kestrel's block has none either)."""

    def __init__(self):
        super().__init__()
        self.block = nn.Sequential(conv_bn_act(40, 240, 1, 1, nn.SiLU(inplace=True)),
                                   conv_bn_act(240, 240, 5, 240, nn.SiLU(inplace=True)),
                                   SqueezeExcitation(),
                                   nn.Sequential(nn.Conv2d(240, 40, 1, bias=False),
                                                 nn.BatchNorm2d(40)))

    def forward(self, x):
        return self.block(x) + x


class DenseLayer(nn.Module):
    """torchvision.models.densenet._DenseLayer(128, growth_rate 32, bn_size 4), drop rate 0,
    with its output concatenated to its input as _DenseBlock does."""

    def __init__(self):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(128)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(128, 128, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(128)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(128, 32, 3, padding=1, bias=False)

    def forward(self, x):
        new = self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))
        return torch.cat([x, new], 1)


BLOCKS = {
    "resnet_basic": (ResNetBasic, (32, 16, 16)),
    "mobilenet_v2_inverted_residual": (InvertedResidual, (32, 16, 16)),
    "efficientnet_mbconv_se": (MBConv, (40, 16, 16)),
    "densenet_layer": (DenseLayer, (128, 16, 16)),
}


def time_block(make, chw, batch, steps, warmup, repeats):
    torch.manual_seed(0)
    model = make().train()
    x = torch.randn(batch, *chw)
    with torch.no_grad():
        dy = torch.randn_like(model(x))

    def one_pass():
        model.zero_grad(set_to_none=True)
        model(x).backward(dy)

    for _ in range(warmup):
        one_pass()
    ms = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            one_pass()
        ms.append(1000.0 * (time.perf_counter() - start) / steps)
    return statistics.median(ms)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--block", default="all", choices=["all", *BLOCKS])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    rows = []
    for name, (make, chw) in BLOCKS.items():
        if a.block not in ("all", name):
            continue
        ms = time_block(make, chw, a.batch, a.steps, a.warmup, a.repeats)
        rows.append({"block": name, "batch": a.batch, "threads": torch.get_num_threads(),
                     "ms": round(ms, 4), "images_per_second": round(1000.0 * a.batch / ms, 2)})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
