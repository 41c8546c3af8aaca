"""TFLite models run on LiteRT (a ~60 MB runtime) rather than full TensorFlow (~1 GB).

Some exported models keep TensorFlow ops that TFLite lacks as "Flex" custom ops, which only
TensorFlow's own interpreter can run. ``RandomUniform`` — left in by dropout layers exported
in training mode — has a builtin TFLite twin with the same meaning (uniform floats in [0, 1) of a
given shape, freshly seeded on every run when both seeds are 0, as TensorFlow seeds it), so such
a model is rewritten in memory to use it and then runs without TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from digihuman.errors import EngineUnavailable

_BUILTIN_TWINS = {b"FlexRandomUniform": "RANDOM_UNIFORM"}


def interpreter(path: Path, threads: int, *, default_delegates: bool = True) -> Any:
    """A LiteRT interpreter for the model at ``path``, its Flex random ops swapped for builtin ones.

    ``default_delegates=False`` keeps the XNNPACK delegate off: TensorFlow's interpreter skips it for
    models with dynamic shapes, and XNNPACK's arithmetic rounds some predictions (phone durations of
    a quantised model) differently from the plain kernels.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError as e:
        raise EngineUnavailable("the TFLite runtime (LiteRT)", "pip install --no-deps ai-edge-litert==2.3.0") from e
    content = path.read_bytes()
    if b"Flex" in content:
        content = _without_flex(content)
    extra = {} if default_delegates else {
        "experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    return Interpreter(model_content=content, num_threads=threads, **extra)


def _without_flex(content: bytes) -> bytes:
    """The model with every Flex op that has a builtin twin rewritten to use it."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    swapped = set()
    for index, code in enumerate(model.operatorCodes):
        name = bytes(code.customCode or b"") if not isinstance(code.customCode, str) else code.customCode.encode()
        if name.startswith(b"Flex"):
            if name not in _BUILTIN_TWINS:
                raise EngineUnavailable(f"the TensorFlow op {name.decode()[4:]}",
                                        "this model needs full TensorFlow to run")
            builtin = getattr(schema.BuiltinOperator, _BUILTIN_TWINS[name])
            code.customCode = None
            code.builtinCode = builtin
            # codes above 127 live in builtinCode; the old byte field holds the placeholder
            code.deprecatedBuiltinCode = min(builtin, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
            code.version = 1
            swapped.add(index)
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if op.opcodeIndex in swapped:
                options = schema.RandomOptionsT()
                options.seed = options.seed2 = 0  # fresh randomness per run, as the Flex op had
                op.customOptions = None
                op.builtinOptionsType = schema.BuiltinOptions.RandomOptions
                op.builtinOptions = options
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
