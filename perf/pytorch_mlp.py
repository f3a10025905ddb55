#!/usr/bin/env python3
"""The peer measurement: PyTorch training the same MLP (784-800-800-10, ReLU, softmax cross-entropy,
plain SGD) on resident data, one gather of the minibatch per step, as normscale's step does.

Prints one line per batch size: device, threads, batch, steps, seconds, samples/s.
  python3 perf/pytorch_mlp.py --device cpu --threads 1 --batch 128 1024 10000
  python3 perf/pytorch_mlp.py --device cuda --batch 128 1024 60000
  python3 perf/pytorch_mlp.py --device cuda --batch 128 1024 --graph    # the whole step as one CUDA graph
  python3 perf/pytorch_mlp.py --device cuda --batch 128 1024 60000 --bf16  # autocast to bf16 products
CPU runs should set OMP_WAIT_POLICY=PASSIVE (perf/compare does) so spinning OpenMP threads do not
steal the cores.
"""
import argparse
import json
import time

import torch


def make_model(widths):
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def measure(device, batch, examples, seconds, widths, bf16=False, graph=False):
    torch.manual_seed(1)
    x_all = torch.rand(examples, widths[0], device=device)
    y_all = torch.randint(0, widths[-1], (examples,), device=device)
    model = make_model(widths).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    full = batch >= examples

    def body():
        if full:
            x, y = x_all, y_all
        else:
            idx = torch.randint(0, examples, (batch,), device=device)
            x, y = x_all.index_select(0, idx), y_all.index_select(0, idx)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    def step():
        opt.zero_grad(set_to_none=True)
        body()

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if graph:
        # PyTorch's whole-network capture recipe: warm up on a side stream, then capture one step (gradients
        # stay allocated, so the captured backward accumulates into them after a zero in the graph).
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(side)
        captured = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=False)
        with torch.cuda.graph(captured):
            for p_ in model.parameters():
                p_.grad.zero_()
            body()
        step = captured.replay
    for _ in range(5):
        step()
    sync()
    steps, start = 0, time.perf_counter()
    while True:
        for _ in range(10):
            step()
        steps += 10
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    return steps, elapsed


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, nargs="+", default=[128, 1024])
    p.add_argument("--examples", type=int, default=0, help="resident examples (default: max(10000, batch))")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--tf32", action="store_true", help="allow TF32 matrix products on the GPU")
    p.add_argument("--bf16", action="store_true", help="autocast the products to bf16")
    p.add_argument("--graph", action="store_true", help="capture the step as one CUDA graph and replay it")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    widths = [784, 800, 800, 10]
    for batch in args.batch:
        examples = args.examples or max(10000, batch)
        steps, elapsed = measure(args.device, batch, examples, args.seconds, widths, args.bf16, args.graph)
        rate = steps * min(batch, examples) / elapsed
        mode = "graph" if args.graph else "bf16" if args.bf16 else "tf32" if args.tf32 else "fp32"
        row = {"peer": "pytorch " + torch.__version__, "device": args.device, "threads": args.threads,
               "batch": batch, "mode": mode, "steps": steps, "seconds": round(elapsed, 3), "samples_per_second": round(rate, 1)}
        print(json.dumps(row) if args.json else
              f"pytorch {args.device} {mode} threads={args.threads} batch={batch}: {rate:,.0f} samples/s "
              f"({steps} steps in {elapsed:.2f} s)", flush=True)


if __name__ == "__main__":
    main()
