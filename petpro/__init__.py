"""PetPro analytics: settings, the ``petpro`` command line and shared helpers.

Importing the package turns off the usage telemetry of dbt, Great Expectations and Dagster
for this process and its children: the system must not talk to the network at run time
other than to the source database.
"""

import os

for _name, _value in {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "DAGSTER_DISABLE_TELEMETRY": "true",
}.items():
    os.environ.setdefault(_name, _value)
