"""What the two PyTorch forms of the benchmark share: the lab's models, synthetic uint8 data of
the lab's data sets' shapes and sizes, the AdamW training step, the windowed timing that
`kestrel bench` uses (warm-up steps, then the median of repeated windows of steps), and the
JSON line each script prints.

Run with Debian's interpreter, /usr/bin/python3 (python3-torch installs for it alone).
"""
import argparse
import json
import statistics
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError as e:  # pragma: no cover - a set-up problem, reported in one line
    sys.exit(f"bench/pytorch: {e}: install Debian's PyTorch with "
             "'apt-get install python3-torch python3-torchvision' and run /usr/bin/python3")

import allocator  # noqa: E402,F401  (before any tensor: bench/pytorch/allocator.py)

# name -> (channels, height, width, training-split size); uint8 images as torchvision keeps them.
DATASETS = {
    "mnist": (1, 28, 28, 60000),
    "cifar10": (3, 32, 32, 50000),
}
DEFAULT_DATASET = {"lenet5": "mnist", "alexnet": "cifar10"}


class LeNet5(nn.Module):
    """The lab's LeNet-5 (ReLU, max pooling), exactly as its notebook defines it."""

    def __init__(self, channels=1, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 6, kernel_size=5)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # not view: channels-last activations are not contiguous
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class AlexNet(nn.Module):
    """The lab's AlexNet for 32x32 CIFAR-10 images (first convolution 3x3, stride 1)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def make_model(name, channels):
    if name == "lenet5":
        return LeNet5(channels)
    if name == "alexnet":
        return AlexNet()
    raise SystemExit(f"bench/pytorch: unknown model '{name}' (known: lenet5, alexnet)")


def parse_args(description, default_batch):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("model", choices=["lenet5", "alexnet"])
    p.add_argument("--dataset", choices=sorted(DATASETS), help="default: the model's")
    p.add_argument("--batch", type=int, default=default_batch)
    p.add_argument("--steps", type=int, default=50, help="steps per timed window")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    p.add_argument("--repeats", type=int, default=5, help="timed windows (median reported)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32",
                   help="GPU: tf32 matmul/cudnn, or bf16 autocast")
    p.add_argument("--channels-last", action="store_true", help="NHWC model and inputs")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    a.dataset = a.dataset or DEFAULT_DATASET[a.model]
    for flag in ("batch", "steps", "repeats", "threads"):
        if getattr(a, flag) < 1:
            p.error(f"--{flag} must be at least 1")
    if a.warmup < 0:
        p.error("--warmup must be >= 0")
    if a.model == "alexnet" and a.dataset != "cifar10":
        p.error("the lab's alexnet takes 3x32x32 images: use --dataset cifar10")
    if a.precision != "fp32" and not a.device.startswith("cuda"):
        p.error(f"--precision {a.precision} needs --device cuda")
    return a


def setup(args):
    """Threads, seed, precision switches and the device."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("bench/pytorch: --device cuda but torch sees no GPU")
        # fp32 means IEEE f32 (PyTorch's cuDNN allows TF32 by default). PyTorch 2.9 and later
        # name it fp32_precision and warn about allow_tf32; mixing the two raises, so one or
        # the other. Older versions raise AssertionError (not AttributeError) on the new name.
        mode = "tf32" if args.precision == "tf32" else "ieee"
        try:
            torch.backends.cuda.matmul.fp32_precision = mode
            torch.backends.cudnn.conv.fp32_precision = mode
        except (AttributeError, AssertionError):
            torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
            torch.backends.cudnn.allow_tf32 = mode == "tf32"
        torch.backends.cudnn.benchmark = True
    return device


def synthetic_uint8(dataset, seed):
    """Random uint8 images in torchvision's layout (MNIST [N, H, W], CIFAR-10 [N, H, W, C]) and
    balanced int64 labels: what datasets.MNIST / datasets.CIFAR10 hold in .data and .targets."""
    c, h, w, n = DATASETS[dataset]
    rng = np.random.default_rng(seed)
    shape = (n, h, w) if c == 1 else (n, h, w, c)
    images = rng.integers(0, 256, size=shape, dtype=np.uint8)
    labels = np.arange(n, dtype=np.int64) % 10
    return images, labels


def training_step(model, optimizer, criterion, x, y, autocast, read_back=True):
    """The lab's loop body: zero_grad, forward, loss, backward, step, then the loss and the
    correct count read back (loss.item(), (predicted == labels).sum().item()). Without
    read_back they stay on the device as tensors: on a GPU each .item() waits for the step,
    which the tuned form (like kestrel, which reads its loss every N steps) does not do."""
    optimizer.zero_grad(set_to_none=True)
    with autocast():
        outputs = model(x)
        loss = criterion(outputs, y)
    loss.backward()
    optimizer.step()
    _, predicted = torch.max(outputs, 1)
    correct = (predicted == y).sum()
    if not read_back:
        return loss.detach(), correct
    return loss.item(), correct.item()


def make_training(args, channels, device):
    model = make_model(args.model, channels).to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    criterion = nn.CrossEntropyLoss()
    if args.precision == "bf16":
        def autocast():
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    else:
        import contextlib

        def autocast():
            return contextlib.nullcontext()
    return model, optimizer, criterion, autocast


def time_windows(step, args, device):
    """step() runs one training step. Warm-up, then args.repeats windows of args.steps steps;
    returns each window's milliseconds (host clock after a device synchronisation)."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(args.warmup):
        step()
    windows = []
    for _ in range(args.repeats):
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        windows.append((time.perf_counter() - start) * 1e3)
    return windows


def blas_library():
    """The BLAS shared object torch loaded (Debian routes libblas.so.3 through alternatives)."""
    try:
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps if "blas" in line}
        return sorted(libs)
    except OSError:
        return []


def report(form, args, windows, extra=None):
    median = statistics.median(windows)
    ms_per_step = median / args.steps
    out = {
        "impl": form,
        "model": args.model,
        "dataset": args.dataset,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "device": args.device,
        "precision": args.precision,
        "steps": args.steps,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "images_per_second": args.batch / (ms_per_step / 1e3),
        "ms_per_step": ms_per_step,
        "window_ms": windows,
        "torch_version": torch.__version__,
        "blas": blas_library(),
    }
    out.update(extra or {})
    print(json.dumps(out))
