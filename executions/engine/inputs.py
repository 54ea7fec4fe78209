"""Check and convert execution inputs against the flow's declared inputs.

Undeclared inputs pass through unchanged (DIALECTS.md); declared ones are converted to
their type (`flows.definitions.input_types`), defaults fill the gaps, and every problem is
reported at once, each naming its input. Inputs nest at most
MAX_INPUT_DEPTH levels, as flow YAML does: deeper data overflowed the queue's pickling.
"""

import base64
import json
from collections.abc import Iterable
from typing import Any

from core import jsonlimits
from core.errors import BadRequest, ValidationFailed
from flows.definitions import ir
from flows.definitions.input_types import convert
from vault.crypto import decrypt, encrypt
from vault.masking import MASK

#: Levels of lists and objects an execution's inputs (the object itself is level 1) and
#: webhook body may have: the YAML limit (`flows.definitions.loader.DEFAULT_MAX_DEPTH`).
MAX_INPUT_DEPTH = 64
UPLOAD_ONLY = (
    "a FILE input is uploaded as a file, not given as a value: POST /api/v1/flows/{id}/execute "
    "as multipart/form-data (workflowdev) or the console's Run form"
)


def ensure_shallow(value: Any, *, field: str, levels: int = MAX_INPUT_DEPTH) -> None:
    """400 when `value` nests deeper than `levels` (measured without recursion)."""
    if jsonlimits.value_depth(value, limit=levels) > levels:
        raise BadRequest(
            f"The {field} may nest at most {levels} levels deep.", details=[{"field": field, "reason": "too_deep"}]
        )


def coerce_inputs(flow: ir.CompiledFlow, given: Any) -> dict[str, Any]:
    ensure_shallow(given, field="inputs")
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValidationFailed(
            "Inputs must be a JSON object.", details=[{"field": "inputs", "reason": "not an object"}]
        )
    result = dict(given)
    problems: list[dict[str, str]] = []
    for declared in flow.inputs:
        if _file_not_given(declared, given.get(declared.id)):
            result.pop(declared.id, None)
        if declared.id not in result or result[declared.id] is None:
            if declared.has_default:
                result[declared.id] = declared.default
            elif declared.required:
                problems.append({"field": f"inputs.{declared.id}", "reason": "required"})
            continue
        try:
            result[declared.id] = convert(declared, given[declared.id])
        except (ValueError, TypeError) as exc:
            problems.append({"field": f"inputs.{declared.id}", "reason": f"{exc} ({declared.type})"})
    if problems:
        raise ValidationFailed("The inputs do not match the flow's declared inputs.", details=problems)
    return result


def _file_not_given(declared: ir.FlowInput, value: Any) -> bool:
    """An empty value of a FILE input: a browser form with no file chosen sends an empty part
    (`filename=""`), which Django reads as the text field "". It counts as not given."""
    return declared.type == ir.InputType.FILE and value == ""


def file_inputs_check(flow: ir.CompiledFlow, given: Any, files: Iterable[str]) -> None:
    """422 unless a caller's FILE inputs come as uploaded files, and only those do.

    `files` names the inputs a file was uploaded for. A value given for a FILE input is
    refused: the caller could name a file that is not its own (another execution's), and
    the execution this start creates has no files before it, so no value can be its own.
    """
    files = list(files)
    if files and not isinstance(given, dict | None):
        raise ValidationFailed("Inputs must be an object.", details=[{"field": "inputs", "reason": "not an object"}])
    kinds = {declared.id: declared.type for declared in flow.inputs}
    problems = [
        {"field": f"inputs.{name}", "reason": "not a FILE input of the flow: only FILE inputs take a file"}
        for name in files
        if kinds.get(name) != ir.InputType.FILE
    ]
    if isinstance(given, dict):
        problems += [
            {"field": f"inputs.{declared.id}", "reason": UPLOAD_ONLY}
            for declared in flow.inputs
            if declared.type == ir.InputType.FILE
            and given.get(declared.id) is not None
            and not _file_not_given(declared, given.get(declared.id))
        ]
    if problems:
        raise ValidationFailed("The inputs do not match the flow's declared inputs.", details=problems)


# --- SECRET inputs -------------------------------------------------------------------------
# A SECRET input never lies in the stored inputs in clear: they hold the mask, so every read,
# event and log shows it masked, and its value is sealed with the vault's key (AES-GCM, bound
# to the execution) into `Execution.sealed_inputs`. A render reads it as a secret
# (`templating.SecretInputs`): recorded for masking, usable whole only.


def _aad(execution_id: Any) -> str:
    return f"execution-inputs:{execution_id}"


def inputs_seal(flow: ir.CompiledFlow, inputs: dict[str, Any], *, execution_id: Any) -> tuple[dict, dict]:
    """`(inputs with SECRET ones masked, the sealed values)`; as given when there are none."""
    clear = {
        declared.id: inputs[declared.id]
        for declared in flow.inputs
        if declared.type == ir.InputType.SECRET and inputs.get(declared.id) is not None
    }
    if not clear:
        return inputs, {}
    ciphertext, nonce, key_id = encrypt(json.dumps(clear), aad=_aad(execution_id))
    sealed = {"ciphertext": _b64(ciphertext), "nonce": _b64(nonce), "keyId": key_id}
    return {**inputs, **dict.fromkeys(clear, MASK)}, sealed


def inputs_unseal(execution_id: Any, sealed: dict[str, Any]) -> dict[str, str]:
    """The SECRET inputs of an execution, in clear, by input id ({} when it has none)."""
    if not sealed:
        return {}
    plaintext = decrypt(
        base64.b64decode(sealed["ciphertext"]),
        base64.b64decode(sealed["nonce"]),
        sealed["keyId"],
        aad=_aad(execution_id),
    )
    return json.loads(plaintext)


def inputs_reseal(execution_id: Any, sealed: dict[str, Any]) -> dict[str, Any]:
    """The same SECRET inputs sealed with the current key (a credentials key rotation);
    DecryptionError when the key they were sealed with is gone."""
    ciphertext, nonce, key_id = encrypt(json.dumps(inputs_unseal(execution_id, sealed)), aad=_aad(execution_id))
    return {"ciphertext": _b64(ciphertext), "nonce": _b64(nonce), "keyId": key_id}


def inputs_in_clear(execution_id: Any, inputs: dict[str, Any], sealed: dict[str, Any]) -> dict[str, Any]:
    """An execution's inputs with its SECRET ones unsealed: what a new run of the same inputs
    (a replay) starts with, to be sealed again under its own id."""
    return {**inputs, **inputs_unseal(execution_id, sealed)}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
