"""airbench94's training run in PyTorch on the CPU: the baseline for `kestrel train airbench94`
(the same network, bench/pytorch/airbench_model.py, and the same recipe, read from the same
CIFAR-10 files). The recipe is airbench94.py's (Keller Jordan 2024) with its CUDA-only parts
left at their float32 CPU equivalents: batch 1024 (the last partial batch dropped), Nesterov
SGD with momentum 0.85 at 11.5 / 1024 per summed example and weight decay 0.0153 x 1024 / 1024
per step (both divided by 1 + 1 / (1 - momentum), as airbench writes them), batch norm biases
at 64x the rate and 1/64 of the decay, the whitening bias trained for 3 epochs, label
smoothing 0.2, its triangular schedule, lookahead (decay 0.95^5 (step / total)^3 every 5 steps),
random 2-pixel translation with reflection padding and alternating flips, and flip-and-
translate test-time augmentation.

With --recipe muon it is airbench94_muon's recipe instead, as `kestrel train airbench94_muon`
has it (engine/train/train_config.cpp): batch 2000, 8 epochs, the mean loss, the six block
filters on Muon (lr 0.24, Nesterov momentum 0.6, 3 Newton-Schulz steps with (3.4445, -4.7750,
2.0315), each filter rescaled to Frobenius norm sqrt(out channels) before its step; f32 as
kestrel's), the head on Nesterov SGD (momentum 0.85, lr 1.656, weight decay 2e-6 x 2000 / lr),
batch norm biases and the whitening bias (first 3 epochs) at lr 106 with 1/64 of that decay,
every rate decaying linearly to 0 (torch's LinearLR), no lookahead; the same augmentation and
TTA.

    /usr/bin/python3 bench/pytorch/airbench_train.py [--data-dir data] [--recipe sgd|muon]
        [--epochs 10 (muon: 8)] [--threads 2] [--seed 0] [--target 94]

Prints one line per epoch (test accuracy with and without TTA, the epoch's training seconds)
and, at the end, one JSON object: the training seconds in all, the seconds to the target (the
first epoch whose TTA accuracy reaches it) and the final accuracies. Training time counts the
steps only, as `kestrel train` does (evaluation is timed apart).
"""
import argparse
import json
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    sys.exit(f"bench/pytorch/airbench_train.py: {e}: install Debian's python3-torch and run "
             "/usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import allocator  # noqa: E402,F401  (before any tensor: bench/pytorch/allocator.py)
from airbench_model import Airbench94, init_whitening  # noqa: E402

MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def read_cifar(data_dir, files):
    raw = b"".join(open(os.path.join(data_dir, "cifar-10-batches-bin", f), "rb").read()
                   for f in files)
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 1 + 3 * 32 * 32)
    labels = torch.from_numpy(rows[:, 0].astype(np.int64))
    images = torch.from_numpy(rows[:, 1:].copy()).view(-1, 3, 32, 32).float() / 255.0
    return (images - MEAN) / STD, labels


def batch_crop(padded, size):
    """A random size x size window of each padded image (airbench's batch_crop)."""
    n, pad = len(padded), (padded.shape[-1] - size) // 2
    dy = torch.randint(0, 2 * pad + 1, (n,))
    dx = torch.randint(0, 2 * pad + 1, (n,))
    out = torch.empty(n, padded.shape[1], size, size)
    for sy in range(2 * pad + 1):
        for sx in range(2 * pad + 1):
            m = (dy == sy) & (dx == sx)
            out[m] = padded[m, :, sy:sy + size, sx:sx + size]
    return out


def evaluate(model, images, labels, tta):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), 2000):
            x = images[i:i + 2000]
            logits = model(x)
            if tta:
                # airbench's tta_level 2 (infer_mirror_translate): the image and its mirror
                # at 0.25 each, then the image shifted one pixel up-left and one down-right
                # (reflected), each with its mirror, at 0.125 each.
                logits = 0.25 * (logits + model(x.flip(-1)))
                pad = F.pad(x, (1,) * 4, "reflect")
                for t in (pad[:, :, 0:32, 0:32], pad[:, :, 2:34, 2:34]):
                    logits = logits + 0.125 * (model(t) + model(t.flip(-1)))
            correct += (logits.argmax(1) == labels[i:i + 2000]).sum().item()
    return 100.0 * correct / len(images)


NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


class Muon:
    """kestrel's optim::Muon (engine/optim/muon.hpp) for a list of filters, in f32:
    buf = m buf + g; u = g + m buf; W *= sqrt(rows) / ||W||; X = u / (||u|| + 1e-7) on its wide
    form; ns times A = X X^T, B = b A + c A A, X = a X + B X; W -= lr X."""

    def __init__(self, params, lr, momentum, ns_steps):
        self.params, self.lr, self.momentum, self.ns_steps = params, lr, momentum, ns_steps
        self.bufs = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, lr):
        a, b, c = NS_COEFFICIENTS
        for p, buf in zip(self.params, self.bufs):
            g = p.grad
            buf.mul_(self.momentum).add_(g)
            u = g.add(buf, alpha=self.momentum).reshape(len(p), -1)
            p.mul_(len(p) ** 0.5 / p.norm())
            x = u.t() if u.shape[0] > u.shape[1] else u
            x = x / (x.norm() + 1e-7)
            for _ in range(self.ns_steps):
                a_mat = x @ x.t()
                x = a * x + (b * a_mat + c * a_mat @ a_mat) @ x
            if u.shape[0] > u.shape[1]:
                x = x.t()
            p.add_(x.reshape(p.shape), alpha=-lr)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="data")
    p.add_argument("--recipe", choices=("sgd", "muon"), default="sgd")
    p.add_argument("--epochs", type=int, default=None, help="10 (sgd), 8 (muon)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=float, default=94.0)
    args = p.parse_args()
    muon = args.recipe == "muon"
    if args.epochs is None:
        args.epochs = 8 if muon else 10
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    try:
        train_x, train_y = read_cifar(args.data_dir, [f"data_batch_{i}.bin" for i in range(1, 6)])
        test_x, test_y = read_cifar(args.data_dir, ["test_batch.bin"])
    except OSError as e:
        sys.exit(f"airbench_train.py: {e}: run scripts/fetch-data.sh cifar10")

    momentum = 0.85
    model = Airbench94()
    init_whitening(model.whiten, train_x[:5000])
    filters = [q for k, q in model.named_parameters()
               if k.startswith("block") and q.requires_grad and q.dim() == 4]
    if muon:
        # kestrel's airbench94_muon rates (train_config.cpp), for the mean loss.
        batch = 2000
        lr = 0.67 * batch * 81 / 65536
        wd = 2e-6 * batch / lr
        lr_biases = 0.053 * batch
        biases = [q for k, q in model.named_parameters()
                  if ("norm" in k or k == "whiten.bias") and q.requires_grad]
        opt = torch.optim.SGD([dict(params=biases, lr=lr_biases, weight_decay=wd * lr / lr_biases),
                               dict(params=[model.head.weight], lr=lr, weight_decay=wd)],
                              momentum=momentum, nesterov=True)
        muon_opt = Muon(filters, lr=0.24, momentum=0.6, ns_steps=3)
    else:
        batch = 1024
        kilostep = 1024 * (1 + 1 / (1 - momentum))
        lr = 11.5 / kilostep
        wd = 0.0153 * batch / kilostep
        lr_biases = lr * 64.0
        norm_biases = [q for k, q in model.named_parameters() if "norm" in k and q.requires_grad]
        others = [q for k, q in model.named_parameters() if "norm" not in k and q.requires_grad]
        opt = torch.optim.SGD([dict(params=norm_biases, lr=lr_biases, weight_decay=wd / lr_biases),
                               dict(params=others, lr=lr, weight_decay=wd / lr)],
                              momentum=momentum, nesterov=True)
    steps_per_epoch = len(train_x) // batch
    total = args.epochs * steps_per_epoch
    warmup = int(total * 0.23)

    def factor(step):
        if muon:
            return 1.0 - step / total  # LinearLR(1, 0, total)
        if step < warmup:
            f = step / warmup
            return 0.2 * (1 - f) + 1.0 * f
        f = (step - warmup) / (total - warmup)
        return 1.0 * (1 - f) + 0.07 * f

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    alpha = 0.95 ** 5 * (torch.arange(total + 1) / total) ** 3
    slow = {k: v.clone() for k, v in model.state_dict().items()}

    def lookahead(decay):
        for k, v in model.state_dict().items():
            if v.dtype == torch.float:
                slow[k].lerp_(v, 1 - decay)
                v.copy_(slow[k])

    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.2, reduction="none")
    reduce = torch.mean if muon else torch.sum
    flipped0 = torch.where((torch.rand(len(train_x)) < 0.5).view(-1, 1, 1, 1),
                           train_x.flip(-1), train_x)
    padded = F.pad(flipped0, (2,) * 4, "reflect")
    step, train_seconds, seconds_to_target, result = 0, 0.0, None, {}
    for epoch in range(args.epochs):
        model.whiten.bias.requires_grad = epoch < 3
        start = time.perf_counter()
        model.train()
        images = batch_crop(padded, 32)
        if epoch % 2 == 1:
            images = images.flip(-1)
        order = torch.randperm(len(images))
        for b in range(steps_per_epoch):
            idx = order[b * batch:(b + 1) * batch]
            loss = reduce(loss_fn(model(images[idx]), train_y[idx]))
            opt.zero_grad(set_to_none=True)
            if muon:
                for q in filters:
                    q.grad = None
            loss.backward()
            if muon:
                muon_opt.step(0.24 * factor(step))
            opt.step()
            sched.step()
            step += 1
            if not muon and step % 5 == 0:
                lookahead(alpha[step].item())
        if not muon and epoch == args.epochs - 1:
            lookahead(1.0)
        seconds = time.perf_counter() - start
        train_seconds += seconds
        plain = evaluate(model, test_x, test_y, tta=False)
        tta = evaluate(model, test_x, test_y, tta=True)
        if seconds_to_target is None and tta >= args.target:
            seconds_to_target = train_seconds
        print(f"epoch {epoch + 1:2d} | test top-1 {plain:.2f}% (TTA {tta:.2f}%) | "
              f"train {seconds:.1f} s, {steps_per_epoch * batch / seconds:.1f} img/s",
              flush=True)
        result = {"epochs": epoch + 1, "top1": plain, "top1_tta": tta}
    result.update({"train_seconds": train_seconds, "seconds_to_target": seconds_to_target,
                   "target": args.target, "threads": args.threads, "seed": args.seed,
                   "recipe": args.recipe,
                   "torch": torch.__version__})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
