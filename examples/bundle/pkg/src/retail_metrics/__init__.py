"""The wheel the example bundle builds and its python_wheel_task calls."""

import argparse


def summarize() -> None:
    parser = argparse.ArgumentParser(prog="summarize")
    parser.add_argument("--total", type=float, required=True)
    parser.add_argument("--rows", type=int, required=True)
    args = parser.parse_args()
    print(f"{args.rows} products, {args.total:.2f} revenue, {args.total / args.rows:.2f} each")
