"""kestrel's models in PyTorch, timed as `kestrel bench MODEL --mode train` times them: one
training step (forward in training mode, mean cross-entropy, backward, AdamW at lr 1e-3 and
weight decay 5e-4) on a resident random batch, the median over windows of steps after untimed
ones. The model is torchvision's (bench/pytorch/torchvision_models.py: the CIFAR forms as
kestrel builds them). bench/compare_models.sh runs both sides.

    /usr/bin/python3 bench/pytorch/models.py MODEL [--batch N] [--threads T]
                                             [--steps S] [--warmup W] [--repeats R]

Prints one JSON object: model, batch, threads, ms_per_step, images_per_second.
"""
import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # a set-up problem, reported in one line
    sys.exit(f"bench/pytorch/models.py: {e}: install Debian's python3-torch and "
             "python3-torchvision and run /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import allocator  # noqa: E402,F401  (before any tensor: bench/pytorch/allocator.py)
from torchvision_models import MODELS, build  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", choices=sorted(MODELS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    _, _, channels, size, classes = MODELS[args.model]
    model = build(args.model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-4)
    images = torch.randn(args.batch, channels, size, size)
    labels = torch.randint(0, classes, (args.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    windows = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        windows.append((time.perf_counter() - start) * 1000.0 / args.steps)
    ms = statistics.median(windows)
    print(json.dumps({"model": args.model, "batch": args.batch, "threads": args.threads,
                      "ms_per_step": ms, "images_per_second": args.batch * 1000.0 / ms,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
