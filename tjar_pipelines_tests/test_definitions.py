"""What a user sees of each definition in the UI: a description, and for assets a group,
kinds and owners."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from tjar_pipelines.definitions import build_definitions
from tjar_pipelines.settings import Settings
from tjar_pipelines.stores import load_registry

EXAMPLE = Path(__file__).resolve().parent.parent / "stores.example.yaml"
GROUPS = {"raw", "analytics"}


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    settings = Settings(stores_file=EXAMPLE, data_dir=tmp_path_factory.mktemp("data"))
    return build_definitions(load_registry(EXAMPLE), settings)


def test_every_asset_has_a_description_group_kinds_and_owners(defs: dg.Definitions) -> None:
    specs = defs.resolve_all_asset_specs()
    assert {s.key.to_user_string() for s in specs} == {
        "orders",
        "order_items",
        "products",
        "daily_sales",
        "product_sales",
    }
    for spec in specs:
        name = spec.key.to_user_string()
        assert (spec.description or "").strip(), f"asset {name} has no description"
        assert spec.group_name in GROUPS, f"asset {name} is in group {spec.group_name}"
        assert spec.kinds, f"asset {name} has no kinds"
        assert spec.owners, f"asset {name} has no owners"
    groups = {s.key.to_user_string(): s.group_name for s in specs}
    assert {a for a, g in groups.items() if g == "raw"} == {"orders", "order_items", "products"}


def test_every_check_schedule_sensor_and_job_has_a_description(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    described = {
        **{
            f"check {key.to_user_string()}": graph.get_check_spec(key).description
            for key in graph.asset_check_keys
        },
        **{f"schedule {s.name}": s.description for s in defs.schedules or []},
        **{f"sensor {s.name}": s.description for s in defs.sensors or []},
        # The implicit __ASSET_JOB is Dagster's, not ours.
        **{
            f"job {j.name}": j.description
            for j in defs.resolve_all_job_defs()
            if not j.name.startswith("__")
        },
    }
    assert len([k for k in described if k.startswith("check ")]) >= 7  # 5 + one per store
    assert {k.split()[0] for k in described} == {"check", "schedule", "sensor", "job"}
    missing = sorted(name for name, text in described.items() if not (text or "").strip())
    assert not missing, f"without a description: {missing}"
