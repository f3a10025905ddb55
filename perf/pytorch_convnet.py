#!/usr/bin/env python3
"""The peer measurement for bench_convnet's BM_ConvNetForwardBackward: PyTorch running the square-loss papers'
ConvNet (3x3 "same" convolutions without bias, 32/64/128 channels, batch norm without affine parameters, ReLU,
2x2 max pooling, a linear classifier with 2 outputs) forward and backward from a fixed output gradient on one
batch of 32x32x3 inputs, the input needing no gradient (as normscale's first layer computes none).

Prints one line per run: threads, batch, median ms per pass, samples/s.
  python3 perf/pytorch_convnet.py --threads 1 --batch 128
  python3 perf/pytorch_convnet.py --threads 2 --bf16     # autocast to bf16 products
Run with OMP_WAIT_POLICY=PASSIVE (perf/compare does) so spinning OpenMP threads do not steal the cores.
"""
import argparse
import json
import time

import torch


def make_convnet(channels=(32, 64, 128), outputs=2):
    layers, previous = [], 3
    for c in channels:
        layers += [torch.nn.Conv2d(previous, c, 3, padding=1, bias=False), torch.nn.BatchNorm2d(c, affine=False),
                   torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        previous = c
    side = 32 // 2 ** len(channels)
    return torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(previous * side * side, outputs))


def measure(batch, seconds, bf16):
    torch.manual_seed(1)
    net = make_convnet()
    x = torch.randn(batch, 3, 32, 32)
    g = torch.full((batch, 2), 1e-3)

    def step():
        net.zero_grad(set_to_none=True)
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=bf16):
            y = net(x)
        y.float().backward(g)

    for _ in range(3):  # as bench_convnet: untimed passes first
        step()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], len(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--bf16", action="store_true", help="autocast the products to bf16")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    median, passes = measure(args.batch, args.seconds, args.bf16)
    row = {"peer": "pytorch " + torch.__version__, "threads": args.threads, "batch": args.batch,
           "mode": "bf16" if args.bf16 else "fp32", "passes": passes, "ms": round(median * 1e3, 3),
           "samples_per_second": round(args.batch / median, 1)}
    print(json.dumps(row) if args.json else
          f"pytorch convnet {row['mode']} threads={args.threads} batch={args.batch}: {median * 1e3:.1f} ms, "
          f"{args.batch / median:,.0f} samples/s (median of {passes} passes)", flush=True)


if __name__ == "__main__":
    main()
