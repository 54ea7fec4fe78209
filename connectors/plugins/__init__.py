"""Built-in plugins; importing this package registers them."""

from connectors.plugins import (
    connector,
    control,
    data,
    download,
    execution,
    fileops,
    http,
    jsonquery,
    kv,
    mail,
    notify,
    script,
    sql,
    tabular,
    util,
)

__all__ = [
    "connector",
    "control",
    "data",
    "download",
    "execution",
    "fileops",
    "http",
    "jsonquery",
    "kv",
    "mail",
    "notify",
    "script",
    "sql",
    "tabular",
    "util",
]
