"""PyTorch tuned for this workload: the whole data set normalised once into one float tensor on
the training device, each epoch a random permutation, each batch an index_select of it (no
DataLoader, no per-sample Python), and the same model and AdamW training step as
lab_pipeline.py. Optionally torch.compile (PyTorch 2.x). Prints one JSON line with images/s.

    /usr/bin/python3 bench/pytorch/tuned.py lenet5 --threads 2
"""
import sys

import torch

from common import (DATASETS, make_training, parse_args, report, setup, synthetic_uint8,
                    time_windows, training_step)


def main():
    compile_model = "--compile" in sys.argv
    if compile_model:
        sys.argv.remove("--compile")
    args = parse_args("Time PyTorch with the data set resident on the device", default_batch=64)
    device = setup(args)
    channels = DATASETS[args.dataset][0]
    images, labels = synthetic_uint8(args.dataset, args.seed)
    x_all = torch.from_numpy(images).to(device)
    x_all = x_all.unsqueeze(1) if x_all.dim() == 3 else x_all.permute(0, 3, 1, 2)
    x_all = x_all.float().div_(255).sub_(0.5).div_(0.5).contiguous()
    y_all = torch.from_numpy(labels).to(device)
    n = y_all.numel()

    model, optimizer, criterion, autocast = make_training(args, channels, device)
    if compile_model:
        if not hasattr(torch, "compile"):
            raise SystemExit(f"bench/pytorch: --compile needs PyTorch 2.x (this is "
                             f"{torch.__version__})")
        model = torch.compile(model)

    order = torch.randperm(n, device=device)
    cursor = 0
    # The loss and correct counts summed on the device and read once at the end, as kestrel's
    # step ledger does: no step waits for the GPU.
    loss_sum = torch.zeros((), device=device)
    correct_sum = torch.zeros((), dtype=torch.int64, device=device)

    def step():
        nonlocal order, cursor
        if cursor + args.batch > n:  # drop the last partial batch, as kestrel bench does
            order = torch.randperm(n, device=device)
            cursor = 0
        index = order[cursor:cursor + args.batch]
        cursor += args.batch
        xb = x_all.index_select(0, index)
        if args.channels_last:  # index_select returns a contiguous (NCHW) tensor
            xb = xb.contiguous(memory_format=torch.channels_last)
        loss, correct = training_step(model, optimizer, criterion, xb,
                                      y_all.index_select(0, index), autocast, read_back=False)
        loss_sum.add_(loss.float())
        correct_sum.add_(correct)

    windows = time_windows(step, args, device)
    steps = args.warmup + args.repeats * args.steps
    report("pytorch-tuned", args, windows,
           {"compiled": compile_model, "mean_loss": loss_sum.item() / steps,
            "train_accuracy": correct_sum.item() / (steps * args.batch)})


if __name__ == "__main__":
    main()
