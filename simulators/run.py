"""Run the three marketplace simulators and the Amazon MCF simulator, each on its own port.

    python -m simulators.run [--ozon-port 8101] [--walmart-port 8102] [--wish-port 8103]
                             [--amazon-mcf-port 8104] [--orders 80]

Each marketplace simulator starts with `--orders` generated orders per account it knows;
Amazon MCF starts empty (sellers create its orders) with stock for the demo SKUs.
"""
import argparse
import shlex
import importlib
import logging
import signal
import threading

from simulators.common import SimState, run_in_thread

KINDS = ("ozon", "walmart", "wish", "amazon_mcf")
DEFAULT_PORTS = {"ozon": 8101, "walmart": 8102, "wish": 8103, "amazon_mcf": 8104}
NAMES = {"amazon_mcf": "Amazon MCF demo"}


def build(kind, orders=0, seed=7):
    module = importlib.import_module(f"simulators.{kind}")
    state = SimState(kind=kind, seed=seed)
    app = module.create_app(state)
    if orders:
        with state.lock:
            module.generate(state, orders)
    return app, state


def account_env(ports, rate_limit=20):
    """Shell `export` lines that point one fulfil account per marketplace at the simulators."""
    lines, slugs = [], []
    for kind in KINDS:
        module = importlib.import_module(f"simulators.{kind}")
        slug = f"{kind.replace('_', '-')}-demo"
        prefix = "FULFIL_ACCOUNT_" + slug.upper().replace("-", "_") + "_"
        settings = {"kind": kind, "name": NAMES.get(kind, f"{kind.title()} demo store"),
                    "base_url": f"http://127.0.0.1:{ports[kind]}",
                    # Amazon's usage plan for these calls: 2 requests/s (burst 30).
                    "rate_limit": 2 if kind == "amazon_mcf" else rate_limit,
                    **module.DEFAULT_CREDENTIALS}
        lines += [f"export {prefix}{key.upper()}={shlex.quote(str(value))}" for key, value in settings.items()]
        slugs.append(slug)
    return "\n".join([f"export FULFIL_ACCOUNTS={','.join(slugs)}", *lines])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    for kind in KINDS:
        parser.add_argument(f"--{kind.replace('_', '-')}-port", dest=f"{kind}_port", type=int,
                            default=DEFAULT_PORTS[kind])
    parser.add_argument("--orders", type=int, default=80)
    parser.add_argument("--print-env", action="store_true",
                        help="print the account settings for these ports as shell exports, then exit")
    args = parser.parse_args(argv)
    ports = {kind: getattr(args, f"{kind}_port") for kind in KINDS}
    if args.print_env:
        print(account_env(ports))
        return
    logging.basicConfig(level=logging.WARNING)
    servers = []
    for kind, port in ports.items():
        app, state = build(kind, args.orders)
        servers.append(run_in_thread(app, port))
        print(f"simulator={kind} url=http://127.0.0.1:{port} orders={len(state.orders)}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    for server in servers:
        server.shutdown()


if __name__ == "__main__":
    main()
