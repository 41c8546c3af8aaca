"""Prometheus metrics: HTTP requests from this process; tasks and queue from the shared database.

Keys configured by the operator (DIGIHUMAN_API_KEYS) see the whole fleet's tasks; any other key
sees only its own, so one tenant cannot watch another's activity. HTTP series carry no tenant.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric, SummaryMetricFamily

from digihuman.services import Services
from digihuman.tasks.stage_times import BUCKETS, StageTimes

log = logging.getLogger(__name__)
# Owner ids of the keys in DIGIHUMAN_API_KEYS (see keys.KeyStore); stored keys have uuid owners.
OPERATOR_PREFIX = "env-"


class TaskCollector:
    """Reads task counts and durations at scrape time, so every API server reports the whole fleet."""

    def __init__(self, services: Services, owner: str | None = None) -> None:
        self.services, self.owner = services, owner  # owner None: every tenant's tasks

    def collect(self) -> Iterator[Metric]:
        counts = GaugeMetricFamily("digihuman_tasks", "Tasks by kind and status.", labels=["kind", "status"])
        durations = SummaryMetricFamily(
            "digihuman_task_duration_seconds", "Run time of tasks by kind and status.", labels=["kind", "status"]
        )
        for kind, status, count, seconds in self.services.tasks.stats(self.owner):
            counts.add_metric([kind, status], count)
            if status in ("succeeded", "failed", "cancelled"):
                durations.add_metric([kind, status], count_value=count, sum_value=seconds)
        yield counts
        yield durations
        # Per group, so an operator sees which kind of worker to add (render, speech, voice, remix).
        depth = GaugeMetricFamily("digihuman_queue_depth", "Messages waiting in the task queue, by worker group.",
                                  labels=["group"])
        try:
            for group, waiting in self.services.queue.depths().items():
                depth.add_metric([group], waiting)
        except Exception:  # an unreachable queue shows as a missing sample, not a failed scrape
            log.warning("queue depth unavailable", exc_info=True)
        yield depth


class StageCollector:
    """Wall seconds per task stage (histogram) and CPU seconds (summary), from ended tasks' records."""

    def __init__(self, services: Services, owner: str | None = None) -> None:
        self.services, self.owner = services, owner

    def collect(self) -> Iterator[Metric]:
        wall = HistogramMetricFamily("digihuman_task_stage_seconds",
                                     "Wall seconds ended tasks spent per stage.", labels=["kind", "stage"])
        cpu = SummaryMetricFamily("digihuman_task_stage_cpu_seconds",
                                  "CPU seconds ended tasks spent per stage.", labels=["kind", "stage"])
        try:
            histograms = StageTimes(self.services.db).histograms(self.owner)
        except Exception:
            log.warning("stage times unavailable for /metrics", exc_info=True)
            histograms = []
        for h in histograms:
            buckets = [(f"{b:g}", n) for b, n in zip(BUCKETS, h.cumulative)] + [("+Inf", h.count)]
            wall.add_metric([h.kind, h.stage], buckets, h.wall_sum)
            cpu.add_metric([h.kind, h.stage], count_value=h.count, sum_value=h.cpu_sum)
        yield wall
        yield cpu


class Metrics:
    """The registry of one API server."""

    def __init__(self, services: Services) -> None:
        self.services = services
        disable_created_metrics()  # *_created series only double the scrape for no use here
        self.registry = CollectorRegistry()
        self.requests = Counter("digihuman_http_requests", "HTTP requests.", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("digihuman_http_request_seconds", "HTTP request latency.", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

    def exposition(self, owner: str) -> bytes:
        """The scrape for the key of ``owner``: the whole fleet's tasks for an operator key, else its own."""
        tasks = CollectorRegistry()
        scope = None if owner.startswith(OPERATOR_PREFIX) else owner
        tasks.register(TaskCollector(self.services, scope))
        tasks.register(StageCollector(self.services, scope))
        return generate_latest(self.registry) + generate_latest(tasks)
