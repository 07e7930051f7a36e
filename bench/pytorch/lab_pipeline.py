"""The lab's PyTorch pipeline, timed: a torchvision-style Dataset that turns one uint8 image at
a time into a normalised tensor (PIL image -> ToTensor -> Normalize, plus the lab's random
crop and flip on CIFAR-10), a DataLoader with batch 64, shuffle and num_workers 0, and the
lab's training loop body with AdamW. Prints one JSON line with images/s.

Data: synthetic uint8 arrays with the shapes and sizes of MNIST / CIFAR-10 (no files).
torchvision's transforms are used when it is installed; otherwise the same per-sample work is
done with tensor operations (BENCH_NO_TORCHVISION=1 forces that path).

    /usr/bin/python3 bench/pytorch/lab_pipeline.py lenet5 --threads 2
"""
import os

import torch

from common import (DATASETS, make_training, parse_args, report, setup, synthetic_uint8,
                    time_windows, training_step)

HAVE_TORCHVISION = False
if os.environ.get("BENCH_NO_TORCHVISION") != "1":  # set to 1 to time the tensor-ops fallback
    try:
        import torchvision.transforms as transforms
        from PIL import Image
        HAVE_TORCHVISION = True
    except ImportError:
        pass


class SyntheticImages(torch.utils.data.Dataset):
    """datasets.MNIST / datasets.CIFAR10's __getitem__ over in-memory uint8 arrays."""

    def __init__(self, images, labels, channels, augment):
        self.images, self.labels, self.channels = images, labels, channels
        mean_std = ((0.5,) * channels, (0.5,) * channels)
        if HAVE_TORCHVISION:
            steps = [transforms.RandomHorizontalFlip(), transforms.RandomCrop(32, padding=4)] \
                if augment else []
            self.transform = transforms.Compose(
                steps + [transforms.ToTensor(), transforms.Normalize(*mean_std)])
        else:
            self.transform = self._tensor_transform(augment)

    def _tensor_transform(self, augment):
        def transform(array):
            x = torch.from_numpy(array)
            x = (x.unsqueeze(0) if x.dim() == 2 else x.permute(2, 0, 1)).float().div(255)
            if augment:
                if torch.rand(1).item() < 0.5:
                    x = x.flip(-1)
                x = torch.nn.functional.pad(x, (4, 4, 4, 4))
                i, j = torch.randint(0, 9, (2,)).tolist()
                x = x[:, i:i + 32, j:j + 32]
            return (x - 0.5) / 0.5
        return transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        image = self.images[index]
        if HAVE_TORCHVISION:
            image = Image.fromarray(image, mode="L" if self.channels == 1 else None)
        return self.transform(image), int(self.labels[index])


def main():
    args = parse_args("Time the lab's DataLoader pipeline in PyTorch", default_batch=64)
    device = setup(args)
    channels = DATASETS[args.dataset][0]
    images, labels = synthetic_uint8(args.dataset, args.seed)
    dataset = SyntheticImages(images, labels, channels, augment=args.dataset == "cifar10")
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, shuffle=True,
                                         num_workers=0)
    model, optimizer, criterion, autocast = make_training(args, channels, device)
    batches = iter(loader)

    def step():
        nonlocal batches
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(loader)
            x, y = next(batches)
        x, y = x.to(device), y.to(device)
        if args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        training_step(model, optimizer, criterion, x, y, autocast)

    windows = time_windows(step, args, device)
    report("pytorch-lab", args, windows,
           {"transforms": "torchvision" if HAVE_TORCHVISION else "tensor ops"})


if __name__ == "__main__":
    main()
