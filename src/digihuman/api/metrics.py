"""Prometheus metrics: HTTP requests from this process; tasks and queue from the shared database."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily

from digihuman.services import Services

log = logging.getLogger(__name__)


class TaskCollector:
    """Reads task counts and durations at scrape time, so every API server reports the whole fleet."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        counts = GaugeMetricFamily("digihuman_tasks", "Tasks by kind and status.", labels=["kind", "status"])
        durations = SummaryMetricFamily(
            "digihuman_task_duration_seconds", "Run time of tasks by kind and status.", labels=["kind", "status"]
        )
        for kind, status, count, seconds in self.services.tasks.stats():
            counts.add_metric([kind, status], count)
            if status in ("succeeded", "failed", "cancelled"):
                durations.add_metric([kind, status], count_value=count, sum_value=seconds)
        yield counts
        yield durations
        depth = GaugeMetricFamily("digihuman_queue_depth", "Messages waiting in the task queue.")
        try:
            depth.add_metric([], self.services.queue.depth())
        except Exception:  # an unreachable queue shows as a missing sample, not a failed scrape
            log.warning("queue depth unavailable", exc_info=True)
        yield depth


class Metrics:
    """The registry of one API server."""

    def __init__(self, services: Services) -> None:
        disable_created_metrics()  # *_created series only double the scrape for no use here
        self.registry = CollectorRegistry()
        self.requests = Counter("digihuman_http_requests", "HTTP requests.", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("digihuman_http_request_seconds", "HTTP request latency.", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.registry.register(TaskCollector(services))
