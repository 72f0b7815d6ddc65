"""The three marketplace simulators, served over real HTTP for the whole test session."""
import importlib
from dataclasses import dataclass

import pytest
import requests

from simulators.common import SimState, run_in_thread
from tests.conftest import free_port


@dataclass
class Sim:
    kind: str
    url: str
    state: SimState
    module: object

    def settings(self, **overrides):
        """Account settings (as config.accounts_from_env builds them) pointing at this simulator."""
        settings = {"kind": self.kind, "name": f"{self.kind} sim", "base_url": self.url,
                    "slug": f"{self.kind}-sim", **self.module.DEFAULT_CREDENTIALS}
        settings.update(overrides)
        return settings

    def admin(self, method, path, **kwargs):
        response = requests.request(method, self.url + "/_sim" + path, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def reset(self):
        self.admin("POST", "/reset")

    def faults(self, **faults):
        return self.admin("POST", "/faults", json=faults)

    def generate(self, count=5, **options):
        return self.admin("POST", "/generate", json={"count": count, **options})["ids"]

    def writes(self, order_id=None):
        params = {"order_id": order_id} if order_id else {}
        return self.admin("GET", "/writes", params=params)["writes"]


@pytest.fixture(scope="session")
def _sim_servers():
    sims, servers = {}, []
    for kind in ("ozon", "walmart", "wish", "amazon_mcf"):
        try:
            module = importlib.import_module(f"simulators.{kind}")
        except ImportError:
            continue
        state = SimState(kind=kind)
        port = free_port()
        servers.append(run_in_thread(module.create_app(state), port))
        sims[kind] = Sim(kind, f"http://127.0.0.1:{port}", state, module)
    yield sims
    for server in servers:
        server.shutdown()


@pytest.fixture
def sims(_sim_servers):
    """All simulators, reset to empty with no faults before each test."""
    for sim in _sim_servers.values():
        sim.reset()
    return _sim_servers


@pytest.fixture
def ozon_sim(sims):
    return sims["ozon"]


@pytest.fixture
def walmart_sim(sims):
    return sims["walmart"]


@pytest.fixture
def wish_sim(sims):
    return sims["wish"]


@pytest.fixture
def mcf_sim(sims):
    return sims["amazon_mcf"]
