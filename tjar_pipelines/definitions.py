"""The Dagster code location: the one place that assembles the definitions.

The foundation ships the client and the simulator; the store-partitioned assets, checks,
schedules and sensors are added here as they land.
"""

import dagster as dg

defs = dg.Definitions()
