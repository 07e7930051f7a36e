"""airbench94 (Keller Jordan 2024) as a PyTorch module with the names kestrel's airbench94 uses
(models/airbench.hpp): the network of airbench94.py, written out with readable module paths
(whiten, blockB.conv1/pool/norm1/act1/conv2/norm2/act2, pool, head, scale) instead of its
nn.Sequential indices, and its initialisation: convolutions from PyTorch's default draw then
dirac_ on their first min(out, in) filters, batch norm weight 1 (frozen) and bias 0, the
whitening layer from the training images (init_whitening) with its weight frozen."""
import torch
import torch.nn as nn

WIDTHS = (64, 256, 256)
NORM_EPS = 1e-12
NORM_MOMENTUM = 0.4  # torch's convention: airbench's BatchNorm(momentum=0.6)
LOGIT_SCALE = 1.0 / 9.0


class Conv(nn.Conv2d):
    def __init__(self, cin, cout, kernel_size=3, padding=1, bias=False):
        super().__init__(cin, cout, kernel_size=kernel_size, padding=padding, bias=bias)

    def reset_parameters(self):
        super().reset_parameters()
        if self.bias is not None:
            self.bias.data.zero_()
        w = self.weight.data
        torch.nn.init.dirac_(w[:w.size(1)])


class BatchNorm(nn.BatchNorm2d):
    def __init__(self, features):
        super().__init__(features, eps=NORM_EPS, momentum=NORM_MOMENTUM)
        self.weight.requires_grad = False


class ConvGroup(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = Conv(cin, cout)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = BatchNorm(cout)
        self.act1 = nn.GELU()
        self.conv2 = Conv(cout, cout)
        self.norm2 = BatchNorm(cout)
        self.act2 = nn.GELU()

    def forward(self, x):
        x = self.act1(self.norm1(self.pool(self.conv1(x))))
        return self.act2(self.norm2(self.conv2(x)))


class Airbench94(nn.Module):
    def __init__(self, channels=3, classes=10, side=32):
        super().__init__()
        width = 2 * channels * 2 * 2
        self.whiten = Conv(channels, width, kernel_size=2, padding=0, bias=True)
        self.whiten.weight.requires_grad = False
        self.whiten_gelu = nn.GELU()
        blocks, cin = [], width
        for w in WIDTHS:
            blocks.append(ConvGroup(cin, w))
            cin = w
        self.block1, self.block2, self.block3 = blocks
        self.pool = nn.MaxPool2d((((side - 1) // 2) // 2) // 2)
        self.flatten = nn.Flatten()
        self.head = nn.Linear(cin, classes, bias=False)

    def forward(self, x):
        x = self.whiten_gelu(self.whiten(x))
        x = self.block3(self.block2(self.block1(x)))
        return self.head(self.flatten(self.pool(x))) * LOGIT_SCALE


def init_whitening(layer, images, eps=5e-4):
    """airbench94's init_whitening_conv: eigenvectors of the patch covariance (no mean taken
    out), by decreasing eigenvalue, scaled by 1 / sqrt(eigenvalue + eps), in +/- pairs."""
    c, (h, w) = images.shape[1], layer.weight.shape[2:]
    patches = images.unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c, h, w).double()
    flat = patches.view(len(patches), -1)
    cov = flat.T @ flat / len(flat)
    values, vectors = torch.linalg.eigh(cov, UPLO="U")
    values = values.flip(0).view(-1, 1, 1, 1)
    vectors = vectors.T.reshape(c * h * w, c, h, w).flip(0)
    scaled = vectors / torch.sqrt(values + eps)
    layer.weight.data[:] = torch.cat((scaled, -scaled)).to(layer.weight.dtype)
