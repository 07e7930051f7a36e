"""kestrel's models as PyTorch modules, by the names bench/pytorch/parity.py and
bench/pytorch/models.py take: torchvision's architectures (ImageNet forms), kestrel's CIFAR
forms of them (torchvision's model with the stem changed as each model's header in models/
says), resnet_cifar.ResNet20, airbench_model.Airbench94, and the small CIFAR ViT as a torchvision
VisionTransformer.
"""
import os
import sys

import torch.nn as nn
import torchvision
from torchvision.models.googlenet import BasicConv2d

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import airbench_model  # noqa: E402
import resnet_cifar  # noqa: E402

# name -> (kestrel model, kestrel --dataset, channels, default image size, classes)
MODELS = {
    "resnet20": ("resnet20", "cifar10", 3, 32, 10),
    "resnet18": ("resnet18", "imagenet", 3, 224, 1000),
    "resnet18-cifar": ("resnet18", "cifar10", 3, 32, 10),
    "mobilenet_v2": ("mobilenet_v2", "imagenet", 3, 224, 1000),
    "mobilenet_v2-cifar": ("mobilenet_v2", "cifar10", 3, 32, 10),
    "efficientnet_b0": ("efficientnet_b0", "imagenet", 3, 224, 1000),
    "efficientnet_b0-cifar": ("efficientnet_b0", "cifar10", 3, 32, 10),
    "vit": ("vit", "cifar10", 3, 32, 10),
    "vit-b-16": ("vit", "imagenet", 3, 224, 1000),
    "googlenet": ("googlenet", "imagenet", 3, 224, 1000),
    "googlenet-cifar": ("googlenet", "cifar10", 3, 32, 10),
    "densenet121": ("densenet121", "imagenet", 3, 224, 1000),
    "densenet121-cifar": ("densenet121", "cifar10", 3, 32, 10),
    "airbench94": ("airbench94", "cifar10", 3, 32, 10),
}


def build(name):
    if name == "resnet20":
        return resnet_cifar.ResNet20()
    if name == "airbench94":
        return airbench_model.Airbench94()
    if name.startswith("mobilenet_v2"):
        m = torchvision.models.mobilenet_v2(weights=None, num_classes=MODELS[name][4])
        if name.endswith("-cifar"):  # kestrel's CIFAR form (models/mobilenet_v2.hpp)
            m.features[0][0].stride = (1, 1)
            m.features[2].conv[1][0].stride = (1, 1)
        return m
    if name.startswith("efficientnet_b0"):
        m = torchvision.models.efficientnet_b0(weights=None, num_classes=MODELS[name][4])
        if name.endswith("-cifar"):  # kestrel's CIFAR form (models/efficientnet.hpp)
            m.features[0][0].stride = (1, 1)
            m.features[2][0].block[1][0].stride = (1, 1)
        return m
    if name == "resnet18":
        return torchvision.models.resnet18(weights=None, num_classes=1000)
    if name == "vit":  # kestrel's CIFAR form (models/vit.hpp)
        return torchvision.models.VisionTransformer(image_size=32, patch_size=4, num_layers=6,
                                                    num_heads=3, hidden_dim=192, mlp_dim=384,
                                                    num_classes=10)
    if name == "vit-b-16":
        return torchvision.models.vit_b_16(weights=None)
    if name.startswith("googlenet"):
        return googlenet(cifar=name.endswith("-cifar"))
    if name.startswith("densenet121"):
        return densenet121(cifar=name.endswith("-cifar"))
    m = torchvision.models.resnet18(weights=None, num_classes=10)
    m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)  # kestrel's CIFAR form (models/resnet.hpp)
    nn.init.kaiming_normal_(m.conv1.weight, mode="fan_out", nonlinearity="relu")
    m.maxpool = nn.Identity()
    return m


def googlenet(cifar):
    m = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True,
                                     num_classes=10 if cifar else 1000)
    if cifar:  # kestrel's CIFAR form (models/googlenet.hpp)
        m.conv1 = BasicConv2d(3, 64, kernel_size=3, padding=1)
        nn.init.trunc_normal_(m.conv1.conv.weight, mean=0.0, std=0.01, a=-2, b=2)
        m.maxpool1 = nn.Identity()
        m.maxpool2 = nn.Identity()
    return m


def densenet121(cifar):
    m = torchvision.models.densenet121(weights=None, num_classes=10 if cifar else 1000)
    if cifar:  # kestrel's CIFAR form (models/densenet.hpp)
        m.features.conv0 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        nn.init.kaiming_normal_(m.features.conv0.weight)
        m.features.pool0 = nn.Identity()
    return m
