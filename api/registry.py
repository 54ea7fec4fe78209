"""The five dialects by name."""

from api.activeworkflow.dialect import DIALECT as ACTIVEWORKFLOW
from api.connector_proxy.dialect import DIALECT as CONNECTOR
from api.dialect import Dialect
from api.flowrunner.dialect import DIALECT as FLOWRUNNER
from api.workflowdev.dialect import DIALECT as WORKFLOWDEV
from api.workflowsvc.dialect import DIALECT as WORKFLOWSVC

DIALECTS: dict[str, Dialect] = {d.name: d for d in (FLOWRUNNER, WORKFLOWDEV, WORKFLOWSVC, ACTIVEWORKFLOW, CONNECTOR)}
