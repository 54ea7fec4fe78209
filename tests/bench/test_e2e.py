"""The client side of the end-to-end benchmark: how a light run's figures are made."""

import asyncio
from types import SimpleNamespace

from bench.e2e import Plan, light


class FakeTarget:
    name = "fake"
    light_executions = 2

    def __init__(self, times: list[float]) -> None:
        self.times, self.cpu = iter(times), 0.0
        self.service = SimpleNamespace(cpu_seconds=lambda: self.cpu)

    async def light(self) -> dict[str, float]:
        self.cpu += 0.05  # 50 ms of CPU for its two executions
        return {"terminal_s": next(self.times), "webhook_s": 0.1}


def test_a_light_run_is_the_median_of_its_repeats_and_cpu_is_per_execution():
    figures = asyncio.run(light(FakeTarget([0.3, 0.1, 0.9, 0.2, 0.15]), repeats=5))
    assert figures["terminal_s"] == 0.2 and figures["webhook_s"] == 0.1
    assert round(figures["cpu_ms_per_execution"], 6) == 25.0


def test_repeats_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("BENCH_LIGHT_REPEATS", "7")
    assert Plan.from_env().light_repeats == 7
    monkeypatch.delenv("BENCH_LIGHT_REPEATS")
    assert Plan.from_env().light_repeats == 5
