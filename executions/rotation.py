"""The executions' sealed SECRET inputs, as `manage.py rotate_credentials_key` re-encrypts them
(`vault.rotation`): sealed with an older credentials key, they are sealed again with the first."""

from executions.engine.inputs import inputs_reseal
from executions.models import Execution
from vault.rotation import SealedKind


def _reseal(execution: Execution) -> None:
    execution.sealed_inputs = inputs_reseal(execution.pk, execution.sealed_inputs)


SEALED_INPUTS = SealedKind(
    label="execution(s) with sealed SECRET inputs",
    rows=lambda: Execution.objects.exclude(sealed_inputs={}).only("id", "flow_name", "sealed_inputs"),
    key_of=lambda execution: execution.sealed_inputs.get("keyId", ""),
    reseal=_reseal,
    fields=("sealed_inputs",),
)
