"""DATABASE_URL parsing that also takes libpq multi-host URLs.

`postgres://user@h1:p1,h2:p2/db?target_session_attrs=prefer-standby` becomes HOST
"h1,h2" and PORT "p1,p2", which psycopg hands to libpq as they are; query parameters
(target_session_attrs, connect_timeout, sslmode...) become connection OPTIONS.
"""

from typing import Any
from urllib.parse import urlsplit

import dj_database_url


def parse_database_url(url: str, **kwargs) -> dict[str, Any]:
    kwargs.setdefault("conn_max_age", 0)
    netloc = urlsplit(url).netloc
    hostlist = netloc.rpartition("@")[2]
    if "," not in hostlist:
        return dict(dj_database_url.parse(url, **kwargs))
    hosts, ports = [], []
    for item in hostlist.split(","):
        host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
        hosts.append(host or "127.0.0.1")
        ports.append(port or "5432")
    single = url.replace(hostlist, f"{hosts[0]}:{ports[0]}", 1)
    config: dict[str, Any] = dict(dj_database_url.parse(single, **kwargs))
    config["HOST"] = ",".join(hosts)
    config["PORT"] = ",".join(ports)
    return config
